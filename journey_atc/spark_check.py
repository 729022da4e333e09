"""Build the dbt project on DuckDB and on Spark from the same data, and compare.

    python -m journey_atc.spark_check --people 400

Steps, all in a temporary work directory (kept with ``--keep``):

1. generate a small sample data set and load it into a DuckDB file;
2. ``dbt seed`` + ``dbt build`` on the ``duckdb`` target (a subprocess);
3. copy every raw landing table (schemas ``raw`` and ``atc_sync``) to Parquet;
4. start a local Spark session (UTC, a Derby metastore and a warehouse
   directory under the work directory), register the Parquet files as the
   same raw tables, and run ``dbt seed`` + ``dbt build`` on the ``spark``
   target in this process: the target's ``session`` method picks up this
   session through ``getOrCreate``;
5. compare the compared models row by row and print a table
   model -> rows duckdb / rows spark / equal.

Exits 0 only when both builds succeeded and every compared model is equal.
Equality is tolerant where the engines legitimately differ in representation
and strict about content: timestamps are compared to the second, floating
point values to 9 decimal places, JSON text as parsed documents with null
fields left out (Spark's to_json drops them), arrays and structs element by
element. Rows are compared as multisets.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from journey_atc.dbt import PROJECT_DIR, run_dbt

# The models whose equality is the point: identity, profiles, decisions and
# guardrail decisions. --all compares every model of the project.
KEY_MODELS = [
    "identity_person_map",
    "profiles",
    "journey_candidates_scored",
    "journey_assignments",
    "guardrail_decisions",
    "guardrail_decision_log",
]
RAW_SCHEMAS = ("raw", "atc_sync")
DEFAULT_SPARK_SCHEMA = "journey_atc"


# ---------------------------------------------------------------- normalising


# A timestamp written into JSON text: DuckDB writes "2026-11-01 00:00:00",
# Spark's to_json "2026-11-01T00:00:00.000Z".
JSON_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]00:?00)?$")


def _norm_json_value(value):
    if isinstance(value, str):
        match = JSON_TIMESTAMP.match(value)
        return f"{match.group(1)} {match.group(2)}" if match else value
    if isinstance(value, dict):
        return {k: _norm_json_value(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_norm_json_value(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def normalise(value):
    """A comparable, hashable form of one value read from either engine."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isnan(number):
            return "nan"
        return round(number, 9) + 0.0
    if isinstance(value, datetime):
        return value.replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "["):
            try:
                parsed = json.loads(text)
            except ValueError:
                return value
            return "json:" + json.dumps(_norm_json_value(parsed), sort_keys=True)
        return value
    if hasattr(value, "asDict"):  # a Spark Row (struct)
        value = value.asDict(recursive=True)
    if isinstance(value, dict):
        return tuple(sorted((str(k), normalise(v)) for k, v in value.items() if v is not None))
    if isinstance(value, list | tuple):
        return tuple(normalise(v) for v in value)
    return repr(value)


def normalise_rows(rows: list[tuple]) -> Counter:
    return Counter(tuple(normalise(v) for v in row) for row in rows)


def describe_difference(duck: Counter, spark: Counter, columns: list[str], limit: int = 3) -> str:
    only_duck = list((duck - spark).elements())[:limit]
    only_spark = list((spark - duck).elements())[:limit]
    lines = []
    for label, rows in (("only in duckdb", only_duck), ("only in spark", only_spark)):
        for row in rows:
            lines.append(f"    {label}: " + ", ".join(f"{c}={v!r}" for c, v in zip(columns, row, strict=False)))
    return "\n".join(lines)


# ------------------------------------------------------------------- building


def prepare_duckdb(work: Path, people: int, seed: int) -> tuple[Path, str]:
    """Generate and load the sample data; returns the DuckDB file and the as_of text."""
    from journey_atc.cli import DEFAULT_AS_OF, as_of_text, infer_as_of
    from journey_atc.datagen import generate
    from journey_atc.loader import load_directory

    data_dir = work / "data"
    db_path = work / "duckdb" / "warehouse.duckdb"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    generate(data_dir, people=people, seed=seed, as_of=DEFAULT_AS_OF, fmt="parquet")
    load_directory(db_path, data_dir, replace=True)
    as_of = as_of_text(infer_as_of(db_path) or DEFAULT_AS_OF)
    return db_path, as_of


