"""Lint is part of the test suite: ruff for Python, sqlfluff (dbt templater) for SQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from journey_atc.dbt import PROJECT_DIR

BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)


def test_python_code_passes_ruff_lint():
    proc = _run(str(BIN / "ruff"), "check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_python_code_is_ruff_formatted():
    proc = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sql_models_and_data_tests_pass_sqlfluff(tmp_path):
    # The dbt templater compiles every model; point it at a scratch warehouse.
    env = {**os.environ, "ATC_DUCKDB_PATH": str(tmp_path / "lint.duckdb")}
    proc = subprocess.run(
        [str(BIN / "sqlfluff"), "lint", "dbt_project/models", "dbt_project/data-tests"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-4000:]
