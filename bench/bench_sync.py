"""Benchmark the syncs against the channel sandbox's raw capacity.

    python bench/bench_sync.py --db bench/out/foundation-100000/warehouse.duckdb
    python bench/bench_sync.py --db WAREHOUSE --sync braze_users --sync segment_audiences

The warehouse must hold the built sync models (a `dbt build`, e.g. the one
bench/bench_foundation.py leaves behind); it is copied, never changed.

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

Not a test: timings belong here, not in the unit tests.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
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
from bench.bench_foundation import PeakMemory, machine  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sandbox:
    """`atc sandbox` in its own process, so the server does not share the client's interpreter."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Sandbox:
        atc = Path(sys.executable).parent / "atc"
        self.proc = subprocess.Popen(
            [str(atc), "sandbox", "--port", str(self.port), "--log-level", "warning"],
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


class Recorder:
    """Records every request a requests.Session sends (method, path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict, bytes | None]] = []
        self._original = requests.Session.send

    def __enter__(self) -> Recorder:
        recorder = self

        def send(session, request, **kwargs):
            body = request.body.encode() if isinstance(request.body, str) else request.body
            parts = urlsplit(request.url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            recorder.requests.append((request.method, path, dict(request.headers), body))
            return recorder._original(session, request, **kwargs)

        requests.Session.send = send
        return self

    def __exit__(self, *exc) -> None:
        requests.Session.send = self._original


def replay(port: int, recorded: list[tuple[str, str, dict, bytes | None]]) -> tuple[float, int, int]:
    """Send the recorded requests as fast as the sandbox allows; (seconds, 429s waited, non-2xx)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    throttled = failed = 0
    started = time.perf_counter()
    for method, path, headers, body in recorded:
        while True:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 429:
                break
            throttled += 1
            time.sleep(float(response.getheader("Retry-After") or 1))
        if response.status >= 300:
            failed += 1
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, throttled, failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", type=Path, required=True, help="a built warehouse holding the sync models")
    ap.add_argument("--sync", action="append", help="sync name from syncs.yml (default: all)")
    ap.add_argument("--people", type=int, help="only for the report: the data set's size")
    args = ap.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db} does not exist: run bench/bench_foundation.py first, or name a warehouse")

    syncs = load_config()
    names = args.sync or list(syncs)
    unknown = sorted(set(names) - set(syncs))
    if unknown:
        raise SystemExit(f"unknown sync(s) {unknown}; syncs.yml has {sorted(syncs)}")

    rows = []
    with tempfile.TemporaryDirectory(prefix="atc-bench-sync-") as tmp:
        db = Path(tmp) / "warehouse.duckdb"
        print(f"copying {args.db} ...")
        shutil.copyfile(args.db, db)
        for name in names:
            with Sandbox() as sandbox:
                os.environ["ATC_SANDBOX_PORT"] = str(sandbox.port)
                with Recorder() as recorder, PeakMemory(children=False) as memory:
                    result = run_sync(name, db)
                if result.status == "failed":
                    raise SystemExit(f"sync {name} failed: {result.error}")
            records = result.acknowledged
            with Sandbox() as fresh:
                raw_seconds, throttled, failed = replay(fresh.port, recorder.requests)
            row = {
                "sync": name,
                "destination": result.destination,
                "records": records,
                "requests": len(recorder.requests),
                "sync_seconds": round(result.seconds, 2),
                "sync_records_per_second": round(records / result.seconds) if result.seconds else None,
                "raw_seconds": round(raw_seconds, 2),
                "raw_records_per_second": round(records / raw_seconds) if raw_seconds else None,
                "ratio": round(raw_seconds / result.seconds, 3) if result.seconds else None,
                "raw_throttled_429": throttled,
                "raw_non_2xx": failed,
                "sync_status": result.status,
                "sync_peak_rss_gib": round(memory.peak / 2**30, 3),
            }
            rows.append(row)
            print(
                f"  {name}: {records:,} records in {result.seconds:,.1f} s;"
                f" raw replay {raw_seconds:,.1f} s; ratio {row['ratio']}"
            )

    out = ROOT / "bench" / "results" / f"sync-{args.people or 'custom'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "warehouse": str(args.db),
                "people": args.people,
                "machine": machine(),
                "syncs": rows,
                "measured_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            },
            indent=2,
        )
    )
    print()
    print("| sync | records | requests | sync (s) | sync rec/s | raw client (s) | raw rec/s | sync / raw |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['sync']} | {r['records']:,} | {r['requests']:,} | {r['sync_seconds']:,.1f}"
            f" | {r['sync_records_per_second'] or 0:,} | {r['raw_seconds']:,.1f}"
            f" | {r['raw_records_per_second'] or 0:,} | {r['ratio']:.0%} |"
        )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
