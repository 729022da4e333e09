"""Benchmark journey-atc at scale, with side-by-side baselines, in one run.

    python bench/bench_scale.py --people 100000
    python bench/bench_scale.py --people 1000000 --data-dir DATA --raw-db RAW.duckdb

Phases, on the same machine, one after another:
1. foundation    generate, load, `dbt seed`, `dbt build` (bench/bench_foundation.py);
2. dbt overhead  `dbt run` (models only) on a fresh copy of the raw warehouse, then the
                 very statements that run sent to DuckDB (read back from dbt's debug
                 log) replayed in order on another fresh copy by one plain DuckDB
                 connection; the marts of both copies are compared row for row;
3. incremental   on a copy of the built warehouse (its history stamped as loaded a
                 day earlier, as in steady state), the events received in the
                 last five minutes before as_of land again as new messages (new
                 message ids, `_loaded_at` five minutes later), and `dbt build`
                 runs at as_of + 5 minutes: the incremental path
                 (docs/incremental.md), timed as a whole and per layer; so are
                 `dbt run` and the dbt build of the Dagster micro_batch job (all
                 but the seeds and the hourly profiles layer), each on its own copy;
4. identity      networkx connected components on the same nodes and edges the
                 label propagation used (over-linked identifiers left out), timed
                 and compared with int_identity__components partition for partition;
5. sync          every sync of syncs.yml into the sandbox against a minimal client
                 replaying the same requests (bench/bench_sync.py).

Each phase reports wall time, CPU time, peak memory and rows per second; the
script prints them as tables with the targets beside them and writes
bench/results/scale-<people>.json. Not a test: timings belong here.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_foundation import (  # noqa: E402
    BIN,
    copy_warehouse,
    layer_timings,
    machine,
    remove_warehouse,
    run_measured,
)

AS_OF = json.dumps({"atc__as_of": "2026-11-01 00:00:00"})
MARTS = ("identity_person_map", "profiles", "journey_assignments", "guardrail_decisions")
TARGETS = {
    "full build": "under 5 min at 1,000,000 people",
    "incremental (5 min of events)": "under 20 s",
    "peak memory": "under 8 GB",
    "sync vs raw capacity": "at least 70%",
}
LOG_LINE = re.compile(r"^\x1b\[0m\d\d:\d\d:\d\d\.\d+ \[(\w+)\s*\] \[[^\]]*\]: (.*)$")
STATEMENT = re.compile(r"^On (model\.[\w.]+): (.*)$", re.S)
SKIP = re.compile(r"^\s*(begin|commit|rollback|close)\s*$", re.I)


# -- dbt overhead ---------------------------------------------------------------------


def model_statements(log: Path) -> list[tuple[str, str]]:
    """(node, sql) for every statement dbt sent on a model's connection, in log order."""
    records: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        if LOG_LINE.match(line):
            records.append(line)
        elif records:
            records[-1] += "\n" + line
    out = []
    for record in records:
        level, message = LOG_LINE.match(record.split("\n", 1)[0]).groups()
        message = record.split("]: ", 1)[1]
        if level != "debug":
            continue
        m = STATEMENT.match(message)
        if not m:
            continue
        node, sql = m.groups()
        if SKIP.match(sql):
            continue
        out.append((node, sql))
    return out


def replay_statements(log: Path, db: Path) -> None:
    """Run the statements of a dbt run's log, in order, on one DuckDB connection."""
    statements = model_statements(log)
    if not statements:
        raise SystemExit(f"no model statements in {log}: was dbt's file log level debug?")
    con = duckdb.connect(str(db))
    started = time.perf_counter()
    for i, (node, sql) in enumerate(statements, 1):
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            raise SystemExit(f"statement {i} of {len(statements)} ({node}) failed: {exc}") from None
    con.close()
    print(
        f"{len(statements)} statements from {len({n for n, _ in statements})} models in "
        f"{time.perf_counter() - started:.1f} s"
    )


