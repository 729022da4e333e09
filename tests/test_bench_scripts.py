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
    # one run: one round, no summary of medians
    assert (json.loads(out.read_text())["repeat"], row["round"]) == (1, 1)
    assert "summary" not in json.loads(out.read_text())
    assert "median of" not in proc.stdout


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


def test_the_sync_benchmark_summary_takes_medians_and_ranges_and_skips_what_a_run_lacks():
    sys.path.insert(0, str(ROOT))
    from bench.bench_sync import _spread, summarize

    def run(seconds, ratio, stages=None, cpu=1.0):
        return {
            "sync": "braze_users",
            "records": 10,
            "requests": 2,
            "sync_seconds": seconds,
            "sync_stage_seconds": stages or {},
            "sync_cpu_seconds": cpu,
            "raw_seconds": 1.0,
            "ratio": ratio,
            "sync_status": "ok",
        }

    stages = {"diff": 0.1, "sending": 1.0, "finishing": 0.2}
    runs = [run(3.0, 0.5, stages), run(5.0, None, stages), run(4.0, 0.3, stages), run(9.0, 0.4, stages)]
    summary, other = summarize([runs[0], {**run(2.0, 0.9), "sync": "segment_journey_audiences"}, *runs[1:]])
    assert (other["sync"], other["runs"], other["sync_seconds"]["median"]) == ("segment_journey_audiences", 1, 2.0)
    assert (summary["sync"], summary["runs"]) == ("braze_users", 4)  # in the order first measured
    # a median, not a mean: of 3, 4, 5 and 9 s it is 4.5 s (the mean would be 5.25)
    assert summary["sync_seconds"] == {"median": 4.5, "min": 3.0, "max": 9.0}
    assert summary["ratio"] == {"median": 0.4, "min": 0.3, "max": 0.5}  # the run without a ratio is left out
    assert summary["sync_stage_seconds"] == stages
    # a run from an engine without stage seconds: no stage median rather than a wrong one
    (older,) = summarize([run(3.0, 0.5, stages), run(4.0, 0.5)])
    assert older["sync_stage_seconds"] == {}
    assert _spread({"median": 0.518, "min": 0.476, "max": 0.555}, "{:.0%}") == "52% (48-56%)"
    assert _spread({"median": 4.28, "min": 4.11, "max": 4.84}, "{:,.2f}") == "4.28 (4.11-4.84)"
    assert _spread({"median": 0.5, "min": 0.501, "max": 0.499}, "{:.0%}") == "50%"
    assert _spread({"median": None, "min": None, "max": None}, "{:.0%}") == "-"


def _warehouse_with_unflushed_log(path: Path, value: int) -> None:
    """A DuckDB file whose last write is only in its write-ahead log."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("create table t (x integer)")
    con.execute("checkpoint")
    con.execute("set checkpoint_threshold = '1GB'")
    con.execute("pragma disable_checkpoint_on_shutdown")
    con.execute(f"insert into t values ({value})")
    con.close()


def test_a_warehouse_is_copied_with_its_own_log_and_not_with_a_stale_one(tmp_path):
    import duckdb

    sys.path.insert(0, str(ROOT))
    from bench.bench_foundation import copy_warehouse

    source = tmp_path / "source.duckdb"
    _warehouse_with_unflushed_log(source, 7)
    assert (tmp_path / "source.duckdb.wal").exists()
    # beside the target: a file and a log of another warehouse, from an earlier copy
    target = tmp_path / "copy" / "warehouse.duckdb"
    target.parent.mkdir()
    _warehouse_with_unflushed_log(target, 99)
    assert target.with_name("warehouse.duckdb.wal").exists()

    assert copy_warehouse(source, target) == target
    with duckdb.connect(str(target), read_only=True) as con:
        assert con.execute("select list(x) from t").fetchone()[0] == [7]
    # a warehouse with no log leaves none beside its copy
    (tmp_path / "source.duckdb.wal").unlink()
    with duckdb.connect(str(source)) as con:
        con.execute("insert into t values (8)")
        con.execute("checkpoint")
    copy_warehouse(source, target)
    assert not target.with_name("warehouse.duckdb.wal").exists()
    with duckdb.connect(str(target), read_only=True) as con:
        assert sorted(con.execute("select list(x) from t").fetchone()[0]) == [8]
