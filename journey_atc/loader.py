"""Load Segment-style export files (Parquet or JSON lines) into the raw landing tables.

Every loaded row keeps ``_source_file`` and ``_source_line`` so staging can point
a user back at the record. Nothing is dropped silently:

* a JSON-lines line that is not a JSON object, or a field with the wrong
  structure, is written to ``raw.load_rejects`` (file, line, field, reason and
  the line's text) and reported; the file's other lines still load;
* a Parquet file without a required column, or a file that cannot be read, is
  refused as a whole with :class:`LoadFileError`.

Parsing and validation run in DuckDB SQL over whole blocks of lines, so large
files load at DuckDB speed; Python only cuts files into blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from journey_atc.raw_schema import RAW_SCHEMA, RAW_TABLES, create_raw_tables_sql

DATA_SUFFIXES = (".parquet", ".jsonl", ".json", ".ndjson")
JSON_COLUMNS = {"context", "properties", "traits"}
# columns a file must carry to be loadable at all; the rest may be absent (null)
REQUIRED_COLUMNS = {
    "events": ["message_id", "type", "timestamp"],
    "message_events": ["event_id", "event_type", "channel", "timestamp"],
    "consents": [
        "consent_id",
        "identifier_type",
        "identifier",
        "channel",
        "granted",
        "recorded_at",
    ],
    "venues": ["venue_id"],
    "shows": ["show_id"],
    "products": ["product_id"],
}
REJECTS_TABLE = f"{RAW_SCHEMA}.load_rejects"
REJECTS_DDL = f"""
create table if not exists {REJECTS_TABLE} (
    "source_table" VARCHAR,
    "_source_file" VARCHAR,
    "_source_line" BIGINT,
    "field" VARCHAR,
    "reason" VARCHAR,
    "raw_line" VARCHAR,
    "_loaded_at" TIMESTAMP
)
"""
MAX_REPORTED_REJECTS = 200
BLOCK_BYTES = 64 * 1024 * 1024
JSON_TYPE_NAMES = {
    "BIGINT": "a number",
    "UBIGINT": "a number",
    "DOUBLE": "a number",
    "BOOLEAN": "true/false",
    "VARCHAR": "text",
    "ARRAY": "an array",
    "OBJECT": "an object",
}

Progress = Callable[[str, int, int], None]


class LoadFileError(RuntimeError):
    """A whole file was refused (unreadable, or a required column is missing)."""

    def __init__(self, file: str, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


@dataclass
class LoadError:
    """One rejected record: where it was and what was wrong with it."""

    file: str
    line: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass
class LoadReport:
    """What a load wrote: rows per raw table, rejected records, files read."""

    rows: dict[str, int]
    rejected: list[LoadError]
    rejected_count: int
    files: list[str]
    ignored: list[str] = field(default_factory=list)


def camel_case(name: str) -> str:
    """``anonymous_id`` -> ``anonymousId`` (the Segment/RudderStack JSON spelling)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def has_lineage(table: str) -> bool:
    """Whether ``raw.<table>`` records ``_source_file``/``_source_line`` (catalog tables do not)."""
    return any(name == "_source_file" for name, _, _ in RAW_TABLES[table])


def _columns(table: str) -> list[tuple[str, str]]:
    return [(name, ctype) for name, ctype, _ in RAW_TABLES[table] if not name.startswith("_")]


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_for_file(path: Path, data_dir: Path | None = None) -> str | None:
    """The raw table a file belongs to, judged by its name (or its ``events/`` folder)."""
    if path.suffix.lower() not in DATA_SUFFIXES:
        return None
    if data_dir is not None:
        parts = path.relative_to(data_dir).parts
        if len(parts) > 1:
            top = parts[0].lower()
            for table in sorted(RAW_TABLES, key=len, reverse=True):
                if top.startswith(table):
                    return table
    stem = path.name.lower()
    for table in sorted(RAW_TABLES, key=len, reverse=True):
        if stem.startswith(table):
            return table
    return None


