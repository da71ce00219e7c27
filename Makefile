# Everything runs from a project-local virtualenv that these targets create themselves,
# so a fresh clone with only Python 3 and make needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MELTANO_VENV  ?= .venv-meltano
MELTANO_STAMP := $(MELTANO_VENV)/.installed
MELTANO_VERSION ?= 4.4.1

.PHONY: test lint demo demo-clean bench clean

$(STAMP): pyproject.toml hatch_build.py tap_activities/native_lines.cpp
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# meltano lives in its own virtualenv: its pins must not decide the tap's.
$(MELTANO_STAMP):
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install --quiet 'meltano==$(MELTANO_VERSION)'
	touch $(MELTANO_STAMP)

test: $(STAMP) $(MELTANO_STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP) $(MELTANO_STAMP)
	$(BIN)/python demo/run_demo.py

demo-clean:
	rm -rf demo-output
	-$(MELTANO_VENV)/bin/meltano --environment=local state clear --force local:tap-activities-to-target-duckdb

# Throughput and peak RSS of the tap against the local upstream, next to a stock SDK tap
# and the raw orjson floor (several minutes). BENCH_ARGS="--records 10000 --skip-stock"
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .meltano .pytest_cache .ruff_cache demo-output
