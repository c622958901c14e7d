"""PII detection: the issue-12 cases (finding 9) before and after, and findings on real text.

1. Cases: numbers written with spaces, dots or zero-width characters, one digit at a time, and
   reference numbers / barcodes that pass an ID checksum (伝票番号 0000-0000-0000, JAN
   4901234567894). Valid IDs and cards are generated with their check digits (seeded). Each case is
   run through the current `thaija.guard.pii` and through the version of a given git revision
   (--before, default ccb7fe2: main before this work), loaded from `git show`.
2. False positives: `find_pii` over every text of the dev data (NTREX-128 and FLORES-200 dev
   sentences th/ja/en, iapp-wiki-qa and JSQuAD paragraphs from ../shared/data when present, else
   the tests/data slices); every finding is listed so it can be checked by hand; throughput in
   characters per second.

Writes benchmarks/results/pii_precision.json.

    .venv/bin/python benchmarks/pii_precision.py
"""
from __future__ import annotations

from _provenance import stamp  # noqa: E402 (benchmarks/ is on sys.path when run as a script)
import argparse
import json
import random
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
ZW = "\u200b"


def load_module_at(rev: str) -> types.ModuleType:
    src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/thaija/guard/pii.py"], capture_output=True,
                         text=True, check=True).stdout
    mod = types.ModuleType(f"pii_{rev}")
    sys.modules[mod.__name__] = mod  # dataclasses look their module up
    exec(compile(src, f"pii@{rev}", "exec"), mod.__dict__)
    return mod


def cases(seed: int) -> list[tuple[str, str, list[str]]]:
    """(name, text, expected finding types)."""
    from thaija.guard.pii import luhn_valid, my_number_check_digit, thai_id_check_digit

    rng = random.Random(seed)

    def digits(n: int) -> str:
        return "".join(str(rng.randint(0, 9)) for _ in range(n))

    def thai_id() -> str:
        body = str(rng.randint(1, 8)) + digits(11)
        return body + str(thai_id_check_digit(body))

    def my_number() -> str:
        body = digits(11)
        return body + str(my_number_check_digit(body))

    def card() -> str:
        body = "5" + str(rng.randint(1, 5)) + digits(13)
        return next(body + c for c in "0123456789" if luhn_valid(body + c))

    def th_groups(n: str, sep: str) -> str:
        return sep.join((n[0], n[1:5], n[5:10], n[10:12], n[12]))

    def groups(n: str, size: int, sep: str) -> str:
        return sep.join(n[i:i + size] for i in range(0, len(n), size))

    out: list[tuple[str, str, list[str]]] = []
    for k in range(5):  # five generated numbers per form
        t, m, c = thai_id(), my_number(), card()
        out += [
            ("thai id, spaces", f"เลขผู้สมัคร {th_groups(t, ' ')} ค่ะ", ["th_national_id"]),
            ("thai id, one digit at a time", f"เลขผู้สมัคร {' '.join(t)} ค่ะ", ["th_national_id"]),
            ("thai id, dots", f"เลขผู้สมัคร {th_groups(t, '.')} ค่ะ", ["th_national_id"]),
            ("thai id, zero-width space inside", f"เลขผู้สมัคร {t[:6]}{ZW}{t[6:]} ค่ะ", ["th_national_id"]),
            ("my number, one digit at a time", f"番号は {' '.join(m)} です", ["jp_my_number"]),
            ("my number, dots", f"番号は {groups(m, 4, '.')} です", ["jp_my_number"]),
            ("card, one digit at a time", f"card {' '.join(c)} ok", ["payment_card"]),
            ("card, dots", f"card {groups(c, 4, '.')} ok", ["payment_card"]),
            ("phone, one digit at a time", "โทร 0 8 1 2 3 4 5 6 7 8 นะคะ", ["phone"]),
            ("phone, zero-width space inside", f"โทร 081-234{ZW}-5678 นะคะ", ["phone"]),
            ("伝票番号 (a valid My Number)", f"伝票番号 {groups(m, 4, '-')} の荷物", []),
            ("注文番号 (a valid My Number)", f"注文番号：{m}", []),
            ("マイナンバー label", f"マイナンバー：{groups(m, 4, '-')}", ["jp_my_number"]),
        ]
    out += [
        ("伝票番号 0000-0000-0000", "伝票番号 0000-0000-0000 の荷物", []),
        ("JAN barcode 4901234567894", "JAN 4901234567894", []),
        ("JAN barcode in Japanese text", "この商品 4901234567894 は在庫あり", []),
        ("JAN number labelled as a Thai ID", "เลขประจำตัวประชาชน 4901234567894", ["th_national_id"]),
        ("counted list", "ขั้นตอน 1 2 3 4 5 6 7 8 9", []),
    ]
    return out


