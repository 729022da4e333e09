"""Benchmark the syncs against the channel sandbox's raw capacity.

    python bench/bench_sync.py --db bench/out/foundation-100000/warehouse.duckdb
    python bench/bench_sync.py --db WAREHOUSE --sync braze_users --sync segment_journey_audiences
    python bench/bench_sync.py --synthetic 135000 --label after
    python bench/bench_sync.py --synthetic 135000 --repeat 6 --sync braze_users

The warehouse must hold the built sync models (a `dbt build`, e.g. the one
bench/bench_foundation.py leaves behind); it is copied, never changed.
``--synthetic N`` needs no build: it makes a warehouse whose sync models hold
N generated rows each, with exactly the columns the dbt sync models declare
(read from dbt_project/models/activation: the yml's columns and types, and the
column mapping of each model's final select).

For each sync of syncs.yml:
1. a sandbox server starts in its own process, empty, with the vendors' rate
   limits as documented (activation/sandbox/faults.py);
2. `run_sync` sends every row of the sync model (all of them are changes on a
   first run); every HTTP request it makes is recorded on the way out;
3. a fresh sandbox starts and a minimal client (http.client, one keep-alive
   connection, no JSON work, 429 answered by waiting Retry-After) replays the
   very same requests in the same order: the channel's raw capacity for that
   traffic, with the same payloads, batch sizes and rate limits;
4. the table shows records per second for both and their ratio.

``--repeat N`` measures every sync N times, each round on a fresh copy of the same
warehouse (so every round is a first sync again), and prints the median of the N runs
with their range: single runs of a few seconds move by a quarter between runs, even
with nothing else on the machine, more than most changes gain.

The webhook sends one request per record at its default 10 requests a second: with
``--synthetic`` its model holds ``WEBHOOK_ROWS`` rows (60 s of sending) unless
``--rows-for webhook_journey_assignments=N`` says otherwise; ``--rows-for`` does the
same for any sync.

Not a test: timings belong here, not in the unit tests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from activation.engine import load_config, run_sync  # noqa: E402
from activation.http import HttpClient  # noqa: E402
from activation.protocol import stage_split  # noqa: E402
from bench.bench_foundation import PeakMemory, copy_warehouse, machine  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# A webhook receiver documents no rate; the sandbox takes what the webhook destination sends by
# default (10 requests a second), so the raw replay of its traffic is paced like the sync.
SANDBOX_FAULTS = {"vendors": {"webhook": {"rate_limit": {"requests_per_second": 10, "burst": 10}}}}


class Sandbox:
    """`atc sandbox` in its own process, so the server does not share the client's interpreter."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self._faults: tempfile._TemporaryFileWrapper | None = None

    def __enter__(self) -> Sandbox:
        atc = Path(sys.executable).parent / "atc"
        self._faults = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="atc-bench-faults-")  # noqa: SIM115
        self._faults.write(json.dumps(SANDBOX_FAULTS))
        self._faults.flush()
        self.proc = subprocess.Popen(
            [str(atc), "sandbox", "--port", str(self.port), "--log-level", "warning", "--faults", self._faults.name],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/_sandbox/state", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        self.__exit__()
        raise SystemExit("the sandbox did not start within 30 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if self._faults is not None:
            self._faults.close()


class Recorder:
    """Records every request the sync's HTTP client sent and was not throttled for (method, path, headers,
    body), in the order the answers came back (from any thread)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, bytes | None]] = []
        self._original = HttpClient._attempt

    def __enter__(self) -> Recorder:
        recorder = self

        def attempt(client, method, url, path, data, headers, **options):
            parts = urlsplit(url)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            try:
                response = recorder._original(client, method, url, path, data, headers, **options)
            except Exception as exc:
                # An answer other than 429 was an answer (a throttled request is sent again by the client:
                # the one that got through is recorded); a dropped connection was not.
                if getattr(exc, "status", None) not in (None, 429):
                    recorder.requests.append((method, target, dict(headers), data))
                raise
            recorder.requests.append((method, target, dict(headers), data))
            return response

        HttpClient._attempt = attempt
        return self

    def __exit__(self, *exc) -> None:
        HttpClient._attempt = self._original


# One request per record at 10 requests a second: 600 records are a minute of sending.
WEBHOOK_ROWS = 600
MODELS_DIR = ROOT / "dbt_project" / "models" / "activation"
_TYPES = {"string": "varchar", "timestamp": "timestamp", "boolean": "boolean", "date": "date"}
_SELECT_ITEM = re.compile(r"^\s*([a-z_][a-z0-9_]*)(?:\s+as\s+([a-z_][a-z0-9_]*))?\s*,?\s*$")
JOURNEYS = ("welcome", "abandoned_cart", "win_back", "pre_show", "vip_loyalty", "browse_abandonment")

# int_sync__assignments' columns as generated values; i is the row number (0-based).
_BASE = {
    "person_id": "'per_' || lpad(cast(i as varchar), 8, '0')",
    "user_id": "'u' || cast(i as varchar)",
    "email": "'person' || cast(i as varchar) || '@example.com'",
    "phone_e164": "case when i % 3 = 0 then '+1555' || lpad(cast(i % 10000000 as varchar), 7, '0') end",
    "locale": "case i % 4 when 0 then 'en-US' when 1 then 'en-GB' when 2 then 'fr-FR' else 'de-DE' end",
    "timezone": "case i % 3 when 0 then 'America/New_York' when 1 then 'Europe/London' else 'Europe/Paris' end",
    "journey_id": "journeys[1 + i % {n}]",
    "journey_name": "'Journey ' || replace(journeys[1 + i % {n}], '_', ' ')",
    "channel": "case when i % 6 = 0 then 'sms' else 'email' end",
    "decision": "case when i % 3 = 0 then 'defer' else 'send' end",
    "reason_code": "case when i % 3 = 0 then 'quiet_hours' else 'ok' end",
    "send_key": "case when i % 3 != 0 then md5('send' || cast(i as varchar)) end",
    "entered_at": "timestamp '2026-10-01 08:00:00' + to_seconds(i % 2592000)",
    "expected_end_at": "timestamp '2026-10-15 08:00:00' + to_seconds(i % 2592000)",
    "next_eligible_at": "timestamp '2026-10-02 09:00:00' + to_seconds(i % 2592000)",
    "context_key": "'cart_' || cast(i as varchar)",
    "context": (
        "cast(json_object('cart_id', 'cart_' || cast(i as varchar), 'item_count', 1 + i % 3,"
        " 'cart_value', round(10 + (i % 5000) / 7.0, 2), 'currency', 'USD',"
        " 'items', list_transform(range(1 + i % 3),"
        " lambda x: json_object('sku', 'sku_' || cast((i + x) % 9973 as varchar),"
        " 'name', 'Item ' || cast((i + x) % 9973 as varchar), 'price', round(5 + ((i + x) % 300) / 3.0, 2))))"
        " as varchar)"
    ),
}


def _declared_columns() -> dict[str, list[tuple[str, str]]]:
    """model -> [(column, duckdb type)] from the activation models' yml."""
    import yaml

    spec = yaml.safe_load((MODELS_DIR / "_activation__models.yml").read_text())
    return {m["name"]: [(c["name"], _TYPES[c["data_type"]]) for c in m.get("columns", [])] for m in spec["models"]}


def _final_select(model: str) -> dict[str, str]:
    """output column -> int_sync__assignments column, from the model's final select."""
    sql = (MODELS_DIR / f"{model}.sql").read_text()
    body = sql.split("final as (", 1)[1].split("from assignments", 1)[0]
    mapping = {}
    for line in body.splitlines()[1:]:
        if not line.strip() or line.strip() == "select":
            continue
        match = _SELECT_ITEM.match(line)
        if not match:
            raise SystemExit(f"{model}.sql: cannot read the select item {line.strip()!r}; update bench_sync.py")
        source, alias = match.groups()
        mapping[alias or source] = source
    return mapping


def make_synthetic_warehouse(
    db: Path, rows: int, models: list[str], rows_by_model: dict[str, int] | None = None
) -> None:
    """A warehouse whose sync models hold ``rows`` generated rows each (``rows_by_model`` for fewer)."""
    import duckdb

    declared = _declared_columns()
    base_columns = dict(declared["int_sync__assignments"])
    missing = set(base_columns) - set(_BASE)
    if missing:
        raise SystemExit(f"int_sync__assignments has columns the generator does not know: {sorted(missing)}")
    journeys = "[" + ", ".join(f"'{j}'" for j in JOURNEYS) + "]"
    with duckdb.connect(str(db)) as con:
        selects = ",\n".join(f"cast({_BASE[c].format(n=len(JOURNEYS))} as {t}) as {c}" for c, t in base_columns.items())
        con.execute(
            f"create table main.int_sync__assignments as "
            f"select {selects} from (select range as i, {journeys} as journeys from range({int(rows)}))"
        )
        for model in models:
            mapping = _final_select(model)
            columns = declared[model]
            if [c for c, _ in columns] != list(mapping):
                raise SystemExit(f"{model}: the yml columns {columns} differ from the model's select {list(mapping)}")
            body = ", ".join(f"cast({mapping[c]} as {t}) as {c}" for c, t in columns)
            limit = f" limit {int(rows_by_model[model])}" if model in (rows_by_model or {}) else ""
            con.execute(f"create table main.{model} as select {body} from main.int_sync__assignments{limit}")


def replay(port: int, recorded: list[tuple[str, str, dict, bytes | None]]) -> tuple[float, int, int]:
    """Send the recorded requests as fast as the sandbox allows; (seconds, 429s waited, non-2xx)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    throttled = failed = 0
    started = time.perf_counter()
    for method, path, headers, body in recorded:
        while True:
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                # The server closes an idle keep-alive connection (a long Retry-After): reconnect.
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            if response.status != 429:
                break
            throttled += 1
            time.sleep(float(response.getheader("Retry-After") or 1))
        if response.status >= 300:
            failed += 1
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, throttled, failed


def _cpu_seconds() -> float:
    """User and system CPU time of this process so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _git_head() -> str | None:
    """The engine's commit, with ``-dirty`` when the working tree has uncommitted changes."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7", "--exclude=*"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def _median_range(runs: list[dict], key: str) -> dict:
    """The median of ``key`` over the runs that have it, with its min and max (None without any)."""
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": round(statistics.median(values), 3), "min": min(values), "max": max(values)}


def summarize(rows: list[dict]) -> list[dict]:
    """Per sync, in the order first measured: the median of its runs and their range."""
    by_sync: dict[str, list[dict]] = {}
    for row in rows:
        by_sync.setdefault(row["sync"], []).append(row)
    summary = []
    for name, runs in by_sync.items():
        stages = [r.get("sync_stage_seconds") or {} for r in runs]
        summary.append(
            {
                "sync": name,
                "runs": len(runs),
                "records": runs[0]["records"],
                "requests": runs[0]["requests"],
                "sync_seconds": _median_range(runs, "sync_seconds"),
                "sync_stage_seconds": {
                    stage: round(statistics.median(s[stage] for s in stages), 2)
                    for stage in stages[0]
                    if all(stage in s for s in stages)
                },
                "sync_cpu_seconds": _median_range(runs, "sync_cpu_seconds"),
                "raw_seconds": _median_range(runs, "raw_seconds"),
                "ratio": _median_range(runs, "ratio"),
                "statuses": sorted({r["sync_status"] for r in runs}),
            }
        )
    return summary


def _write(out: Path, args: argparse.Namespace, rows: list[dict]) -> None:
    """The measurement so far (written after every sync, so a stopped run keeps what it measured)."""
    measurement = {
        "warehouse": f"synthetic, {args.synthetic} rows per sync model" if args.synthetic else str(args.db),
        "people": args.people,
        "rows_per_sync": args.synthetic,
        "engine_commit": _git_head(),
        "machine": machine(),
        "syncs": rows,
        "repeat": args.repeat,
        **({"summary": summarize(rows)} if args.repeat > 1 else {}),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }
    if args.label:
        previous = json.loads(out.read_text()) if out.exists() else {}
        runs = previous.get("runs", {}) if isinstance(previous, dict) else {}
        runs[args.label] = measurement
        document = {"runs": runs}
    else:
        document = measurement
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")


def _measure(name: str, db: Path) -> dict:
    """One sync into a fresh sandbox, then its recorded requests replayed into another."""
    load_before = os.getloadavg()
    with Sandbox() as sandbox:
        os.environ["ATC_SANDBOX_PORT"] = str(sandbox.port)
        with Recorder() as recorder, PeakMemory(children=False) as memory:
            cpu_before = _cpu_seconds()
            result = run_sync(name, db)
            cpu_seconds = _cpu_seconds() - cpu_before
        if result.status == "failed":
            raise SystemExit(f"sync {name} failed: {result.error}")
    load_during = os.getloadavg()
    records = result.acknowledged
    with Sandbox() as fresh:
        raw_seconds, throttled, failed = replay(fresh.port, recorder.requests)
    return {
        "sync": name,
        "destination": result.destination,
        "records": records,
        "requests": len(recorder.requests),
        "sync_seconds": round(result.seconds, 2),
        # where the sync's seconds went: the diff, the sending (with its group commits), the finish
        # (none from an engine older than SyncRunResult.stage_seconds, for before/after runs)
        "sync_stage_seconds": {k: round(v, 2) for k, v in getattr(result, "stage_seconds", {}).items()},
        # this process only (the sandbox runs in its own): the engine's threads and DuckDB's
        "sync_cpu_seconds": round(cpu_seconds, 2),
        "sync_records_per_second": round(records / result.seconds) if result.seconds else None,
        "raw_seconds": round(raw_seconds, 2),
        "raw_records_per_second": round(records / raw_seconds) if raw_seconds else None,
        "ratio": round(raw_seconds / result.seconds, 3) if result.seconds else None,
        "raw_throttled_429": throttled,
        "raw_non_2xx": failed,
        "sync_status": result.status,
        "sync_retries": result.retries,
        "sync_peak_rss_gib": round(memory.peak / 2**30, 3),
        "load_average_1m_before": round(load_before[0], 2),
        "load_average_1m_after_sync": round(load_during[0], 2),
    }


def _spread(values: dict, fmt: str) -> str:
    """A median and its range: ``3.45 (3.37-3.84)``, ``52% (48-56%)``."""
    if values["median"] is None:
        return "-"
    median, low, high = (fmt.format(values[k]) for k in ("median", "min", "max"))
    if low == high:
        return median
    unit = "%" if fmt.endswith("%}") else ""
    return f"{median} ({low.removesuffix(unit)}-{high})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--db", type=Path, help="a built warehouse holding the sync models")
    source.add_argument("--synthetic", type=int, metavar="N", help="generate sync models of N rows each instead")
    ap.add_argument("--sync", action="append", help="sync name from syncs.yml (default: all)")
    ap.add_argument(
        "--rows-for",
        action="append",
        default=[],
        metavar="SYNC=N",
        help=f"with --synthetic: N rows for this sync's model (default webhook_journey_assignments={WEBHOOK_ROWS})",
    )
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="N",
        help="measure every sync N times, each round on a fresh copy of the warehouse; report medians and ranges",
    )
    ap.add_argument("--people", type=int, help="only for the report: the data set's size")
    ap.add_argument("--label", help="name of this measurement (e.g. before / after); kept beside the others")
    ap.add_argument("--out", type=Path, help="result file (default bench/results/sync-<people or N>.json)")
    args = ap.parse_args()
    if args.repeat < 1:
        raise SystemExit(f"--repeat {args.repeat}: give 1 or more")
    if args.db is not None and not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: run bench/bench_foundation.py first, or name a warehouse")

    syncs = load_config()
    names = args.sync or list(syncs)
    unknown = sorted(set(names) - set(syncs))
    if unknown:
        raise SystemExit(f"unknown sync(s) {unknown}; syncs.yml has {sorted(syncs)}")

    size = args.people or args.synthetic or "custom"
    out = args.out or ROOT / "bench" / "results" / f"sync-{size}.json"
    rows = []
    with tempfile.TemporaryDirectory(prefix="atc-bench-sync-") as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        if args.synthetic:
            rows_for = {"webhook_journey_assignments": WEBHOOK_ROWS}
            for item in args.rows_for:
                sync_name, _, count = item.partition("=")
                if sync_name not in syncs or not count.isdigit():
                    raise SystemExit(f"--rows-for {item!r}: expected SYNC=N with a sync of syncs.yml")
                rows_for[sync_name] = int(count)
            rows_by_model = {syncs[n].model: min(args.synthetic, c) for n, c in rows_for.items() if n in names}
            print(f"generating {args.synthetic:,} rows per sync model ({rows_by_model or 'all of them'}) ...")
            pristine = Path(tmp) / "pristine.duckdb"
            make_synthetic_warehouse(pristine, args.synthetic, sorted({syncs[n].model for n in names}), rows_by_model)
        else:
            pristine = args.db
        for round_number in range(1, args.repeat + 1):
            # every round starts from the same warehouse: each sync is a first sync again
            if args.db is not None:
                print(f"copying {args.db} ...")
            copy_warehouse(pristine, db)
            for name in names:
                row = _measure(name, db)
                row["round"] = round_number
                rows.append(row)
                _write(out, args, rows)
                of = f" (round {round_number} of {args.repeat})" if args.repeat > 1 else ""
                print(
                    f"  {name}{of}: {row['records']:,} records in {row['sync_seconds']:,.2f} s;"
                    f" raw replay {row['raw_seconds']:,.2f} s; ratio {row['ratio']};"
                    f" load {row['load_average_1m_before']:.2f} -> {row['load_average_1m_after_sync']:.2f}"
                )

    print()
    if args.repeat == 1:
        print(
            "| sync | records | requests | sync (s) | diff / sending / finishing (s) | sync rec/s"
            " | raw client (s) | raw rec/s | sync / raw |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            stages = stage_split(r["sync_stage_seconds"]) or "-"
            print(
                f"| {r['sync']} | {r['records']:,} | {r['requests']:,} | {r['sync_seconds']:,.1f} | {stages}"
                f" | {r['sync_records_per_second'] or 0:,} | {r['raw_seconds']:,.1f}"
                f" | {r['raw_records_per_second'] or 0:,} | {r['ratio']:.0%} |"
            )
    else:
        print(f"median of {args.repeat} runs each, range in brackets")
        print(
            "| sync | records | requests | sync (s) | diff / sending / finishing (s) | sync CPU (s)"
            " | raw client (s) | sync / raw |"
        )
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in summarize(rows):
            stages = stage_split(r["sync_stage_seconds"]) or "-"
            print(
                f"| {r['sync']} | {r['records']:,} | {r['requests']:,} | {_spread(r['sync_seconds'], '{:,.2f}')}"
                f" | {stages} | {_spread(r['sync_cpu_seconds'], '{:,.2f}')}"
                f" | {_spread(r['raw_seconds'], '{:,.2f}')} | {_spread(r['ratio'], '{:.0%}')} |"
            )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
