"""`atc sync`: see what a sync would send, then send it.

atc sync plan [NAME ...|--all]   counts by change type and sample rows; calls nothing
atc sync run  [NAME ...|--all]   push the changes with a progress bar, then a summary table
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from activation.protocol import ConfigurationError, SyncRunResult, stage_split

# Piped output gets a fixed width so the summary table keeps every column readable.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

SUMMARY_COLUMNS = ("added", "changed", "removed", "unchanged", "invalid", "rejected", "retries", "seconds")


def _default_db() -> Path:
    from journey_atc.cli import default_db

    return default_db()


def _select(names: tuple[str, ...], all_syncs: bool, config_path: Path | None) -> tuple[dict, list[str]]:
    from activation.engine import load_config

    try:
        syncs = load_config(config_path)
    except ConfigurationError as exc:
        err_console.print(f"[red]Configuration refused:[/red] {escape(str(exc))}")
        sys.exit(2)
    if all_syncs and names:
        raise click.UsageError("name syncs or pass --all, not both")
    if not all_syncs and not names:
        raise click.UsageError(f"name a sync or pass --all (configured: {', '.join(syncs)})")
    chosen = list(syncs) if all_syncs else list(names)
    unknown = [n for n in chosen if n not in syncs]
    if unknown:
        err_console.print(f"[red]No sync named {', '.join(unknown)}[/red] (configured: {', '.join(syncs)})")
        sys.exit(2)
    return syncs, chosen


def _summary_table(title: str, results: list[SyncRunResult]) -> Table:
    table = Table(title=title)
    table.add_column("sync", no_wrap=True)
    table.add_column("destination")
    for col in SUMMARY_COLUMNS:
        table.add_column(col, justify="right")
    table.add_column("diff/send/finish s", justify="right")
    table.add_column("status")
    for r in results:
        status_style = {"ok": "green", "partial": "yellow", "failed": "red"}.get(r.status, "")
        table.add_row(
            r.sync_name,
            r.destination,
            *[f"{getattr(r, c):,.1f}" if c == "seconds" else f"{getattr(r, c):,}" for c in SUMMARY_COLUMNS],
            stage_split(r.stage_seconds),
            f"[{status_style}]{r.status}[/{status_style}]" if status_style else r.status,
        )
    return table


def _plan_table(results: list[SyncRunResult], syncs: dict) -> Table:
    table = Table(title="Sync plan (nothing was sent)")
    for col in ("sync", "destination", "mode"):
        table.add_column(col)
    for col in ("added", "changed", "removed", "unchanged", "invalid", "batches"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(
            r.sync_name,
            r.destination,
            syncs[r.sync_name].mode,
            *[f"{getattr(r, c):,}" for c in ("added", "changed", "removed", "unchanged", "invalid", "batches")],
        )
    return table


@click.group("sync", context_settings={"help_option_names": ["-h", "--help"]})
def sync() -> None:
    """Push each sync model's changes to its channel tool (reverse ETL)."""


db_option = click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="DuckDB warehouse file (default $ATC_DUCKDB_PATH or the project's).",
)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Sync configuration (default $ATC_SYNCS_CONFIG or syncs.yml at the project root).",
)
all_option = click.option("--all", "all_syncs", is_flag=True, help="Every configured sync.")


@sync.command("plan")
@click.argument("names", nargs=-1)
@all_option
@db_option
@config_option
@click.option("--samples", default=3, show_default=True, help="Sample rows shown per change type.")
def plan_cmd(names, all_syncs, db_path, config_path, samples) -> None:
    """Show what NAME would send (counts by change type, sample rows) without calling anything."""
    from activation.engine import plan_sync

    syncs, chosen = _select(names, all_syncs, config_path)
    db_path = db_path or _default_db()
    results = []
    for name in chosen:
        try:
            result = plan_sync(name, db_path, config_path, syncs=syncs)
        except ConfigurationError as exc:
            err_console.print(f"[red]{escape(str(exc))}[/red]")
            sys.exit(2)
        results.append(result)
        sync_cfg = syncs[name]
        console.print(
            f"[bold]{name}[/bold] -> {sync_cfg.destination} ({sync_cfg.mode}, {sync_cfg.object}): "
            f"{result.added:,} added, {result.changed:,} changed, {result.removed:,} removed, "
            f"{result.unchanged:,} unchanged, {result.invalid:,} invalid; "
            f"{result.batches:,} batch(es), {result.retries:,} earlier rejection(s) to retry",
            soft_wrap=True,
        )
        shown: dict[str, int] = {}
        for sample in result.samples:
            if shown.get(sample["change"], 0) >= samples:
                continue
            shown[sample["change"]] = shown.get(sample["change"], 0) + 1
            where = f" [{sample['audience_id']}]" if sample.get("audience_id") else ""
            action = f" as {sample['action']}" if sample.get("action") else ""
            line = f"  {sample['change']}{action}{where} {sample['key']}: {json.dumps(sample['payload'])}"
            console.print(escape(line), soft_wrap=True)
    console.print(_plan_table(results, syncs))


@sync.command("run")
@click.argument("names", nargs=-1)
@all_option
@db_option
@config_option
def run_cmd(names, all_syncs, db_path, config_path) -> None:
    """Send NAME's changes to its channel tool; state advances only for what it acknowledged."""
    from activation.engine import run_sync

    syncs, chosen = _select(names, all_syncs, config_path)
    db_path = db_path or _default_db()
    results: list[SyncRunResult] = []
    refused: list[str] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        for name in chosen:
            task = progress.add_task(f"{name} -> {syncs[name].destination}", total=None)

            def on_progress(done: int, total: int, task=task) -> None:
                if total == 0:  # nothing to send: show the task as done
                    done, total = 1, 1
                progress.update(task, completed=done, total=total)

            try:
                results.append(run_sync(name, db_path, config_path, progress=on_progress, syncs=syncs))
            except ConfigurationError as exc:
                refused.append(f"{exc}")
                progress.update(task, total=1, completed=0, description=f"{name} (refused)")
    console.print(_summary_table("Sync runs", results))
    for r in results:
        if r.error:
            err_console.print(f"[yellow]{r.sync_name}:[/yellow] {escape(r.error)}")
        if r.rejected:
            err_console.print(
                f"[yellow]{r.sync_name}:[/yellow] {r.rejected:,} record(s) refused; see atc_sync.sync_rejections "
                "(they are retried on the next run)"
            )
    for message in refused:
        err_console.print(f"[red]Refused:[/red] {escape(message)}")
    if refused or any(r.status == "failed" for r in results):
        sys.exit(1)
