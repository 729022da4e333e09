"""The journey-atc code location: ``dagster dev`` loads ``defs`` from here (see workspace.yaml)."""

from __future__ import annotations

import logging
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, get_asset_key_for_model

from journey_atc.dbt import PROJECT_DIR
from orchestration.assets.dbt import build_dbt_assets
from orchestration.assets.raw import raw_landing
from orchestration.assets.syncs import build_sync_definitions
from orchestration.checks import CORE_CHECKS, GUARDRAIL_CHECKS
from orchestration.jobs import build_jobs, build_schedules, inbox_files_sensor
from orchestration.project import DBT_EXECUTABLE, make_project
from orchestration.resources import AtcResource

log = logging.getLogger("journey_atc.orchestration")

# Assets guarded by a blocking check; every sync asset depends on them directly.
GATED_MODELS = ("identity_person_map", "journey_assignments", "stg_segment__events", "guardrail_decisions")


def sync_engine_tables() -> list[dg.AssetSpec]:
    """The sync engine's own tables (schema atc_sync), which dbt reads back as a source.

    Written by the sync assets as they run, not materialized on their own: declared
    here so they sit in the activation group (the guardrails' ledger reads
    ``sync_acknowledgements``) instead of appearing as unowned stubs.
    """
    from activation.state import SYNC_SCHEMA, SYNC_TABLES

    return [
        dg.AssetSpec(
            [SYNC_SCHEMA, table],
            group_name="activation",
            owners=["team:activation"],
            kinds={"duckdb"},
            description=f"{SYNC_SCHEMA}.{table}, written by the sync engine (activation/state.py).",
            tags={"journey_atc/layer": "activation"},
        )
        for table in SYNC_TABLES
    ]


def _model_names(project: DbtProject) -> set[str]:
    import json

    manifest = json.loads(Path(project.manifest_path).read_text())
    return {n["name"] for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")}


def build_definitions(
    project: DbtProject | None = None,
    atc: AtcResource | None = None,
    syncs_config: str | Path | None = None,
) -> dg.Definitions:
    """Everything in the code location, for ``project`` (the repository's dbt project by default)."""
    project = project or make_project(PROJECT_DIR)
    dbt_assets_def = build_dbt_assets(project)
    models = _model_names(project)
    gates = [get_asset_key_for_model([dbt_assets_def], m) for m in GATED_MODELS if m in models]
    checks = list(CORE_CHECKS) + (list(GUARDRAIL_CHECKS) if "guardrail_decisions" in models else [])
    sync_assets, sync_checks = build_sync_definitions(dbt_assets_def, gates, syncs_config)
    return dg.Definitions(
        assets=[raw_landing, dbt_assets_def, *sync_assets, *sync_engine_tables()],
        asset_checks=[*checks, *sync_checks],
        jobs=build_jobs(dbt_assets_def, sync_assets, checks),
        schedules=build_schedules(),
        sensors=[inbox_files_sensor],
        resources={
            "dbt": DbtCliResource(project_dir=project, dbt_executable=DBT_EXECUTABLE),
            "atc": atc or AtcResource(syncs_config=str(syncs_config) if syncs_config else None),
        },
        executor=dg.in_process_executor,
    )


defs = build_definitions()
