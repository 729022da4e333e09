"""Check that an incremental run gives what a full refresh gives.

    python -m journey_atc.incremental_check --people 300

Steps, all in a temporary work directory (kept with ``--keep``):

1. generate a sample data set and load it into a DuckDB file;
2. hold back a share of the raw events (``--held-back``, default 20%, chosen
   by a hash of the raw row, so repeated deliveries of a message can fall on
   either side);
3. ``dbt seed`` + ``dbt build`` at as_of;
4. copy the warehouse; in both copies the held-back events land five minutes
   later (``_loaded_at`` after every earlier row);
5. one copy is brought up to date with ``dbt build`` (incremental), the other
   with ``dbt build --full-refresh``, both at as_of + 5 minutes;
6. every model is compared row by row (``except all`` both ways), and the
   incremental run must have staged exactly the held-back rows (plus the
   rows quarantined as absurd_timestamp, which every run checks again).

Exits 0 only when both builds succeeded and every compared model is equal.
Columns that say when a row was written (``_staged_at``, ``_changed_at``)
and how many label-propagation rounds a component took (``iterations``)
record how the row was computed, not what it holds, and are left out. The
per-run working tables of identity (which nodes this run touched, their
prior persons and the components' claims) differ by design: on an
incremental run they hold only what the run touched.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from journey_atc.dbt import run_dbt

SCHEMA = "main"
# Columns describing how a row was computed, not its content.
RUN_COLUMNS = {"_staged_at", "_changed_at", "iterations"}
# Per-run working tables (on an incremental run they hold only what it touched)
# and the build log, which records how each copy was built.
RUN_SCOPED_MODELS = {
    "int_identity__touched_nodes": "per-run working table",
    "int_identity__prior_person_map": "per-run working table",
    "int_identity__person_assignments": "per-run working table",
    "int_identity__set_persons": "per-run working table",
    "atc_incremental_builds": "build log",
}
# Rows kept only so an incremental run can see what it emptied.
ROW_FILTERS = {"int_identity__identifier_sets": "event_count > 0"}


@dataclass
class Comparison:
    model: str
    incremental_rows: int
    full_rows: int
    differing_rows: int
    skipped: str | None = None

    @property
    def equal(self) -> bool:
        return self.skipped is not None or self.differing_rows == 0


@dataclass
class CheckResult:
    comparisons: list[Comparison] = field(default_factory=list)
    held_back: int = 0
    staged_by_incremental: int = 0
    rechecked: int = 0
    incremental_seconds: float = 0.0
    full_refresh_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.equal for c in self.comparisons) and self.staged_by_incremental == self.held_back + self.rechecked


def model_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table and view dbt built in the model schema (seeds included)."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? order by table_name",
        [SCHEMA],
    ).fetchall()
    return [name for (name,) in rows if "__dbt_tmp" not in name and not name.endswith(("__labels_a", "__labels_b"))]


def compare_warehouses(incremental_db: Path, full_db: Path) -> list[Comparison]:
    """Row-by-row comparison of every model of two warehouses."""
    out = []
    with duckdb.connect(str(incremental_db), read_only=True) as con:
        con.execute(f"attach '{full_db}' as full_db (read_only)")
        for table in model_tables(con):
            if table in RUN_SCOPED_MODELS:
                out.append(Comparison(table, 0, 0, 0, skipped=RUN_SCOPED_MODELS[table]))
                continue
            columns = [
                name
                for (name,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_catalog = current_database() and table_schema = ? and table_name = ? "
                    "order by ordinal_position",
                    [SCHEMA, table],
                ).fetchall()
                if name not in RUN_COLUMNS
            ]
            cols = ", ".join(f'"{c}"' for c in columns)
            where = f" where {ROW_FILTERS[table]}" if table in ROW_FILTERS else ""
            inc = f'select {cols} from {SCHEMA}."{table}"{where}'
            full = f'select {cols} from full_db.{SCHEMA}."{table}"{where}'
            inc_rows = con.execute(f"select count(*) from ({inc})").fetchone()[0]
            full_rows = con.execute(f"select count(*) from ({full})").fetchone()[0]
            differing = con.execute(
                f"select count(*) from (({inc} except all {full}) union all ({full} except all {inc}))"
            ).fetchone()[0]
            out.append(Comparison(table, inc_rows, full_rows, differing))
    return out


def hold_back(db_path: Path, share: float) -> int:
    """Move a share of raw.events into raw.held_back_events; returns how many."""
    buckets = max(1, round(1 / share))
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "create or replace table raw.held_back_events as select * from raw.events "
            f"where hash(_source_file, _source_line) % {buckets} = 0"
        )
        con.execute(
            "delete from raw.events where (_source_file, _source_line) in "
            "(select (_source_file, _source_line) from raw.held_back_events)"
        )
        return con.execute("select count(*) from raw.held_back_events").fetchone()[0]


def land_held_back(db_path: Path) -> None:
    """The held-back events arrive: _loaded_at five minutes after the newest row."""
    with duckdb.connect(str(db_path)) as con:
        con.execute(
            "insert into raw.events by name select * replace ("
            "(select max(_loaded_at) from raw.events) + interval 5 minute as _loaded_at"
            ") from raw.held_back_events"
        )
        con.execute("drop table raw.held_back_events")


def staged_at(db_path: Path, as_of: str) -> int:
    """Rows of stg_segment__events_checked staged at as_of."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(
            f"select count(*) from {SCHEMA}.stg_segment__events_checked where _staged_at = cast(? as timestamp)",
            [as_of],
        ).fetchone()[0]