# ---------------------------------------------------------------- connection


def _connect(db_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db_path))
    con.execute("set timezone = 'UTC'")
    for stmt in create_raw_tables_sql():
        con.execute(stmt)
    con.execute(REJECTS_DDL)
    return con


class _Loader:
    def __init__(self, con: duckdb.DuckDBPyConnection, progress: Progress | None):
        self.con = con
        self.progress = progress
        self.loaded_at = datetime.now(UTC).replace(tzinfo=None)
        self.rows: dict[str, int] = {}
        self.rejected: list[LoadError] = []
        self.rejected_count = 0
        self.files: list[str] = []

    def report(self, ignored: list[str] | None = None) -> LoadReport:
        return LoadReport(
            rows=dict(self.rows),
            rejected=list(self.rejected),
            rejected_count=self.rejected_count,
            files=list(self.files),
            ignored=ignored or [],
        )

    # -- validation before anything is written
    def check_parquet(self, table: str, path: Path, name: str) -> dict[str, tuple[str, str]]:
        """Map raw column -> (source column, source type); raises LoadFileError."""
        try:
            described = self.con.execute(f"describe select * from read_parquet({_q(str(path))})").fetchall()
        except duckdb.Error as exc:
            raise LoadFileError(name, f"cannot be read as Parquet ({_first_line(exc)})") from exc
        available = {col: ctype for col, ctype, *_ in described}
        lowered = {col.lower(): col for col in available}
        found: dict[str, tuple[str, str]] = {}
        for col, _ in _columns(table):
            for candidate in (col, camel_case(col)):
                src = candidate if candidate in available else lowered.get(candidate.lower())
                if src is not None:
                    found[col] = (src, available[src])
                    break
        missing = [c for c in REQUIRED_COLUMNS[table] if c not in found]
        if missing:
            cols = ", ".join(f'"{c}"' for c in missing)
            raise LoadFileError(name, f"required column {cols} is missing (the file has: {', '.join(available)})")
        for col, (src, stype) in found.items():
            if col in JSON_COLUMNS and not _json_like(stype):
                raise LoadFileError(name, f'column "{src}" must hold JSON text or a struct, got {stype}')
        return found

    # -- loading
    def load_file(self, table: str, path: Path, name: str, fresh: bool = False) -> None:
        """Load one file in one transaction; ``fresh``: the table holds no rows from it."""
        suffix = path.suffix.lower()
        self.con.execute("begin transaction")
        try:
            if has_lineage(table) and not fresh:
                self.con.execute(f"delete from {RAW_SCHEMA}.{table} where _source_file = ?", [name])
            self.con.execute(
                f"delete from {REJECTS_TABLE} where source_table = ? and _source_file = ?",
                [table, name],
            )
            if suffix == ".parquet":
                self._load_parquet(table, path, name)
            else:
                self._load_jsonl(table, path, name)
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        self.files.append(name)

    def _insert_checked(self, table: str, name: str) -> None:
        """Move rows of temp table ``_checked`` into the raw table or the rejects."""
        cols = [c for c, _ in _columns(table)]
        quoted = ", ".join(f'"{c}"' for c in cols)
        values = ", ".join(f'"v_{c}"' for c in cols)
        if has_lineage(table):
            self.con.execute(
                f"insert into {RAW_SCHEMA}.{table} "
                f"({quoted}, _source_file, _source_line, _loaded_at) "
                f"select {values}, ?, line, ? from _checked where err is null",
                [name, self.loaded_at],
            )
        else:
            self.con.execute(
                f"insert into {RAW_SCHEMA}.{table} ({quoted}) select {values} from _checked where err is null"
            )
        loaded = self.con.execute("select count(*) from _checked where err is null").fetchone()[0]
        self.rows[table] = self.rows.get(table, 0) + loaded
        self.con.execute(
            f"insert into {REJECTS_TABLE} select ?, ?, line, err.field, err.reason, raw_line, ? "
            "from _checked where err is not null order by line",
            [table, name, self.loaded_at],
        )
        bad = self.con.execute("select count(*) from _checked where err is not null").fetchone()[0]
        if bad:
            room = max(MAX_REPORTED_REJECTS - len(self.rejected), 0)
            sample = self.con.execute(
                f"select line, err.field, err.reason from _checked where err is not null order by line limit {room}"
            ).fetchall()
            self.rejected.extend(LoadError(name, ln, fld, reason) for ln, fld, reason in sample)
            self.rejected_count += bad

    def _load_parquet(self, table: str, path: Path, name: str) -> None:
        found = self.check_parquet(table, path, name)
        exprs, checks = [], []
        for col, ctype in _columns(table):
            if col not in found:
                exprs.append(f'cast(null as {ctype}) as "v_{col}"')
                continue
            src, stype = found[col]
            ref = f'src."{src}"'
            if col in JSON_COLUMNS:
                expr = ref if stype == "VARCHAR" else f"cast(to_json({ref}) as varchar)"
            elif ctype in ("BIGINT", "DOUBLE"):
                expr = f"try_cast({ref} as {ctype})"
                checks.append(
                    f"when {ref} is not null and {expr} is null then "
                    f"{{'field': '{col}', 'reason': 'field \"{col}\" must be a number, got '"
                    f" || cast({ref} as varchar)}}"
                )
            elif stype.startswith("TIMESTAMP"):
                expr = f"strftime({ref}, '%Y-%m-%dT%H:%M:%S.%fZ')"
            else:
                expr = f"cast({ref} as varchar)"
            exprs.append(f'{expr} as "v_{col}"')
        source = f"read_parquet({_q(str(path))}, file_row_number = true) as src"
        if not checks and has_lineage(table):
            # nothing can be rejected row by row: stream straight into the raw table
            cols = ", ".join(f'"{c}"' for c, _ in _columns(table))
            loaded = self.con.execute(
                f"insert into {RAW_SCHEMA}.{table} "
                f"({cols}, _source_file, _source_line, _loaded_at) "
                f"select {', '.join(exprs)}, ?, file_row_number + 1, ? from {source}",
                [name, self.loaded_at],
            ).fetchone()[0]
            self.rows[table] = self.rows.get(table, 0) + loaded
            return
        err = "case " + " ".join(checks) + " end" if checks else "cast(null as struct(field varchar, reason varchar))"
        self.con.execute(
            f"create or replace temp table _checked as select file_row_number + 1 as line, "
            f"{', '.join(exprs)}, {err} as err, cast(null as varchar) as raw_line "
            f"from {source}"
        )
        self._insert_checked(table, name)

    def _load_jsonl(self, table: str, path: Path, name: str) -> None:
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise LoadFileError(name, f"cannot be opened ({exc.strerror})") from exc
        first_line = 1
        with handle:
            head = handle.read(1).lstrip()
            while head in (b" ", b"\n", b"\r", b"\t"):
                head = handle.read(1)
            if head == b"[":
                raise LoadFileError(name, "is a JSON array; export one JSON object per line (JSON lines)")
            handle.seek(0)
            carry = b""
            while True:
                chunk = handle.read(BLOCK_BYTES)
                data = carry + chunk
                if not chunk:
                    if data:
                        self._load_block(table, name, data, first_line)
                    break
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data
                    continue
                block, carry = data[:cut], data[cut + 1 :]
                self._load_block(table, name, block, first_line)
                first_line += block.count(b"\n") + 1

    def _load_block(self, table: str, name: str, block: bytes, first_line: int) -> None:
        """Parse and validate one block of whole lines (``first_line`` is its 1-based number)."""
        try:
            text = block.decode("utf-8")
            bad_lines: list[tuple[int, str]] = []
        except UnicodeDecodeError:
            # rare: find the offending lines, reject them, keep the rest
            lines = block.split(b"\n")
            bad_lines = []
            for i, raw in enumerate(lines):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    bad_lines.append((first_line + i, raw.decode("utf-8", errors="replace")))
                    lines[i] = b""
            text = b"\n".join(lines).decode("utf-8")
        cols = _columns(table)
        paths = []
        for col, _ in cols:
            paths.append(f'$."{col}"')
            paths.append(f'$."{camel_case(col)}"')
        path_list = "[" + ", ".join(_q(p) for p in paths) + "]"
        values, checks = [], []
        for i, (col, ctype) in enumerate(cols):
            v = f"coalesce(vals[{2 * i + 1}], vals[{2 * i + 2}])"
            t = f"json_type({v})"
            if col in JSON_COLUMNS:
                values.append(
                    f"case when {t} = 'OBJECT' then cast({v} as varchar) "
                    f"when {t} = 'VARCHAR' then json_extract_string({v}, '$') end as \"v_{col}\""
                )
                bad, want = f"{t} not in ('OBJECT', 'VARCHAR', 'NULL')", "an object or JSON text"
            elif ctype in ("BIGINT", "DOUBLE"):
                values.append(f"try_cast(json_extract_string({v}, '$') as {ctype}) as \"v_{col}\"")
                bad = (
                    f"({t} in ('OBJECT', 'ARRAY', 'BOOLEAN') or ({t} = 'VARCHAR' and "
                    f"try_cast(json_extract_string({v}, '$') as {ctype}) is null))"
                )
                want = "a number"
            else:
                values.append(f"json_extract_string({v}, '$') as \"v_{col}\"")
                bad, want = f"{t} in ('OBJECT', 'ARRAY')", "text or a number"
            checks.append(
                f"when {bad} then {{'field': '{col}', "
                f"'reason': 'field \"{col}\" must be {want}, got ' || {_type_name_sql(t)}}}"
            )
        self.con.execute(
            f"""
            create or replace temp table _checked as
            with lines as (
                select
                    unnest(range({first_line}, {first_line} + len(parts))) as line,
                    unnest(parts) as raw_line
                from (select string_split(?, chr(10)) as parts)
            ),
            nonblank as (
                select line, rtrim(raw_line, chr(13)) as raw_line
                from lines
                where trim(raw_line, ' ' || chr(9) || chr(13)) <> ''
            ),
            parsed as (
                select
                    line,
                    raw_line,
                    json_valid(raw_line) as is_json,
                    case when json_valid(raw_line) then json_type(cast(raw_line as json)) end
                        as doc_type,
                    case when json_valid(raw_line)
                        and json_type(cast(raw_line as json)) = 'OBJECT'
                        then json_extract(cast(raw_line as json), {path_list}) end as vals
                from nonblank
            )
            select
                line,
                {", ".join(values)},
                case
                    when not is_json then {{'field': null,
                        'reason': 'is not valid JSON'}}
                    when doc_type <> 'OBJECT' then {{'field': null,
                        'reason': 'is not a JSON object, got ' || {_type_name_sql("doc_type")}}}
                    {" ".join(checks)}
                end as err,
                raw_line
            from parsed
            """,
            [text],
        )
        self._insert_checked(table, name)
        for line, raw in bad_lines:
            self.con.execute(
                f"insert into {REJECTS_TABLE} values (?, ?, ?, null, ?, ?, ?)",
                [table, name, line, "is not valid UTF-8 text", raw, self.loaded_at],
            )
            if len(self.rejected) < MAX_REPORTED_REJECTS:
                self.rejected.append(LoadError(name, line, None, "is not valid UTF-8 text"))
            self.rejected_count += 1


