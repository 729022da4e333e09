"""Jobs, schedules and the inbox sensor.

* ``micro_batch``      every 5 minutes and whenever files land in the inbox: load new
                       files, rebuild staging, identity, journeys, guardrails and the
                       sync models, run the gates, push what changed.
* ``profile_refresh``  hourly: the profiles layer (and its seeds).
* ``full_rebuild``     nightly at 02:00 UTC: every seed, model, test, check and sync,
                       with ``dbt build --full-refresh`` (incremental models rebuilt
                       from scratch; docs/incremental.md).

Runs never overlap: every run carries the ``journey_atc/warehouse`` tag, limited to
one run at a time by ``orchestration/dagster.yaml`` (the run queue), and the
schedules and the sensor also skip while a run is queued or in progress (that
holds with any instance configuration). One DuckDB file has one writer, so
steps run in one process, one after another.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from orchestration.assets.raw import pending_files, raw_landing
from orchestration.resources import AS_OF_TAG, FULL_REFRESH_TAG, AtcResource, as_of_for_dbt, minute_floor

WAREHOUSE_TAG = "journey_atc/warehouse"
RUN_TAGS = {
    WAREHOUSE_TAG: "default",
    # Re-launch a run whose process died (run_retries in dagster.yaml); a step that
    # failed on its own (a blocked check, a dbt test) is not retried as a whole run.
    "dagster/max_retries": "1",
    "dagster/retry_on_asset_or_op_failure": "false",
}
ACTIVE_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
MICRO_BATCH_CRON = "*/5 * * * *"
PROFILE_REFRESH_CRON = "7 * * * *"
FULL_REBUILD_CRON = "0 2 * * *"


def build_jobs(
    dbt_assets_def: dg.AssetsDefinition,
    sync_assets: Sequence[dg.AssetsDefinition],
    gate_checks: Sequence[dg.AssetChecksDefinition] = (),
) -> list:
    syncs = dg.AssetSelection.assets(*sync_assets) if sync_assets else None
    micro_dbt = build_dbt_asset_selection(
        [dbt_assets_def],
        dbt_select="fqn:*",
        dbt_exclude="resource_type:seed path:dbt_project/models/profiles",
    )
    micro = dg.AssetSelection.assets(raw_landing) | micro_dbt
    if syncs is not None:
        micro = micro | syncs
    profiles = build_dbt_asset_selection(
        [dbt_assets_def], dbt_select="path:dbt_project/models/profiles path:seeds/profiles"
    )
    # A dbt selection carries only dbt's own tests: add the gates in front of the syncs.
    if gate_checks:
        micro = micro | dg.AssetSelection.checks(*gate_checks)
    everything = dg.AssetSelection.all()
    return [
        dg.define_asset_job(
            "micro_batch",
            selection=micro,
            description="New events to decisions, guardrails and the syncs of what changed (profiles excluded).",
            tags=RUN_TAGS,
            executor_def=dg.in_process_executor,
        ),
        dg.define_asset_job(
            "profile_refresh",
            selection=profiles,
            description="Rebuilds the profiles layer: contactability, consent, traits, RFM.",
            tags=RUN_TAGS,
            executor_def=dg.in_process_executor,
        ),
        dg.define_asset_job(
            "full_rebuild",
            selection=everything,
            description=(
                "Every seed, model, test, check and sync, with dbt build --full-refresh: incremental "
                "models are rebuilt from scratch. History tables (identity_merges, "
                "journey_assignment_history, guardrail_decision_log) are appended to, never dropped."
            ),
            tags={**RUN_TAGS, FULL_REFRESH_TAG: "true"},
            executor_def=dg.in_process_executor,
        ),
    ]


def busy(instance: dg.DagsterInstance) -> bool:
    """Whether a journey-atc run is queued or running."""
    records = instance.get_run_records(
        dg.RunsFilter(statuses=ACTIVE_STATUSES, tags={WAREHOUSE_TAG: "default"}), limit=1
    )
    return bool(records)


def _as_of_tags(moment: datetime) -> dict[str, str]:
    return {AS_OF_TAG: as_of_for_dbt(minute_floor(moment))}


def _schedule(name: str, job_name: str, cron: str, description: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=name,
        job_name=job_name,
        cron_schedule=cron,
        execution_timezone="UTC",
        description=description,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    def _run(context: dg.ScheduleEvaluationContext):
        if busy(context.instance):
            return dg.SkipReason("A journey-atc run is still queued or running; runs never overlap.")
        due = context.scheduled_execution_time or datetime.now(UTC)
        return dg.RunRequest(tags=_as_of_tags(due))

    return _run


def build_schedules() -> list[dg.ScheduleDefinition]:
    return [
        _schedule(
            "micro_batch_every_5_minutes",
            "micro_batch",
            MICRO_BATCH_CRON,
            "Every 5 minutes: as_of = the minute the run was due.",
        ),
        _schedule("profile_refresh_hourly", "profile_refresh", PROFILE_REFRESH_CRON, "Hourly at minute 7."),
        _schedule("full_rebuild_nightly", "full_rebuild", FULL_REBUILD_CRON, "Nightly at 02:00 UTC."),
    ]


@dg.sensor(
    name="inbox_files_sensor",
    job_name="micro_batch",
    minimum_interval_seconds=30,
    description="Starts the micro-batch when new event files land in the inbox ($ATC_INBOX_DIR, default data/inbox).",
    default_status=dg.DefaultSensorStatus.STOPPED,
)
def inbox_files_sensor(context: dg.SensorEvaluationContext, atc: AtcResource):
    files = pending_files(atc.inbox)
    if not files:
        return dg.SkipReason(f"No new files in {atc.inbox}.")
    newest = max(path.stat().st_mtime for _, path in files)
    signature = f"{newest:.6f}:{len(files)}"
    if signature == context.cursor:
        return dg.SkipReason(f"{len(files)} file(s) in {atc.inbox} already handed to a run.")
    if busy(context.instance):
        return dg.SkipReason("A journey-atc run is still queued or running; the files wait for the next one.")
    context.log.info("New in the inbox: " + ", ".join(str(p.relative_to(atc.inbox)) for _, p in files[:10]))
    context.update_cursor(signature)
    return dg.RunRequest(
        run_key=f"inbox-{signature}",
        tags={**_as_of_tags(datetime.now(UTC)), "journey_atc/inbox_files": str(len(files))},
    )