def read_as_of(work: Path) -> str:
    return (work / "as_of.txt").read_text().strip()


def build_duckdb(work: Path, db_path: Path, as_of: str) -> None:
    dbt_vars = {"atc__as_of": as_of}
    run_dbt(["seed", "--target", "duckdb"], db_path=db_path, dbt_vars=dbt_vars, work_dir=work / "duckdb")
    run_dbt(["build", "--target", "duckdb"], db_path=db_path, dbt_vars=dbt_vars, work_dir=work / "duckdb")


def export_raw_tables(db_path: Path, out_dir: Path) -> dict[tuple[str, str], Path]:
    """Every table of the raw schemas as one Parquet file each."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in (?, ?) and table_type = 'BASE TABLE' order by 1, 2",
            list(RAW_SCHEMAS),
        ).fetchall()
        for schema, table in tables:
            path = out_dir / f"{schema}.{table}.parquet"
            con.execute(f"copy {schema}.\"{table}\" to '{path}' (format parquet)")
            files[(schema, table)] = path
    return files


def spark_session(work: Path):
    """A local Spark session in UTC with its metastore and warehouse under ``work``."""
    from pyspark.sql import SparkSession

    spark_dir = work / "spark"
    spark_dir.mkdir(parents=True, exist_ok=True)
    java_options = f"-Duser.timezone=UTC -Dderby.system.home={spark_dir}"
    builder = (
        SparkSession.builder.master(os.environ.get("ATC_SPARK_MASTER", "local[2]"))
        .appName("journey-atc spark check")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.sql.variant.allowDuplicateKeys", "true")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.driver.memory", os.environ.get("ATC_SPARK_DRIVER_MEMORY", "2g"))
        .config("spark.sql.warehouse.dir", str(spark_dir / "warehouse"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true",
        )
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.adaptive.enabled", "true")
        .enableHiveSupport()
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def register_raw_tables(spark, files: dict[tuple[str, str], Path]) -> None:
    """The raw landing tables in Spark, with DuckDB's plain timestamps as Spark timestamps."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import TimestampNTZType

    for schema in RAW_SCHEMAS:
        spark.sql(f"create database if not exists {schema}")
    for (schema, table), path in files.items():
        frame = spark.read.parquet(str(path))
        for field in frame.schema.fields:
            if isinstance(field.dataType, TimestampNTZType):
                frame = frame.withColumn(field.name, F.col(field.name).cast("timestamp"))
        spark.sql(f"drop table if exists {schema}.{table}")
        frame.write.format("parquet").saveAsTable(f"{schema}.{table}")


def build_spark(work: Path, as_of: str, schema: str) -> None:
    from dbt.cli.main import dbtRunner

    os.environ["DBT_PROFILES_DIR"] = str(PROJECT_DIR)
    os.environ["ATC_SPARK_SCHEMA"] = schema
    os.environ["DBT_LOG_PATH"] = str(work / "spark" / "logs")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    common = [
        "--target",
        "spark",
        "--project-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work / "spark" / "target"),
        "--vars",
        json.dumps({"atc__as_of": as_of}),
    ]
    runner = dbtRunner()
    for command in (["seed"], ["build"]):
        result = runner.invoke([*command, *common])
        if not result.success:
            failed = []
            for item in getattr(result.result, "results", None) or []:
                if str(item.status) in ("error", "fail"):
                    failed.append(f"  {item.status}: {item.node.unique_id}: {(item.message or '').strip()[:400]}")
            detail = "\n".join(failed) or f"  {result.exception!r}"
            raise RuntimeError(f"dbt {command[0]} on spark failed:\n{detail}")


# ----------------------------------------------------------------- comparing


