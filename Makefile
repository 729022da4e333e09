# journey-atc: the two commands.
#   make run    create the environment, generate sample data, load, build, summarise
#   make test   create the environment, run every test (pytest, dbt, sqlfluff, ruff)
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

CHROMIUM ?= /usr/bin/chromium
JAVA ?= /usr/bin/java
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

PEOPLE ?= 10000
SEED ?= 7

.PHONY: run test test-spark test-spark-env env lint bench ui clean

run: $(VENV)/.installed
	atc demo --people $(PEOPLE) --seed $(SEED)

# The Spark check (tests/test_spark.py, about 15 minutes on 2 cores) runs on its
# own after the rest, so its JVM does not compete with the other tests.
test: $(VENV)/.installed $(CHROMIUM) test-spark-env
	pytest -m "not spark"
	pytest -m spark -n 0

# The same project built on a local Spark and compared with DuckDB
# (docs/spark.md): needs the spark extra and a Java 17 runtime.
test-spark: test-spark-env
	pytest -m spark -n 0

test-spark-env: $(VENV)/.installed-spark $(JAVA)

# Headless Chromium for the UI test and the asset-graph screenshot (Debian's package).
$(CHROMIUM):
	$(SUDO) apt-get install -y -q chromium || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium)

# Java 17 for the local Spark session (Debian's package).
$(JAVA):
	$(SUDO) apt-get install -y -q openjdk-17-jre-headless || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q openjdk-17-jre-headless)

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] >= (3, 11), "journey-atc needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-spark: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

lint: $(VENV)/.installed
	ruff check . && ruff format --check . && sqlfluff lint dbt_project/models dbt_project/data-tests

# The Dagster UI on http://127.0.0.1:3000 (docs/operations.md).
ui: $(VENV)/.installed
	mkdir -p .dagster && cp orchestration/dagster.yaml .dagster/
	DAGSTER_HOME=$(abspath .dagster) dagster dev -w workspace.yaml

bench: $(VENV)/.installed
	python bench/bench_foundation.py

clean:
	rm -rf target logs warehouse data
