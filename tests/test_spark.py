"""The same dbt project on Spark: it builds unchanged and decides what DuckDB decides.

One test, because one run costs minutes: generate a small data set, build it on
DuckDB and on a local Spark session, and compare every model row by row
(journey_atc/spark_check.py), identity, profiles, decisions and guardrail
decisions included. Select it with
``pytest -m spark -n 0``; it needs Java 17 and the ``spark`` extra.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from journey_atc.dbt import PROJECT_DIR
from journey_atc.spark_check import KEY_MODELS

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_spark_builds_the_project_and_decides_exactly_what_duckdb_decides(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "journey_atc.spark_check", "--people", "300", "--all", "--work-dir", str(tmp_path)],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=40 * 60,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    table = {
        line.split()[0]: line.split()
        for line in proc.stdout.splitlines()
        if line.split() and line.split()[0] in KEY_MODELS
    }
    assert sorted(table) == sorted(KEY_MODELS), proc.stdout
    for model, (_, rows_duckdb, rows_spark, equal) in table.items():
        assert equal == "yes", f"{model}: {proc.stdout}"
        assert rows_duckdb == rows_spark, f"{model}: {proc.stdout}"
    # A comparison of empty tables proves nothing: the data set must produce decisions.
    assert int(table["guardrail_decisions"][1].replace(",", "")) > 0
    assert int(table["journey_assignments"][1].replace(",", "")) > 0