def project_models(work: Path) -> list[str]:
    manifest = json.loads((work / "duckdb" / "target" / "manifest.json").read_text())
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") != "ephemeral"
    )


def compare(spark, db_path: Path, schema: str, models: list[str]) -> list[dict]:
    results = []
    with duckdb.connect(str(db_path), read_only=True) as con:
        for model in models:
            cur = con.execute(f'select * from main."{model}"')
            columns = [d[0].lower() for d in cur.description]
            duck_rows = cur.fetchall()
            spark_frame = spark.table(f"{schema}.{model}")
            spark_columns = [c.lower() for c in spark_frame.columns]
            row = {"model": model, "rows_duckdb": len(duck_rows), "rows_spark": None, "equal": False, "detail": ""}
            if sorted(spark_columns) != sorted(columns):
                row["detail"] = f"    columns differ: duckdb {columns} / spark {spark_columns}"
                results.append(row)
                continue
            spark_rows = [tuple(r) for r in spark_frame.select(*columns).collect()]
            row["rows_spark"] = len(spark_rows)
            duck_set, spark_set = normalise_rows(duck_rows), normalise_rows(spark_rows)
            row["equal"] = duck_set == spark_set
            if not row["equal"]:
                row["detail"] = describe_difference(duck_set, spark_set, columns)
            results.append(row)
    return results


def print_table(results: list[dict]) -> None:
    width = max(len(r["model"]) for r in results)
    print(f"{'model':<{width}}  {'rows duckdb':>11}  {'rows spark':>10}  equal")
    for r in results:
        spark_rows = "-" if r["rows_spark"] is None else f"{r['rows_spark']:,}"
        print(f"{r['model']:<{width}}  {r['rows_duckdb']:>11,}  {spark_rows:>10}  {'yes' if r['equal'] else 'NO'}")
        if r["detail"]:
            print(r["detail"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=400, help="size of the generated data set")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work-dir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--all", action="store_true", help="compare every model, not only the key ones")
    parser.add_argument("--reuse-duckdb", action="store_true", help="reuse the DuckDB build in --work-dir")
    args = parser.parse_args(argv)

    # Spark hands timestamps to Python in the process's local time zone.
    os.environ["TZ"] = "UTC"
    time.tzset()
    work = (args.work_dir or Path(tempfile.mkdtemp(prefix="atc-spark-check-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    schema = os.environ.get("ATC_SPARK_SCHEMA", DEFAULT_SPARK_SCHEMA)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    spark = None
    try:
        if args.reuse_duckdb:
            db_path, as_of = work / "duckdb" / "warehouse.duckdb", read_as_of(work)
        else:
            db_path, as_of = prepare_duckdb(work, args.people, args.seed)
            timings["generate + load"] = time.perf_counter() - started
            step = time.perf_counter()
            build_duckdb(work, db_path, as_of)
            timings["duckdb build"] = time.perf_counter() - step
            (work / "as_of.txt").write_text(as_of)
        print(f"as_of {as_of}, work directory {work}", flush=True)

        step = time.perf_counter()
        shutil.rmtree(work / "spark", ignore_errors=True)
        spark = spark_session(work)
        register_raw_tables(spark, export_raw_tables(db_path, work / "raw_parquet"))
        timings["spark start + raw tables"] = time.perf_counter() - step

        step = time.perf_counter()
        build_spark(work, as_of, schema)
        timings["spark build"] = time.perf_counter() - step

        step = time.perf_counter()
        models = project_models(work) if args.all else KEY_MODELS
        results = compare(spark, db_path, schema, models)
        timings["compare"] = time.perf_counter() - step
    finally:
        if spark is not None:
            spark.stop()
        if not args.keep and args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)

    print_table(results)
    print("\n" + ", ".join(f"{k} {v:,.0f} s" for k, v in timings.items()))
    unequal = [r["model"] for r in results if not r["equal"]]
    if unequal:
        print(f"\nSPARK AND DUCKDB DIFFER on {len(unequal)} model(s): {', '.join(unequal)}")
        return 1
    print(f"\nSpark and DuckDB agree on all {len(results)} compared models.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