def _type_name_sql(type_expr: str) -> str:
    cases = " ".join(f"when {_q(k)} then {_q(v)}" for k, v in JSON_TYPE_NAMES.items())
    return f"(case {type_expr} {cases} else lower({type_expr}) end)"


def _json_like(duckdb_type: str) -> bool:
    return (
        duckdb_type in ("VARCHAR", "JSON") or duckdb_type.startswith(("STRUCT", "MAP")) or (duckdb_type.endswith("[]"))
    )


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---------------------------------------------------------------- public API


def load_files(
    db_path: Path,
    table: str,
    files: list[Path],
    replace: bool = False,
    progress: Progress | None = None,
) -> LoadReport:
    """Load ``files`` into ``raw.<table>``.

    Re-loading a file replaces the rows it loaded before (rows are keyed by
    ``_source_file``, the file's name), so a load never doubles rows. With
    ``replace=True`` the table (and its rejects) is emptied first. Catalog tables
    (venues, shows, products) have no lineage columns and are always replaced.
    """
    if table not in RAW_TABLES:
        raise ValueError(f"unknown raw table {table!r}; expected one of {sorted(RAW_TABLES)}")
    files = [Path(f) for f in files]
    con = _connect(Path(db_path))
    try:
        loader = _Loader(con, progress)
        names = [f.name for f in files]
        for path, name in zip(files, names, strict=True):
            if not path.exists():
                raise LoadFileError(name, "does not exist")
            if path.suffix.lower() == ".parquet":
                loader.check_parquet(table, path, name)
        # catalog tables carry no lineage: a load is a full snapshot of them
        if replace or not has_lineage(table):
            con.execute(f"delete from {RAW_SCHEMA}.{table}")
            con.execute(f"delete from {REJECTS_TABLE} where source_table = ?", [table])
        loader.rows[table] = 0
        for i, (path, name) in enumerate(zip(files, names, strict=True), start=1):
            loader.load_file(table, path, name)
            if progress is not None:
                progress(table, i, len(files))
        return loader.report()
    finally:
        con.close()