def compare_marts(a: Path, b: Path) -> dict[str, dict]:
    """Rows of each mart in a and b, and rows in one but not the other (both ways)."""
    con = duckdb.connect()
    con.execute(f"attach '{a}' as a (read_only)")
    con.execute(f"attach '{b}' as b (read_only)")
    out = {}
    for mart in MARTS:
        rows_a = con.execute(f"select count(*) from a.main.{mart}").fetchone()[0]
        rows_b = con.execute(f"select count(*) from b.main.{mart}").fetchone()[0]
        diff = con.execute(
            f"select (select count(*) from (select * from a.main.{mart} except all select * from b.main.{mart}))"
            f" + (select count(*) from (select * from b.main.{mart} except all select * from a.main.{mart}))"
        ).fetchone()[0]
        out[mart] = {"rows": rows_a, "rows_other": rows_b, "rows_different": diff}
    con.close()
    return out


def fresh_copy(raw_db: Path, where: Path) -> Path:
    """A copy of the raw warehouse under the same file name (so compiled names still resolve)."""
    return copy_warehouse(raw_db, where / "warehouse.duckdb")


def dbt_env(db: Path, work: Path, profiles_dir: Path) -> dict:
    return {
        **os.environ,
        "ATC_DUCKDB_PATH": str(db),
        "DBT_PROFILES_DIR": str(profiles_dir),
        "DBT_LOG_PATH": str(work / "logs"),
        "DBT_TARGET_PATH": str(work / "target"),
        "DBT_LOG_LEVEL_FILE": "debug",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }


def dbt_overhead(raw_db: Path, work: Path, profiles_dir: Path, events: int) -> dict:
    dbt = str(BIN / "dbt")
    runs = {}
    dbs = {}
    for name in ("dbt", "direct"):
        where = work / name
        shutil.rmtree(where / "logs", ignore_errors=True)  # the replay reads this run's log only
        dbs[name] = fresh_copy(raw_db, where)
        env = dbt_env(dbs[name], where, profiles_dir)
        subprocess.run([dbt, "seed", "--project-dir", str(ROOT), "--vars", AS_OF, "--quiet"], env=env, check=True)
        if name == "dbt":
            runs[name] = run_measured(
                "dbt run (models only)", [dbt, "run", "--project-dir", str(ROOT), "--vars", AS_OF], env
            )
        else:
            runs[name] = run_measured(
                "same SQL, plain DuckDB",
                [sys.executable, __file__, "--replay", str(work / "dbt" / "logs" / "dbt.log"), "--db", str(dbs[name])],
                env,
            )
    for r in runs.values():
        r["rows_per_second"] = round(events / r["seconds"])
    return {
        "dbt_run": runs["dbt"],
        "direct": runs["direct"],
        "overhead_seconds": round(runs["dbt"]["seconds"] - runs["direct"]["seconds"], 1),
        "marts_compared": compare_marts(dbs["dbt"], dbs["direct"]),
    }


# -- incremental ----------------------------------------------------------------------


# raw table -> (its checked staging model, when a row happened, its id column)
RAW_FEEDS = {
    "events": ("stg_segment__events_checked", "received_at", "message_id"),
    "message_events": ("stg_channels__message_events_checked", "timestamp", "event_id"),
    "consents": ("stg_consents__consents_checked", "recorded_at", "consent_id"),
}


