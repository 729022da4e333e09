"""Check that an incremental run gives what a full refresh gives.

    python -m journey_atc.incremental_check --people 300

Steps, all in a temporary work directory (kept with ``--keep``):

1. generate a sample data set and load it into a DuckDB file;
2. hold back a share of the rows of every raw table (events, message events,
   consents; ``--held-back``, default 20%, chosen by a hash of the raw row, so
   repeated deliveries of a message can fall on either side);
3. ``dbt seed`` + ``dbt build`` at as_of;
4. copy the warehouse; in both copies the held-back rows land five minutes
   later (``_loaded_at`` after every earlier row);
5. one copy is brought up to date with ``dbt build`` (incremental), the other
   with ``dbt build --full-refresh``, both at as_of + 5 minutes;
6. every model is compared row by row (``except all`` both ways), and each
   checked staging model must have parsed exactly the held-back rows, plus
   the rows quarantined as absurd_timestamp that the new as_of may let
   through and, where it ranks repeated ids, the staged rows sharing an id with
   those (ranked again with them).

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
    "int_persons_affected": "per-run working table",
    "identity_person_changes": "change log",
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
    held_back: dict[str, int] = field(default_factory=dict)
    expected_staged: dict[str, int] = field(default_factory=dict)
    staged_by_incremental: dict[str, int] = field(default_factory=dict)
    incremental_seconds: float = 0.0
    full_refresh_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.equal for c in self.comparisons) and self.staged_by_incremental == self.expected_staged


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


# raw table -> (checked staging model, its checked time, (raw id, staged id) where it ranks repeated ids)
RAW_TABLES = {
    "events": ("stg_segment__events_checked", "occurred_at", None),
    "message_events": ("stg_channels__message_events_checked", "occurred_at", ("event_id", "message_event_id")),
    "consents": ("stg_consents__consents_checked", "recorded_at", ("consent_id", "consent_id")),
}
# absurd_timestamp rows as_of may now let through (defaults of atc__min_valid_timestamp,
# atc__max_clock_skew_hours): the only ones checked again
MAY_PASS = (
    "reason_code = 'absurd_timestamp' and {time} >= timestamp '2015-01-01'"
    " and {time} <= cast(? as timestamp) + interval 24 hour"
)


def hold_back(db_path: Path, share: float) -> dict[str, int]:
    """Move a share of every raw table into raw.held_back_<table>; how many rows of each."""
    buckets = max(1, round(1 / share))
    held = {}
    with duckdb.connect(str(db_path)) as con:
        for table in RAW_TABLES:
            con.execute(
                f"create or replace table raw.held_back_{table} as select * from raw.{table} "
                f"where hash(_source_file, _source_line) % {buckets} = 0"
            )
            con.execute(
                f"delete from raw.{table} where (_source_file, _source_line) in "
                f"(select (_source_file, _source_line) from raw.held_back_{table})"
            )
            held[table] = con.execute(f"select count(*) from raw.held_back_{table}").fetchone()[0]
    return held


def expected_restaged(db_path: Path, later_as_of: str) -> dict[str, int]:
    """Rows each checked staging model must parse when the held-back rows land at later_as_of.

    The held-back rows, the rows quarantined as absurd_timestamp that
    later_as_of may let through and, where repeated ids are ranked in the
    checked model, the staged rows sharing an id with either (ranked again
    with them). Read before the held-back rows land.
    """
    expected = {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        for table, (model, time_column, ids) in RAW_TABLES.items():
            held = con.execute(f"select count(*) from raw.held_back_{table}").fetchone()[0]
            may_pass = MAY_PASS.format(time=time_column)
            if ids is None:
                again = con.execute(f"select count(*) from {SCHEMA}.{model} where {may_pass}", [later_as_of])
            else:
                raw_id, staged_id = ids
                again = con.execute(
                    f"""
                    select count(*) from {SCHEMA}.{model}
                    where ({may_pass}) or {staged_id} in (
                        select nullif(trim({raw_id}), '') from raw.held_back_{table}
                        union
                        select {staged_id} from {SCHEMA}.{model} where {may_pass}
                    )
                    """,
                    [later_as_of, later_as_of],
                )
            expected[table] = held + again.fetchone()[0]
    return expected


def land_held_back(db_path: Path) -> None:
    """The held-back rows arrive: _loaded_at five minutes after the newest row of their table."""
    with duckdb.connect(str(db_path)) as con:
        for table in RAW_TABLES:
            con.execute(
                f"insert into raw.{table} by name select * replace ("
                f"(select max(_loaded_at) from raw.{table}) + interval 5 minute as _loaded_at"
                f") from raw.held_back_{table}"
            )
            con.execute(f"drop table raw.held_back_{table}")


def staged_at(db_path: Path, as_of: str) -> dict[str, int]:
    """Rows of each checked staging model staged at as_of."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        return {
            table: con.execute(
                f"select count(*) from {SCHEMA}.{model} where _staged_at = cast(? as timestamp)", [as_of]
            ).fetchone()[0]
            for table, (model, _, _) in RAW_TABLES.items()
        }


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
    held = ", ".join(f"{n:,} {table}" for table, n in result.held_back.items())
    log(f"held back {held} raw rows; first build at {as_of_text(as_of)}")

    first_vars = {"atc__as_of": as_of_text(as_of)}
    run_dbt(["seed"], db_path=first_db, dbt_vars=first_vars, work_dir=work / "incremental")
    run_dbt(["build"], db_path=first_db, dbt_vars=first_vars, work_dir=work / "incremental")
    result.expected_staged = expected_restaged(first_db, as_of_text(later))
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
    print("\nraw rows held back and landed later, and what the incremental run staged:", file=out)
    for table, held in result.held_back.items():
        staged = result.staged_by_incremental.get(table, 0)
        expected = result.expected_staged.get(table, 0)
        verdict = "as expected" if staged == expected else f"EXPECTED {expected:,}"
        print(
            f"  raw.{table}: {held:,} held back; {staged:,} rows staged ({verdict}: the held-back rows, "
            "the absurd_timestamp rows as_of may let through, the rows ranked again with them)",
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
                        "expected_staged": result.expected_staged,
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