def load_directory(
    db_path: Path,
    data_dir: Path,
    replace: bool = True,
    progress: Progress | None = None,
) -> LoadReport:
    """Load every recognised export file under ``data_dir`` into the raw tables.

    Files are matched by name: ``events*`` (or any file in an ``events/`` folder),
    ``message_events*``, ``consents*``, ``venues*``, ``shows*``, ``products*``, as
    ``.parquet``, ``.jsonl``, ``.ndjson`` or ``.json`` (JSON lines). Every Parquet
    file's columns are checked before anything is written. With ``replace=True``
    the raw tables are recreated first.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise LoadFileError(str(data_dir), "is not a directory")
    plan: list[tuple[str, Path, str]] = []
    ignored: list[str] = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(data_dir).as_posix()
        table = table_for_file(path, data_dir)
        if table is None:
            if path.suffix.lower() in DATA_SUFFIXES:
                ignored.append(rel)
            continue
        plan.append((table, path, rel))
    order = list(RAW_TABLES)
    plan.sort(key=lambda item: (order.index(item[0]), item[2]))

    con = _connect(Path(db_path))
    try:
        loader = _Loader(con, progress)
        for table, path, rel in plan:
            if path.suffix.lower() == ".parquet":
                loader.check_parquet(table, path, rel)
        if replace:
            for stmt in create_raw_tables_sql(replace=True):
                con.execute(stmt)
            con.execute(f"delete from {REJECTS_TABLE}")
        # catalog tables carry no lineage: a load is a full snapshot of them
        for table in sorted({t for t, _, _ in plan if not has_lineage(t)}):
            con.execute(f"delete from {RAW_SCHEMA}.{table}")
        loader.rows = dict.fromkeys(RAW_TABLES, 0)
        for i, (table, path, rel) in enumerate(plan, start=1):
            loader.load_file(table, path, rel, fresh=replace)
            if progress is not None:
                progress(rel, i, len(plan))
        return loader.report(ignored)
    finally:
        con.close()