def land_new_events(db: Path, as_of: str, minutes: int = 5) -> dict[str, int]:
    """Copy the rows of every raw feed from the last `minutes` before as_of as new rows landing now.

    Events, message events and consents alike: each copy gets a new id, so it
    is a new message, delivery event or consent record. Steady state first:
    the benchmark loaded all history in one go minutes ago, so every row would
    lie inside the incremental lookback (atc__incremental_lookback_hours). In
    production the bulk was loaded long ago and the newest rows come from the
    previous micro-batch. So the history is stamped as loaded a day earlier,
    except the rows of the five minutes before the new ones, stamped as the
    previous batch (raw tables and staged tables alike; outside the measured
    time). Returns the new rows of each feed.
    """
    landed = {}
    with duckdb.connect(str(db)) as con:
        for table, (staged, happened, id_column) in RAW_FEEDS.items():
            loaded = con.execute(f"select max(_loaded_at) from raw.{table}").fetchone()[0]
            at = f'try_cast("{happened}" as timestamptz)'
            window = (
                f"{at} >= cast('{as_of}' as timestamptz) - interval {2 * minutes} minute"
                f" and {at} < cast('{as_of}' as timestamptz) - interval {minutes} minute"
            )
            con.execute(
                f"create or replace temp table previous_batch as "
                f"select _source_file, _source_line from raw.{table} where {window}"
            )
            for relation in (f"raw.{table}", f"main.{staged}"):
                con.execute(
                    f"update {relation} set _loaded_at = case when (_source_file, _source_line) in "
                    f"(select (_source_file, _source_line) from previous_batch) "
                    f"then cast('{loaded}' as timestamp) else _loaded_at - interval 1 day end"
                )
            con.execute(
                f"""
                create or replace temp table recent as
                select * from raw.{table}
                where {at} >= cast('{as_of}' as timestamptz) - interval {minutes} minute
                  and {at} <= cast('{as_of}' as timestamptz)
                """
            )
            con.execute(
                f"""
                insert into raw.{table} by name
                select * replace (
                    {id_column} || '-again' as {id_column},
                    'bench-incremental' as _source_file,
                    row_number() over () as _source_line,
                    cast('{loaded}' as timestamp) + interval {minutes} minute as _loaded_at
                )
                from recent
                """
            )
            landed[table] = con.execute("select count(*) from recent").fetchone()[0]
        # the history was written long before the new rows: updates merged
        # into storage, with its block statistics, as a loader's appends are
        con.execute("checkpoint")
    return landed


# The dbt part of the Dagster micro_batch job, which runs every five minutes: every
# model and its tests but the seeds and the profiles layer, which the hourly
# profile_refresh job builds, without the unit tests. Keep in step with build_jobs() in
# orchestration/jobs.py and dbt_build_args() in orchestration/assets/dbt.py.
MICRO_BATCH = [
    "--select",
    "fqn:*",
    "--exclude",
    "resource_type:seed",
    "path:dbt_project/models/profiles",
    "--exclude-resource-type",
    "unit_test",
]
INCREMENTAL_COMMANDS = {
    "run": ("dbt run", ["run"]),
    "build": ("dbt build", ["build"]),
    "micro_batch": ("dbt build of the micro_batch job (no profiles layer)", ["build", *MICRO_BATCH]),
}