def dev_texts() -> tuple[dict[str, list[str]], str]:
    def lines(p: Path) -> list[str]:
        return [x for x in p.read_text(encoding="utf-8").split("\n") if x.strip()]

    def corpus(p: Path) -> list[str]:
        return [json.loads(x)["text"] for x in p.read_text(encoding="utf-8").split("\n") if x.strip()]

    if SHARED.exists():
        out = {f"ntrex/{n}": lines(SHARED / "ntrex" / f"{n}.txt") for n in ("tha", "jpn", "eng")}
        out.update({f"flores/{n}": lines(SHARED / "flores" / "dev" / f"{n}.txt") for n in ("tha", "jpn", "eng")})
        out["iapp_wiki_qa"] = corpus(SHARED / "iapp_wiki_qa" / "valid" / "corpus.jsonl")
        out["jsquad"] = corpus(SHARED / "jsquad" / "valid" / "corpus.jsonl")
        return out, "../shared/data"
    data = ROOT / "tests" / "data"
    return {p.stem: lines(p) for p in sorted(data.glob("*.txt"))}, "tests/data"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="ccb7fe2", help="git revision whose pii.py is the 'before' figure")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "pii_precision.json"))
    args = ap.parse_args()
    from thaija.guard import pii as now

    before = load_module_at(args.before)
    rows = []
    for name, text, want in cases(args.seed):
        got_now = [f.type for f in now.find_pii(text)]
        got_before = [f.type for f in before.find_pii(text)]
        rows.append({"case": name, "expected": want, "now": got_now, "before": got_before})
    by_case: dict[str, dict] = {}
    for r in rows:
        s = by_case.setdefault(r["case"], {"n": 0, "correct_now": 0, "correct_before": 0})
        s["n"] += 1
        s["correct_now"] += r["now"] == r["expected"]
        s["correct_before"] += r["before"] == r["expected"]
    res: dict = {"before_revision": args.before, "cases": by_case,
                 "totals": {"cases": len(rows), "correct_now": sum(r["now"] == r["expected"] for r in rows),
                            "correct_before": sum(r["before"] == r["expected"] for r in rows)}}
    texts, src = dev_texts()
    findings, chars, t = [], 0, time.perf_counter()
    for set_name, items in texts.items():
        for i, text in enumerate(items):
            chars += len(text)
            for f in now.find_pii(text):
                findings.append({"set": set_name, "index": i, "type": f.type, "text": f.text})
    secs = time.perf_counter() - t
    res["dev_data"] = {"source": src, "texts": sum(map(len, texts.values())), "characters": chars,
                       "findings": len(findings), "chars_per_s": round(chars / secs), "listed": findings}
    for k, v in by_case.items():
        print(f"{k:40s} now {v['correct_now']}/{v['n']}  before {v['correct_before']}/{v['n']}")
    print(f"total: now {res['totals']['correct_now']}/{len(rows)}, before {res['totals']['correct_before']}/{len(rows)}")
    print(f"dev data ({src}): {res['dev_data']['texts']} texts, {chars:,} chars, {len(findings)} findings, "
          f"{res['dev_data']['chars_per_s']:,} chars/s")
    for f in findings:
        print(f"  {f['set']}[{f['index']}] {f['type']}: {f['text']}")
    out = Path(args.out)
    out.write_text(json.dumps(stamp(res), ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
