"""When an incremental build cannot be trusted, and a full refresh is needed.

Incremental staging and identity (docs/incremental.md) process what changed
since their last complete run. Two things break that promise, and both are
detected here so that ``atc build`` and the Dagster runs switch to
``dbt build --full-refresh`` by themselves, saying why:

* raw.events was loaded from scratch (``atc load`` recreates it): every raw
  row is newer than everything staged, or raw.events is empty while staging
  is not;
* the last build of the incremental models did not finish (a model failed or
  was skipped, the process died, or only part of them was selected): the
  dbt hooks in ``macros/incremental/build_log.sql`` record every such build
  in ``atc_incremental_builds``, and only a ``complete`` one may be built on;
* raw event rows already staged were loaded again (a file re-loaded): the
  event whose kept delivery such a row was may now keep an older delivery,
  which an incremental run does not stage again.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from activation.state import table_exists

SCHEMA = "main"


def full_refresh_reason(db_path: Path) -> str | None:
    """Why the next build must be a full refresh, or None when an incremental build is safe."""
    db_path = Path(db_path)
    if not db_path.exists():
        return None
    with duckdb.connect(str(db_path), read_only=True) as con:
        if not table_exists(con, SCHEMA, "stg_segment__events_checked"):
            return None  # a first build: dbt builds everything anyway
        if table_exists(con, SCHEMA, "atc_incremental_builds"):
            last = con.execute(
                f"select as_of, status from {SCHEMA}.atc_incremental_builds order by build_number desc limit 1"
            ).fetchone()
            if last is not None and last[1] != "complete":
                return f"the last build of the incremental models (as_of {last[0]}) ended {last[1]}"
        if not table_exists(con, "raw", "events"):
            return None
        newest_staged = con.execute(f"select max(_loaded_at) from {SCHEMA}.stg_segment__events_checked").fetchone()[0]
        oldest_raw, raw_rows = con.execute("select min(_loaded_at), count(*) from raw.events").fetchone()
        if newest_staged is None:
            return None
        if raw_rows == 0 or (oldest_raw is not None and oldest_raw > newest_staged):
            return (
                "raw.events was loaded from scratch since the last build (every raw row is newer than the staged ones)"
            )
        reloaded, file, line = con.execute(
            f"""
            select count(*), min(raw_events._source_file), min(raw_events._source_line)
            from raw.events as raw_events
            semi join {SCHEMA}.stg_segment__events_checked as staged
                on raw_events._source_file = staged._source_file and raw_events._source_line = staged._source_line
            where raw_events._loaded_at > ?
            """,
            [newest_staged],
        ).fetchone()
    if reloaded:
        return (
            f"{reloaded:,} raw.events rows already staged were loaded again (for example {file} line {line}): "
            "the events they were the kept delivery of are rebuilt in full"
        )
    return None
