"""`atc`: the journey-atc command line.

atc demo                 generate a sample data set, load it, run the full job
                         (build, checks, syncs to the local sandbox), summarise
atc generate OUT_DIR     write a sample data set (Segment-spec files)
atc load DATA_DIR        load your own Segment-spec files into the raw schema
atc build                run `dbt seed` + `dbt build` with one as_of
atc summary              print what the last build found
atc explain WHO          why a person got their journey (person_id, email or user id)
atc sandbox              the local channel server emulating Braze, Iterable, Customer.io, ...
atc sync plan|run        what a sync would send / send it
atc run                  run a Dagster job in this process, as the UI does
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from journey_atc.dbt import PROJECT_DIR, DbtError, run_dbt
from journey_atc.summary import collect_summary, render_summary

console = Console(stderr=False)
err_console = Console(stderr=True)

DEFAULT_DB = "warehouse/journey_atc.duckdb"
DEFAULT_AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def default_db() -> Path:
    return Path(os.environ.get("ATC_DUCKDB_PATH", PROJECT_DIR / DEFAULT_DB))


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def parse_as_of(value: str) -> datetime:
    """Parse an ISO-8601 as_of; naive values are UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"as_of {value!r} is not an ISO-8601 timestamp") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def as_of_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def infer_as_of(db_path: Path) -> datetime | None:
    """The latest received_at in raw.events, rounded up to the minute (deterministic)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        row = con.execute("select max(try_cast(received_at as timestamptz)) from raw.events").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if not row or row[0] is None:
        return None
    latest = row[0].astimezone(UTC)
    if latest.second or latest.microsecond:
        latest = latest.replace(second=0, microsecond=0)
        latest = datetime.fromtimestamp(latest.timestamp() + 60, tz=UTC)
    return latest


def _report_load(report) -> None:
    for table, n in report.rows.items():
        console.print(f"  loaded raw.{table}: {n:,} rows")
    if report.rejected_count:
        err_console.print(
            f"[yellow]{report.rejected_count:,} record(s) could not be read and were kept in "
            "raw.load_rejects (nothing was dropped silently). First ones:"
        )
        for e in report.rejected[:10]:
            where = f"{e.file} line {e.line}" if e.line is not None else e.file
            field = f' field "{e.field}"' if e.field else ""
            err_console.print(f"  {where}:{field} {e.reason}")


def do_generate(out_dir: Path, people: int, seed: int, as_of: datetime, fmt: str) -> Path:
    from journey_atc.datagen import generate

    marker = out_dir / "_generated.json"
    wanted = {"people": people, "seed": seed, "as_of": as_of_text(as_of), "format": fmt}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        console.print(f"Sample data already in {out_dir} ({people:,} people, seed {seed}); reusing it.")
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    with _progress() as progress:
        task = progress.add_task(f"Generating {people:,} people", total=people)

        def on_progress(_stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = generate(out_dir, people=people, seed=seed, as_of=as_of, fmt=fmt, progress=on_progress)
    rows = ", ".join(f"{t} {n:,}" for t, n in report.rows.items())
    console.print(f"Generated in {report.seconds:,.1f} s: {rows}")
    marker.write_text(json.dumps(wanted))
    return out_dir


def do_load(db_path: Path, data_dir: Path):
    from journey_atc.loader import LoadFileError, load_directory

    db_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task(f"Loading {data_dir}", total=None)

        def on_progress(_stage: str, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        try:
            report = load_directory(db_path, data_dir, replace=True, progress=on_progress)
        except LoadFileError as exc:
            err_console.print(f"[red]Load refused:[/red] {exc}")
            sys.exit(2)
    _report_load(report)
    console.print(f"Loaded in {time.perf_counter() - started:,.1f} s into {db_path}")
    return report


def do_build(db_path: Path, as_of: datetime | None, select: str | None, full_refresh: bool) -> float:
    from journey_atc.incremental_state import full_refresh_reason

    reason = None if full_refresh else full_refresh_reason(db_path)
    if reason:
        console.print(f"{reason}: building with --full-refresh")
        full_refresh = True
    if as_of is None:
        as_of = infer_as_of(db_path) or DEFAULT_AS_OF
    dbt_vars = {"atc__as_of": as_of_text(as_of)}
    console.print(f"Building with as_of = {dbt_vars['atc__as_of']} UTC on {db_path}")
    started = time.perf_counter()
    try:
        run_dbt(["seed", "--quiet"], db_path=db_path, dbt_vars=dbt_vars, stream=True)
        args = ["build"]
        if select:
            args += ["--select", select]
        if full_refresh:
            args.append("--full-refresh")
        run_dbt(args, db_path=db_path, dbt_vars=dbt_vars, stream=True)
    except DbtError as exc:
        err_console.print(f"[red]{exc}")
        sys.exit(1)
    return time.perf_counter() - started


def do_summary(db_path: Path, as_of: datetime | None, build_seconds: float | None = None) -> None:
    summary = collect_summary(db_path)
    summary.as_of = as_of_text(as_of) if as_of else None
    summary.build_seconds = build_seconds
    render_summary(summary, console)
    out = db_path.with_suffix(".summary.json")
    out.write_text(summary.to_json())
    console.print(f"Summary written to {out}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """journey-atc: air traffic control for customer journeys."""


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=f"DuckDB warehouse file (default $ATC_DUCKDB_PATH or {DEFAULT_DB}).",
)
as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    help="'Now' for every model, ISO-8601 UTC. Default: the latest received_at in raw.events.",
)


@main.command()
@click.option("--people", default=10_000, show_default=True, help="Size of the sample data set.")
@click.option("--seed", default=7, show_default=True, help="Random seed (same seed, same data).")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False), default=None)
@db_option
def demo(people: int, seed: int, data_dir: Path | None, db_path: Path | None) -> None:
    """Generate a sample data set, load it into a fresh warehouse, run the full job
    (build, checks, syncs to the local sandbox channel server) and print a summary."""
    from activation.sandbox import SandboxServer
    from journey_atc.cli_run import execute_job

    db_path = (db_path or default_db()).resolve()
    data_dir = data_dir or PROJECT_DIR / "data" / f"sample-{people}-seed{seed}"
    do_generate(data_dir, people, seed, DEFAULT_AS_OF, "parquet")
    # The demo's sandbox starts empty, so its warehouse does too: sync state
    # left from an earlier demo would otherwise claim the new sandbox holds it.
    for stale in (db_path, db_path.with_name(db_path.name + ".wal")):
        stale.unlink(missing_ok=True)
    do_load(db_path, data_dir)
    started = time.perf_counter()
    with SandboxServer() as sandbox:
        os.environ["ATC_SANDBOX_PORT"] = str(sandbox.port)
        console.print(f"Sandbox channel server on {sandbox.url} (every sync in syncs.yml points here)")
        ok = execute_job("full_rebuild", db_path, DEFAULT_AS_OF)
        held = sandbox.state()
    do_summary(db_path, DEFAULT_AS_OF, time.perf_counter() - started)
    render_sandbox_holdings(held)
    if not ok:
        sys.exit(1)


def render_sandbox_holdings(state: dict) -> None:
    """What each emulated channel tool holds after the demo's syncs."""
    from rich.table import Table

    table = Table(title="What the channel tools now hold (sandbox)")
    table.add_column("tool")
    table.add_column("holds")
    for vendor, snapshot in sorted(state.items()):
        parts = [
            f"{name} {len(value):,}"
            for name, value in sorted(snapshot.items())
            if isinstance(value, dict | list) and value
        ]
        table.add_row(vendor, ", ".join(parts) or "nothing")
    console.print(table)


