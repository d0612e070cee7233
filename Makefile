# The front door. Every target sets up what it needs (idempotently) and runs offline.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.riposte-installed
NODE_STAMP := node_modules/.riposte-installed

# Offline, quiet CDK: no version check, no telemetry, no Node end-of-life banner from jsii.
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,19,20,21
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: help setup test lint synth demo bench mutate clean

help:
	@echo "make demo    set up, synthesize with cdk-nag, run the pipeline on a local AWS and show what happened"
	@echo "make test    set up, then lint, type-check and run the whole test suite"
	@echo "make synth   synthesize the stacks (cdk-nag must pass) into cdk.out/"
	@echo "make lint    ruff (lint + format check) and mypy"
	@echo "make bench   measure the pipeline's and the flow-log handler's throughput and memory"
	@echo "make mutate  mutation-test the safety core (mutmut; minutes, not part of make test) and print the score"
	@echo "make setup   create .venv and node_modules (done automatically by the targets above)"

setup: $(STAMP) $(NODE_STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' || { echo "Node >= 18 is required"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: setup lint
	$(VENV)/bin/pytest -n 2 --dist loadgroup

synth: setup
	npx cdk synth --quiet

demo: setup synth
	$(PY) demo/run_demo.py

bench: $(STAMP)
	$(PY) bench/bench_pipeline.py
	PYTHONPATH=lambdas:. $(PY) bench/bench_flowlogs.py

# Mutation testing of the safety core (configured in pyproject.toml [tool.mutmut]): fresh mutants each run, then
# the score per module, overall and behavioural (equivalent mutants listed in tests/mutants_equivalent.txt).
MUTATE_JOBS ?= 2
mutate: $(STAMP)
	@test -L src || ln -s lambdas src
	rm -rf mutants && mkdir mutants
	@echo "mutmut run: progress in mutants/run.log"
	@$(VENV)/bin/mutmut run --max-children $(MUTATE_JOBS) > mutants/run.log 2>&1 || { tail -n 30 mutants/run.log; exit 1; }
	$(PY) tests/mutants_score.py

clean:
	rm -rf cdk.out .demo .pytest_cache .mypy_cache .ruff_cache