def incremental_run(warehouse: Path, work: Path, profiles_dir: Path, as_of: str) -> dict:
    """`dbt run`, `dbt build` and the micro_batch job's build after five minutes of new events.

    Each on its own copy of the built warehouse.
    """
    from datetime import datetime, timedelta

    later = (datetime.fromisoformat(as_of) + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    later_vars = json.dumps({"atc__as_of": later})
    dbt = str(BIN / "dbt")
    out: dict = {"as_of": later}
    for command, (label, args) in INCREMENTAL_COMMANDS.items():
        where = work / f"incremental-{command.replace('_', '-')}"
        db = fresh_copy(warehouse, where)
        try:
            landed = land_new_events(db, as_of)
            new_rows = sum(landed.values())
            env = dbt_env(db, where, profiles_dir)
            measured = run_measured(
                f"{label}, {landed['events']:,} new events, {landed['message_events']:,} message events, "
                f"{landed['consents']:,} consents",
                [dbt, *args, "--project-dir", str(ROOT), "--vars", later_vars],
                env,
            )
        finally:
            # each copy is as large as the warehouse: three at once may not fit on the disk
            remove_warehouse(db)
        measured["new_events"] = landed["events"]
        measured["new_rows"] = landed
        measured["rows_per_second"] = round(new_rows / measured["seconds"]) if measured["seconds"] else None
        measured.update(layer_timings(where / "target" / "run_results.json", where / "target" / "manifest.json"))
        out[command] = measured
    return out


# -- identity -------------------------------------------------------------------------


def identity_vs_networkx(db: Path, run_results: Path) -> dict:
    import networkx as nx
    import psutil

    me = psutil.Process()
    rss_before = me.memory_info().rss
    con = duckdb.connect(str(db), read_only=True)
    started = time.perf_counter()
    cpu_started = time.process_time()
    nodes = [
        n
        for (n,) in con.execute(
            "select node from main.int_identity__nodes "
            "where node not in (select node from main.identity_overlinked_identifiers)"
        ).fetchall()
    ]
    edges = con.execute(
        "select node_a, node_b from main.int_identity__edges "
        "where node_a not in (select node from main.identity_overlinked_identifiers) "
        "and node_b not in (select node from main.identity_overlinked_identifiers)"
    ).fetchall()
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    components = list(nx.connected_components(graph))
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak = me.memory_info().rss - rss_before
    del graph

    ours: dict[str, list[str]] = {}
    for node, component in con.execute("select node, component_id from main.int_identity__components").fetchall():
        ours.setdefault(component, []).append(node)
    con.close()
    theirs = {frozenset(c) for c in components}
    same = theirs == {frozenset(c) for c in ours.values()}

    timings = {r["unique_id"]: r["execution_time"] for r in json.loads(run_results.read_text())["results"]}
    components_seconds = timings.get("model.journey_atc.int_identity__components")
    layer = sum(
        t
        for uid, t in timings.items()
        if uid.startswith("model.journey_atc.") and ("identity" in uid or uid.endswith("int_events_stitched"))
    )
    return {
        "nodes": len(nodes),
        "edges": len(edges),
        "components": len(components),
        "networkx_seconds": round(seconds, 2),
        "networkx_cpu_seconds": round(cpu_seconds, 2),
        "networkx_memory_growth_gib": round(peak / 2**30, 3),
        "label_propagation_seconds": round(components_seconds, 2) if components_seconds else None,
        "identity_layer_seconds": round(layer, 2),
        "equal_partitions": same,
    }


# -- the report -----------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--data-dir", type=Path, help="an already generated data set to use")
    ap.add_argument("--raw-db", type=Path, help="a warehouse with the raw tables already loaded")
    ap.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["foundation", "overhead", "incremental", "identity", "sync"],
        help="leave a phase out (its figures are not reported)",
    )
    ap.add_argument("--replay", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay:
        replay_statements(args.replay, args.db)
        return

    py = sys.executable
    foundation_dir = args.work_dir / f"foundation-{args.people}"
    work = args.work_dir / f"scale-{args.people}"
    work.mkdir(parents=True, exist_ok=True)
    result: dict = {"people_generated": args.people, "machine": machine(), "targets": TARGETS}
    print(f"Scale benchmark at {args.people:,} people in {work}")

    if "foundation" not in args.skip:
        cmd = [
            py,
            str(ROOT / "bench" / "bench_foundation.py"),
            "--people",
            str(args.people),
            "--work-dir",
            str(args.work_dir),
            "--keep-data",
        ]
        if args.data_dir:
            cmd += ["--data-dir", str(args.data_dir)]
        if args.raw_db:
            cmd += ["--raw-db", str(args.raw_db)]
        subprocess.run(cmd, cwd=ROOT, check=True)
    foundation_json = ROOT / "bench" / "results" / f"foundation-{args.people}.json"
    if not foundation_json.exists():
        raise SystemExit(f"{foundation_json} is missing: run without --skip foundation first")
    result["foundation"] = json.loads(foundation_json.read_text())
    events = result["foundation"]["raw_events"]
    warehouse = foundation_dir / "warehouse.duckdb"

    raw_db = args.raw_db
    if raw_db is None:
        raw_db = work / "loaded.duckdb"  # not raw.duckdb: a catalog named raw would hide the raw schema
        data_dir = args.data_dir or foundation_dir / "data"
        if not raw_db.exists():
            subprocess.run([str(BIN / "atc"), "load", str(data_dir), "--db", str(raw_db)], cwd=ROOT, check=True)

    if "overhead" not in args.skip:
        print("dbt overhead: dbt run, then the same statements on a plain DuckDB connection")
        result["dbt_overhead"] = dbt_overhead(raw_db, work, ROOT, events)
    if "incremental" not in args.skip:
        print("incremental: five minutes of new events, then dbt run / dbt build / the micro_batch build")
        result["incremental"] = incremental_run(warehouse, work, ROOT, json.loads(AS_OF)["atc__as_of"])
    if "identity" not in args.skip:
        print("identity: networkx on the same graph")
        result["identity"] = identity_vs_networkx(warehouse, foundation_dir / "target" / "run_results.json")
    if "sync" not in args.skip:
        print("sync: every sync into the sandbox, and a minimal client replaying the same requests")
        subprocess.run(
            [py, str(ROOT / "bench" / "bench_sync.py"), "--db", str(warehouse), "--people", str(args.people)],
            cwd=ROOT,
            check=True,
        )
        result["sync"] = json.loads((ROOT / "bench" / "results" / f"sync-{args.people}.json").read_text())["syncs"]
    result["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    out = ROOT / "bench" / "results" / f"scale-{args.people}.json"
    out.write_text(json.dumps(result, indent=2))
    report(result)
    print(f"\nwritten to {out}")


def report(r: dict) -> None:
    f = r["foundation"]
    build = next(p for p in f["phases"] if p["phase"] == "dbt build")
    print(
        f"\n{r['people_generated']:,} people, {f['raw_events']:,} raw events, {f['people_found']:,} people found;"
        f" {r['machine']['cores']} cores, {r['machine']['memory_gb']} GB"
    )
    print("\n| measure | wall | CPU | peak memory | events/s | target |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    print(
        f"| full dbt build | {build['seconds']:,.0f} s | {build['cpu_seconds']:,.0f} s"
        f" | {build['peak_rss_gib']:.2f} GiB | {build['rows_per_second']:,} | {TARGETS['full build']} |"
    )
    if "incremental" in r:
        for key in [k for k in INCREMENTAL_COMMANDS if k in r["incremental"]]:
            p = r["incremental"][key]
            target = TARGETS["incremental (5 min of events)"]
            print(
                f"| incremental {p['phase']} | {p['seconds']:,.0f} s | {p['cpu_seconds']:,.0f} s"
                f" | {p['peak_rss_gib']:.2f} GiB | {p['rows_per_second'] or 0:,} | {target} |"
            )
    else:
        print("| incremental run, 5 min of events | not measured | | | | |")
    if "dbt_overhead" in r:
        o = r["dbt_overhead"]
        for key in ("dbt_run", "direct"):
            p = o[key]
            print(
                f"| {p['phase']} | {p['seconds']:,.0f} s | {p['cpu_seconds']:,.0f} s"
                f" | {p['peak_rss_gib']:.2f} GiB | {p['rows_per_second']:,} | |"
            )
        diffs = {m: v["rows_different"] for m, v in o["marts_compared"].items()}
        print(f"\ndbt's overhead: {o['overhead_seconds']:,.1f} s; marts differing rows: {diffs}")
    if "identity" in r:
        i = r["identity"]
        print(
            f"\nidentity: {i['nodes']:,} nodes, {i['edges']:,} edges, {i['components']:,} components;"
            f" label propagation in SQL {i['label_propagation_seconds']} s"
            f" (identity layer {i['identity_layer_seconds']} s),"
            f" networkx {i['networkx_seconds']} s; same partition: {i['equal_partitions']}"
        )
    if "sync" in r:
        print("\n| sync | records | sync rec/s | raw client rec/s | sync / raw |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for s in r["sync"]:
            print(
                f"| {s['sync']} | {s['records']:,} | {s['sync_records_per_second'] or 0:,}"
                f" | {s['raw_records_per_second'] or 0:,} | {s['ratio']:.0%} |"
            )


if __name__ == "__main__":
    main()
