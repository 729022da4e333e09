"""The benchmark scripts still run against the current engine (their figures
are not checked here: timings belong in bench/, not in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_the_sync_benchmark_records_and_replays_a_sync(tmp_path):
    out = tmp_path / "sync.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_sync.py"), "--synthetic", "500", "--sync", "braze_users",
         "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (row,) = json.loads(out.read_text())["syncs"]
    assert (row["sync"], row["sync_status"], row["records"]) == ("braze_users", "ok", 500)
    # every request the sync sent was recorded and replayed, and the channel took them all
    assert row["requests"] >= 500 / 75
    assert row["raw_non_2xx"] == 0
    assert row["ratio"] > 0
    assert set(row["sync_stage_seconds"]) == {"diff", "sending", "finishing"}
    assert "diff / sending / finishing" in proc.stdout