def absurd_rows(db_path: Path) -> int:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(
            f"select count(*) from {SCHEMA}.stg_segment__events_checked where reason_code = 'absurd_timestamp'"
        ).fetchone()[0]


def run_check(work: Path, people: int, seed: int, share: float = 0.2, log=print) -> CheckResult:
    from journey_atc.cli import DEFAULT_AS_OF, as_of_text, infer_as_of
    from journey_atc.datagen import generate
    from journey_atc.loader import load_directory

    result = CheckResult()
    data_dir = work / "data"
    first_db = work / "incremental" / "warehouse.duckdb"
    full_db = work / "full" / "warehouse.duckdb"
    first_db.parent.mkdir(parents=True, exist_ok=True)
    full_db.parent.mkdir(parents=True, exist_ok=True)

    log(f"generating {people:,} people (seed {seed}) and loading them")
    generate(data_dir, people=people, seed=seed, as_of=DEFAULT_AS_OF, fmt="parquet")
    load_directory(first_db, data_dir, replace=True)
    as_of = infer_as_of(first_db) or DEFAULT_AS_OF
    later = as_of + timedelta(minutes=5)
    result.held_back = hold_back(first_db, share)
    log(f"held back {result.held_back:,} raw events; first build at {as_of_text(as_of)}")

    first_vars = {"atc__as_of": as_of_text(as_of)}
    run_dbt(["seed"], db_path=first_db, dbt_vars=first_vars, work_dir=work / "incremental")
    run_dbt(["build"], db_path=first_db, dbt_vars=first_vars, work_dir=work / "incremental")
    result.rechecked = absurd_rows(first_db)
    shutil.copyfile(first_db, full_db)
    for db in (first_db, full_db):
        land_held_back(db)

    later_vars = {"atc__as_of": as_of_text(later)}
    log(f"the held-back events land; incremental build at {as_of_text(later)}")
    started = time.perf_counter()
    run_dbt(["build"], db_path=first_db, dbt_vars=later_vars, work_dir=work / "incremental")
    result.incremental_seconds = time.perf_counter() - started
    log(f"full-refresh build at {as_of_text(later)}")
    started = time.perf_counter()
    run_dbt(["build", "--full-refresh"], db_path=full_db, dbt_vars=later_vars, work_dir=work / "full")
    result.full_refresh_seconds = time.perf_counter() - started

    result.staged_by_incremental = staged_at(first_db, as_of_text(later))
    result.comparisons = compare_warehouses(first_db, full_db)
    return result


def print_report(result: CheckResult, out=sys.stdout) -> None:
    width = max(len(c.model) for c in result.comparisons)
    print(f"{'model':<{width}}  {'incremental':>11}  {'full refresh':>12}  result", file=out)
    for c in result.comparisons:
        verdict = c.skipped or ("equal" if c.equal else f"DIFFERENT ({c.differing_rows:,} rows)")
        print(f"{c.model:<{width}}  {c.incremental_rows:>11,}  {c.full_rows:>12,}  {verdict}", file=out)
    print(
        f"\nheld back and landed later: {result.held_back:,} raw events; the incremental run staged "
        f"{result.staged_by_incremental:,} rows ({result.rechecked:,} absurd_timestamp rows checked again)",
        file=out,
    )
    print(
        f"incremental build: {result.incremental_seconds:,.1f} s; "
        f"full-refresh build: {result.full_refresh_seconds:,.1f} s",
        file=out,
    )
    print("OK: the incremental run equals the full refresh" if result.ok else "FAILED", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--held-back", type=float, default=0.2, help="share of raw events landing later")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="atc-incremental-"))
    try:
        result = run_check(work, args.people, args.seed, args.held_back)
        print_report(result)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "checked_at": datetime.now().isoformat(timespec="seconds"),
                        "people": args.people,
                        "seed": args.seed,
                        "held_back": result.held_back,
                        "staged_by_incremental": result.staged_by_incremental,
                        "incremental_seconds": round(result.incremental_seconds, 1),
                        "full_refresh_seconds": round(result.full_refresh_seconds, 1),
                        "models": [c.__dict__ for c in result.comparisons],
                        "ok": result.ok,
                    },
                    indent=2,
                )
            )
        return 0 if result.ok else 1
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
