"""Benchmark the foundation: generate, load and build at a chosen size.

    python bench/bench_foundation.py --people 1000000
    python bench/bench_foundation.py --people 1000000 --data-dir DATA --raw-db RAW.duckdb

With --data-dir an already generated data set is used instead of generating
one; with --raw-db a warehouse file that already holds the loaded raw tables
is copied instead of loading (phases skipped this way are not reported).

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
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def remove_warehouse(path: Path) -> None:
    """Delete a DuckDB warehouse file and its write-ahead log (``<file>.wal``), if there."""
    path = Path(path)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)


def copy_warehouse(source: Path, target: Path) -> Path:
    """Copy a DuckDB warehouse file with its write-ahead log, and only with its own.

    Writes DuckDB has not checkpointed yet live in ``<file>.wal`` beside the file: a copy
    without it lacks them, and a log left beside the target from an earlier copy would be
    replayed onto a file it does not belong to.
    """
    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_warehouse(target)
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))
    return target


def machine() -> dict:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "system": platform.platform(),
    }


class PeakMemory:
    """Samples, every 0.1 s, the RSS of a process (default: this one) and, with
    children, of all its descendants; `peak` holds the highest sum seen."""

    def __init__(self, pid: int | None = None, children: bool = True) -> None:
        self.pid = pid
        self.children = children
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        try:
            parent = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                procs = [parent, *(parent.children(recursive=True) if self.children else [])]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(name: str, cmd: list[str], env: dict) -> dict:
    """Run cmd, sampling the RSS of its whole process tree; return seconds and peak bytes."""
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with PeakMemory(proc.pid) as memory:
        output = proc.stdout.read() if proc.stdout else ""
        proc.wait()
    peak = memory.peak
    seconds = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    load_after = os.getloadavg()[0]
    if proc.returncode != 0:
        print(output[-6000:])
        raise SystemExit(f"{name} failed with exit code {proc.returncode}")
    print(
        f"  {name}: {seconds:,.1f} s wall, {cpu_seconds:,.1f} s CPU, peak {peak / 2**30:,.2f} GiB"
        f" (load average {load_before:.1f} -> {load_after:.1f})"
    )
    return {
        "phase": name,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "peak_rss_gib": round(peak / 2**30, 3),
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
    }


def layer_timings(run_results: Path, manifest: Path) -> dict:
    """Per-layer sums of dbt's per-node execution times, and the slowest nodes."""
    results = json.loads(run_results.read_text())["results"]
    nodes = json.loads(manifest.read_text())["nodes"]
    layers: dict[str, dict] = {}
    slowest = []
    for r in results:
        node = nodes.get(r["unique_id"], {})
        kind = node.get("resource_type", r["unique_id"].split(".")[0])
        path = node.get("original_file_path", "")
        parts = Path(path).parts
        if kind == "seed" or (parts and parts[0] == "seeds"):
            layer = "seeds"
        elif len(parts) > 2 and parts[0] == "dbt_project":
            layer = parts[2] if parts[1] in ("models", "data-tests") and len(parts) > 3 else parts[1]
        else:
            layer = "other"
        group = "tests" if kind in ("test", "unit_test") else "models"
        entry = layers.setdefault(layer, {"models": 0.0, "tests": 0.0, "model_count": 0, "test_count": 0})
        entry[group] += r["execution_time"]
        entry["model_count" if group == "models" else "test_count"] += 1
        slowest.append({"node": r["unique_id"], "seconds": round(r["execution_time"], 2)})
    slowest.sort(key=lambda x: -x["seconds"])
    for entry in layers.values():
        entry["models"] = round(entry["models"], 1)
        entry["tests"] = round(entry["tests"], 1)
    return {"layers": layers, "slowest": slowest[:20]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--keep-data", action="store_true", help="reuse generated data if present")
    ap.add_argument("--data-dir", type=Path, help="an already generated data set to use")
    ap.add_argument("--raw-db", type=Path, help="a warehouse with the raw tables already loaded, copied")
    ap.add_argument(
        "--memory-limit",
        help="DuckDB memory_limit for the build (e.g. 6GB), added to a copy of profiles.yml; without it"
        " DuckDB may take 80%% of the machine's memory, which a shared machine may not have free",
    )
    args = ap.parse_args()

    work = args.work_dir / f"foundation-{args.people}"
    data_dir = args.data_dir or work / "data"
    db = work / "warehouse.duckdb"
    work.mkdir(parents=True, exist_ok=True)
    remove_warehouse(db)
    profiles_dir = ROOT
    if args.memory_limit:
        profiles_dir = work / "profiles"
        profiles_dir.mkdir(exist_ok=True)
        text = (ROOT / "profiles.yml").read_text()
        marker = "      settings:\n"
        if marker not in text:
            raise SystemExit("profiles.yml has no duckdb settings: block to add memory_limit to")
        text = text.replace(marker, f"{marker}        memory_limit: '{args.memory_limit}'\n", 1)
        (profiles_dir / "profiles.yml").write_text(text)
        print(f"  DuckDB memory_limit {args.memory_limit} (profiles in {profiles_dir})")
    env = {
        **os.environ,
        "ATC_DUCKDB_PATH": str(db),
        "DBT_PROFILES_DIR": str(profiles_dir),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_TARGET_PATH": str(work / "target"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    atc = str(BIN / "atc")
    dbt = str(BIN / "dbt")
    vars_ = json.dumps({"atc__as_of": "2026-11-01 00:00:00"})
    print(f"Benchmark at {args.people:,} people in {work}")
    phases = []
    if not (args.data_dir or args.raw_db or (args.keep_data and (data_dir / "_generated.json").exists())):
        phases.append(run_measured("generate", [atc, "generate", str(data_dir), "--people", str(args.people)], env))
    if args.raw_db:
        copy_warehouse(Path(args.raw_db), db)
        # a warehouse loaded by an older version may lack tables added since (idempotent)
        from journey_atc.raw_schema import create_raw_tables_sql

        with duckdb.connect(str(db)) as con:
            for stmt in create_raw_tables_sql():
                con.execute(stmt)
        print(f"  load: skipped, copied {args.raw_db}")
    else:
        phases.append(run_measured("load", [atc, "load", str(data_dir), "--db", str(db)], env))
    phases.append(run_measured("dbt seed", [dbt, "seed", "--project-dir", str(ROOT), "--vars", vars_], env))
    phases.append(run_measured("dbt build", [dbt, "build", "--project-dir", str(ROOT), "--vars", vars_], env))

    con = duckdb.connect(str(db), read_only=True)
    events = con.execute("select count(*) from raw.events").fetchone()[0]
    people_found = con.execute("select count(*) from main.profiles").fetchone()[0]
    con.close()
    for p in phases:
        p["rows_per_second"] = round(events / p["seconds"]) if p["phase"] != "dbt seed" else None
    layers = layer_timings(work / "target" / "run_results.json", work / "target" / "manifest.json")

    result = {
        "people_generated": args.people,
        "raw_events": events,
        "people_found": people_found,
        "machine": machine(),
        "duckdb_memory_limit": args.memory_limit,
        "phases": phases,
        "dbt_build_by_layer": layers["layers"],
        "dbt_build_slowest_nodes": layers["slowest"],
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    out = ROOT / "bench" / "results" / f"foundation-{args.people}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print()
    print(f"| phase | wall time | CPU time | peak memory | raw events per second |  ({events:,} raw events)")
    print("| --- | ---: | ---: | ---: | ---: |")
    for p in phases:
        rps = f"{p['rows_per_second']:,}" if p["rows_per_second"] else "-"
        print(
            f"| {p['phase']} | {p['seconds']:,.1f} s | {p['cpu_seconds']:,.1f} s"
            f" | {p['peak_rss_gib']:,.2f} GiB | {rps} |"
        )
    print("\n| dbt build layer | models (s) | tests (s) | models | tests |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, entry in sorted(layers["layers"].items(), key=lambda kv: -(kv[1]["models"] + kv[1]["tests"])):
        print(
            f"| {name} | {entry['models']:,.1f} | {entry['tests']:,.1f}"
            f" | {entry['model_count']} | {entry['test_count']} |"
        )
    print("\nslowest nodes (dbt execution time, threads run two at a time):")
    for n in layers["slowest"][:12]:
        print(f"  {n['seconds']:8.1f} s  {n['node']}")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
