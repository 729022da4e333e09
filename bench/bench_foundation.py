"""Benchmark the foundation: generate, load and build at a chosen size.

    python bench/bench_foundation.py --people 1000000

Each phase runs as its own process; the script samples the resident memory of
that process tree every 100 ms and reports wall time, peak memory and rows per
second as a table, and writes the figures to bench/results/. It is not a test:
timings belong here, not in the unit tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "system": platform.platform(),
    }


def run_measured(name: str, cmd: list[str], env: dict) -> dict:
    """Run cmd, sampling the RSS of its whole process tree; return seconds and peak bytes."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            parent = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in procs if p.is_running())
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read() if proc.stdout else ""
    proc.wait()
    stop.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        print(output[-6000:])
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    print(f"  {name}: {seconds:,.1f} s, peak {peak / 2**30:,.2f} GiB")
    return {"phase": name, "seconds": round(seconds, 2), "peak_rss_gib": round(peak / 2**30, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--keep-data", action="store_true", help="reuse generated data if present")
    args = ap.parse_args()

    work = args.work_dir / f"foundation-{args.people}"
    data_dir = work / "data"
    db = work / "warehouse.duckdb"
    work.mkdir(parents=True, exist_ok=True)
    if db.exists():
        db.unlink()
    env = {
        **os.environ,
        "ATC_DUCKDB_PATH": str(db),
        "DBT_PROFILES_DIR": str(ROOT),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_TARGET_PATH": str(work / "target"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    atc = str(BIN / "atc")
    dbt = str(BIN / "dbt")
    vars_ = json.dumps({"atc__as_of": "2026-11-01 00:00:00"})
    print(f"Benchmark at {args.people:,} people in {work}")
    phases = []
    if not (args.keep_data and (data_dir / "_generated.json").exists()):
        phases.append(run_measured("generate", [atc, "generate", str(data_dir), "--people", str(args.people)], env))
    phases.append(run_measured("load", [atc, "load", str(data_dir), "--db", str(db)], env))
    phases.append(run_measured("dbt seed", [dbt, "seed", "--project-dir", str(ROOT), "--vars", vars_], env))
    phases.append(run_measured("dbt build", [dbt, "build", "--project-dir", str(ROOT), "--vars", vars_], env))

    con = duckdb.connect(str(db), read_only=True)
    events = con.execute("select count(*) from raw.events").fetchone()[0]
    people_found = con.execute("select count(*) from main.profiles").fetchone()[0]
    con.close()
    for p in phases:
        p["rows_per_second"] = round(events / p["seconds"]) if p["phase"] != "dbt seed" else None

    result = {
        "people_generated": args.people,
        "raw_events": events,
        "people_found": people_found,
        "machine": machine(),
        "phases": phases,
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / f"foundation-{args.people}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print()
    print(f"| phase | wall time | peak memory | raw events per second |  ({events:,} raw events)")
    print("| --- | ---: | ---: | ---: |")
    for p in phases:
        rps = f"{p['rows_per_second']:,}" if p["rows_per_second"] else "-"
        print(f"| {p['phase']} | {p['seconds']:,.1f} s | {p['peak_rss_gib']:,.2f} GiB | {rps} |")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
