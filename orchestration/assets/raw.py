"""The raw landing tables, filled from the inbox folder.

New export files (Segment-spec events, message events, consents, catalog) are
dropped into the inbox (``$ATC_INBOX_DIR``, default ``data/inbox``). The
``raw_landing`` step loads each with ``journey_atc.loader`` and moves it to
``loaded/``; a file the loader refuses goes to ``failed/`` with the reason in
the run's log and metadata, and the other files still load.
"""

import shutil
from pathlib import Path

import dagster as dg

from journey_atc.loader import LoadFileError, load_files, table_for_file
from journey_atc.raw_schema import RAW_TABLES, create_raw_tables_sql
from orchestration.reports import markdown_table
from orchestration.resources import AtcResource

LOADED = "loaded"
FAILED = "failed"


def raw_key(table: str) -> dg.AssetKey:
    """The key dagster-dbt gives the dbt source ``raw.<table>``."""
    return dg.AssetKey(["raw", table])


def pending_files(inbox: Path) -> list[tuple[str, Path]]:
    """(raw table, file) for every recognised file waiting in ``inbox``, oldest first."""
    if not inbox.is_dir():
        return []
    found = []
    for path in inbox.rglob("*"):
        rel = path.relative_to(inbox)
        if not path.is_file() or rel.parts[0] in (LOADED, FAILED) or path.name.startswith("."):
            continue
        table = table_for_file(path, inbox)
        if table is not None:
            found.append((table, path))
    return sorted(found, key=lambda item: (item[1].stat().st_mtime, str(item[1])))


def _move(path: Path, inbox: Path, folder: str) -> Path:
    target = inbox / folder / path.relative_to(inbox)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), target)
    return target


@dg.multi_asset(
    name="raw_landing",
    specs=[
        dg.AssetSpec(
            raw_key(table),
            group_name="raw",
            description=f"Landing table raw.{table}, loaded from the inbox by journey_atc.loader.",
            owners=["team:data-platform"],
            kinds={"duckdb"},
        )
        for table in RAW_TABLES
    ],
    op_tags={"journey_atc/step": "load"},
)
def raw_landing(context: dg.AssetExecutionContext, atc: AtcResource):
    """Load every file waiting in the inbox into its raw table."""
    inbox = atc.inbox
    files = pending_files(inbox)
    atc.db.parent.mkdir(parents=True, exist_ok=True)
    with atc.connect(read_only=False) as con:
        for stmt in create_raw_tables_sql():
            con.execute(stmt)
    loaded: dict[str, list[str]] = {t: [] for t in RAW_TABLES}
    rows: dict[str, int] = dict.fromkeys(RAW_TABLES, 0)
    failures: list[tuple[str, str]] = []
    for table, path in files:
        name = str(path.relative_to(inbox))
        try:
            report = load_files(atc.db, table, [path])
        except LoadFileError as exc:
            failures.append((name, exc.reason))
            context.log.error(f"{name} was refused and moved to {FAILED}/: {exc.reason}")
            _move(path, inbox, FAILED)
            continue
        rows[table] += report.rows.get(table, 0)
        loaded[table].append(name)
        if report.rejected_count:
            context.log.warning(f"{name}: {report.rejected_count} line(s) kept in raw.load_rejects")
        _move(path, inbox, LOADED)
    with atc.connect() as con:
        totals = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in RAW_TABLES}
    for table in RAW_TABLES:
        metadata = {
            "new_files": dg.MetadataValue.int(len(loaded[table])),
            "new_rows": dg.MetadataValue.int(rows[table]),
            "dagster/row_count": dg.MetadataValue.int(totals[table]),
            "inbox": dg.MetadataValue.path(str(inbox)),
        }
        if loaded[table]:
            metadata["files"] = dg.MetadataValue.md(markdown_table(["file"], [[f] for f in loaded[table]]))
        if failures:
            metadata["refused_files"] = dg.MetadataValue.md(markdown_table(["file", "reason"], failures))
        yield dg.MaterializeResult(asset_key=raw_key(table), metadata=metadata)
