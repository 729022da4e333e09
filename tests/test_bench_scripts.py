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


def test_the_sync_benchmark_repeats_each_sync_from_the_same_warehouse_and_reports_medians(tmp_path):
    out = tmp_path / "sync.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_sync.py"), "--synthetic", "300", "--sync", "braze_users",
         "--repeat", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    document = json.loads(out.read_text())
    runs = document["syncs"]
    # every round starts from the same warehouse, so both send all 300 records (a first sync each time)
    assert [(r["round"], r["records"], r["sync_status"]) for r in runs] == [(1, 300, "ok"), (2, 300, "ok")]
    (summary,) = document["summary"]
    assert (summary["sync"], summary["runs"], summary["records"]) == ("braze_users", 2, 300)
    ratios = sorted(r["ratio"] for r in runs)
    assert summary["ratio"] == {"median": round((ratios[0] + ratios[1]) / 2, 3), "min": ratios[0], "max": ratios[1]}
    assert "median of 2 runs each" in proc.stdout
    assert "braze_users (round 2 of 2)" in proc.stdout


def test_the_sync_benchmark_refuses_a_repeat_below_one():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_sync.py"), "--synthetic", "10", "--repeat", "0"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "--repeat 0: give 1 or more" in proc.stderr
