"""Shared pytest fixtures: an empty raw warehouse and a dbt runner bound to it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from journey_atc.dbt import run_dbt
from journey_atc.raw_schema import create_raw_tables_sql


class Warehouse:
    """A temporary DuckDB file with the raw schema, plus helpers to build and query it."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / "warehouse.duckdb"
        con = duckdb.connect(str(self.path))
        for stmt in create_raw_tables_sql():
            con.execute(stmt)
        con.close()

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.path), read_only=read_only)

    def insert(self, table: str, rows: list[dict]) -> None:
        from journey_atc.raw_schema import insert_rows

        with self.connect() as con:
            insert_rows(con, table, rows)

    def dbt(self, *args: str, dbt_vars: dict | None = None, check: bool = True):
        return run_dbt(list(args), db_path=self.path, dbt_vars=dbt_vars, work_dir=self.root, check=check)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or []).fetchall()

    def query_dicts(self, sql: str, params: list | None = None) -> list[dict]:
        with self.connect(read_only=True) as con:
            cur = con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    """An empty raw warehouse in a temporary directory."""
    return Warehouse(tmp_path)
