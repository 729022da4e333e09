"""Run dbt against the project in this repository, on a chosen DuckDB file.

The CLI, the tests and the benchmark all go through :func:`run_dbt`, so every
caller gets the same profile, project directory and isolated target/log paths.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


class DbtError(RuntimeError):
    """dbt exited non-zero; the message carries the tail of its output."""


def dbt_executable() -> str:
    """The dbt next to this interpreter (the project's venv), else the one on PATH."""
    local = Path(sys.executable).parent / "dbt"
    if local.exists():
        return str(local)
    found = shutil.which("dbt")
    if not found:
        raise DbtError("the dbt executable is not installed; run `make run` or `pip install -e .`")
    return found


def run_dbt(
    args: Sequence[str],
    db_path: str | Path | None = None,
    dbt_vars: dict | None = None,
    work_dir: str | Path | None = None,
    stream: bool = False,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``dbt <args>`` on this project.

    db_path: the DuckDB file (ATC_DUCKDB_PATH); default is the profile's.
    work_dir: where dbt writes target/ and logs/ (isolates parallel runs).
    stream: echo dbt's output live instead of capturing it.
    """
    run_env = {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR), **(env or {})}
    run_env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    # A test that reads several models runs only when all of them are selected,
    # so `build --select <layer>` never tests a model it did not build.
    run_env.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    if db_path is not None:
        run_env["ATC_DUCKDB_PATH"] = str(Path(db_path).resolve())
    cmd = [dbt_executable(), *args, "--project-dir", str(PROJECT_DIR)]
    if work_dir is not None:
        work = Path(work_dir).resolve()
        cmd += ["--target-path", str(work / "target")]
        run_env["DBT_LOG_PATH"] = str(work / "logs")
    if dbt_vars:
        cmd += ["--vars", json.dumps(dbt_vars, default=str)]
    if stream:
        proc = subprocess.run(cmd, cwd=PROJECT_DIR, env=run_env, text=True)
    else:
        proc = subprocess.run(cmd, cwd=PROJECT_DIR, env=run_env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        tail = "\n".join(((proc.stdout or "") + (proc.stderr or "")).splitlines()[-60:])
        raise DbtError(f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return proc