@main.command("generate")
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--people", default=10_000, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--as-of", "as_of", default=as_of_text(DEFAULT_AS_OF), show_default=True)
@click.option("--format", "fmt", type=click.Choice(["parquet", "jsonl"]), default="parquet")
def generate_cmd(out_dir: Path, people: int, seed: int, as_of: str, fmt: str) -> None:
    """Write a realistic, messy sample data set (Segment-spec files) to OUT_DIR."""
    do_generate(out_dir, people, seed, parse_as_of(as_of), fmt)


@main.command("load")
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@db_option
def load_cmd(data_dir: Path, db_path: Path | None) -> None:
    """Load Segment-spec events, message events and consents (JSON lines or Parquet)."""
    do_load(db_path or default_db(), data_dir)


@main.command("build")
@db_option
@as_of_option
@click.option("--select", default=None, help="dbt selection, e.g. 'tag:identity+'.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
def build_cmd(db_path: Path | None, as_of: str | None, select: str | None, full_refresh: bool) -> None:
    """Seed and build the dbt project with one as_of, then print the summary."""
    db_path = db_path or default_db()
    parsed = parse_as_of(as_of) if as_of else (infer_as_of(db_path) or DEFAULT_AS_OF)
    seconds = do_build(db_path, parsed, select, full_refresh)
    do_summary(db_path, parsed, seconds)


@main.command("summary")
@db_option
def summary_cmd(db_path: Path | None) -> None:
    """Print what the last build found (rows, quarantine, identity, consent)."""
    do_summary(db_path or default_db(), None)


@main.command("explain")
@click.argument("who")
@db_option
def explain_cmd(who: str, db_path: Path | None) -> None:
    """Show why WHO (a person_id, email:..., user_id:..., or a bare email / user id) got their journey."""
    from journey_atc.explain import PersonNotFound, explain, render_explanation

    try:
        expl = explain(db_path or default_db(), who)
    except PersonNotFound as exc:
        err_console.print(f"[red]{exc}")
        sys.exit(2)
    render_explanation(expl, console)


from journey_atc import cli_run, cli_sandbox, cli_sync  # noqa: E402  (they import helpers from this module)

main.add_command(cli_sandbox.sandbox_cmd)
main.add_command(cli_sync.sync)
main.add_command(cli_run.run_cmd)

if __name__ == "__main__":
    main()
