"""`atc run`: run a Dagster job of the code location in this process, exactly as the UI would.

Same definitions, same assets, checks and gates; the run is recorded in
$DAGSTER_HOME when it is set, so it appears in the UI's run history.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)

JOBS = ["full_rebuild", "micro_batch", "profile_refresh"]


def _instance():
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _report(result) -> bool:
    checks = Table(title="Checks that did not pass")
    for col in ("asset", "check", "severity", "what it found"):
        checks.add_column(col)
    syncs = Table(title="Syncs")
    for col in ("sync", "status", "added", "changed", "removed", "rejected", "invalid"):
        syncs.add_column(col, justify="right" if col not in ("sync", "status") else "left")
    failed_steps = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            if not data.passed:
                checks.add_row(
                    data.asset_key.to_user_string(), data.check_name, data.severity.value, data.description or ""
                )
        elif event.is_step_failure:
            failed_steps.append((event.step_key, event.event_specific_data.error.message.strip().splitlines()[0]))
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        if mat.asset_key.path[0] == "sync":
            meta = {k: v.value for k, v in mat.metadata.items()}
            syncs.add_row(
                mat.asset_key.path[-1],
                str(meta.get("status")),
                *(f"{meta.get(f, 0):,}" for f in ("added", "changed", "removed", "rejected", "invalid")),
            )
    if checks.row_count:
        console.print(checks)
    if syncs.row_count:
        console.print(syncs)
    for step, message in failed_steps:
        err_console.print(f"[red]{step} failed:[/red] {message}")
    return result.success


@click.command("run")
@click.option("--job", "job_name", type=click.Choice(JOBS), default="full_rebuild", show_default=True)
@click.option("--db", "db_path", type=click.Path(path_type=Path, dir_okay=False), default=None)
@click.option("--as-of", "as_of", default=None, help="ISO-8601 UTC. Default: the latest received_at in raw.events.")
@click.option("--confirm-churn", is_flag=True, help="Let syncs go out although many people change journey.")
def run_cmd(job_name: str, db_path: Path | None, as_of: str | None, confirm_churn: bool) -> None:
    """Run a Dagster job (loads the inbox, builds, checks and syncs) as the UI does."""
    from journey_atc.cli import default_db, infer_as_of, parse_as_of

    db_path = (db_path or default_db()).resolve()
    moment = parse_as_of(as_of) if as_of else (infer_as_of(db_path) if db_path.exists() else None)
    if not execute_job(job_name, db_path, moment, confirm_churn):
        sys.exit(1)


def execute_job(job_name: str, db_path: Path, as_of=None, confirm_churn: bool = False) -> bool:
    """Run one job of the code location in this process; print checks and syncs; return success.

    as_of: a datetime, or None for the current minute (as a scheduled run would).
    """
    from orchestration.definitions import defs
    from orchestration.resources import as_of_for_dbt

    config: dict = {"db_path": str(db_path), "confirm_churn": confirm_churn}
    if as_of is not None:
        config["as_of"] = as_of_for_dbt(as_of)
    console.print(f"Running {job_name} on {db_path} with as_of = {config.get('as_of', 'the current minute')} UTC")
    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(
        run_config={"resources": {"atc": {"config": config}}},
        instance=_instance(),
        raise_on_error=False,
    )
    if not _report(result):
        return False
    console.print(f"[green]{job_name} succeeded[/green] (run {result.run_id})")
    return True
