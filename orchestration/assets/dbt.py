"""Every dbt model, seed and test of journey-atc as Dagster assets and asset checks.

One ``@dbt_assets`` definition streams ``dbt build`` with the run's as_of; the
translator groups assets by layer and takes descriptions and owners from dbt.
"""

import json
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from journey_atc.incremental_state import full_refresh_reason
from orchestration import reports
from orchestration.resources import FULL_REFRESH_TAG, AtcResource, as_of_for_dbt

# The layers, in flow order; a dbt node's group is the first folder under
# models/ (or seeds/) when it names one of them.
LAYERS = ("staging", "identity", "profiles", "journeys", "guardrails", "activation")
DEFAULT_OWNER = "team:analytics-engineering"
DBT_ASSETS_NAME = "journey_atc_dbt"


class JourneyAtcTranslator(DagsterDbtTranslator):
    """Groups by layer; description and owners from the dbt YAML (``meta.owner`` / ``meta.owners``)."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") == "source":
            return spec.replace_attributes(group_name="raw")
        layer = layer_of(props)
        owners = owners_of(props)
        return spec.replace_attributes(
            group_name=layer,
            owners=owners,
            description=(props.get("description") or "").strip()
            or f"dbt {props.get('resource_type')} `{props['name']}`",
        ).merge_attributes(tags={"journey_atc/layer": layer})


def layer_of(props: Mapping[str, Any]) -> str:
    """The layer a dbt node belongs to: its folder, else its dbt tags, else ``other``."""
    fqn = props.get("fqn") or []
    for part in fqn[1:-1]:
        if part in LAYERS:
            return part
    for tag in props.get("tags") or []:
        if tag in LAYERS:
            return tag
    return "other"


def owners_of(props: Mapping[str, Any]) -> list[str]:
    """``meta.owners`` (a list) or ``meta.owner`` from the node or its config; the default team otherwise."""
    metas = [props.get("meta") or {}, (props.get("config") or {}).get("meta") or {}]
    for meta in metas:
        owners = meta.get("owners") or meta.get("owner")
        if isinstance(owners, str):
            owners = [owners]
        if owners:
            return [o if "@" in o or o.startswith("team:") else f"team:{o}" for o in owners]
    return [DEFAULT_OWNER]


TRANSLATOR = JourneyAtcTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

# Assets whose materialization carries a report built after dbt has finished
# (DuckDB allows no reader while dbt writes).
REPORTED_MODELS = ("journey_assignments", "guardrail_decisions")


def warehouse_is_free(db_path) -> bool:
    """Whether another process holds the DuckDB file's write lock right now."""
    try:
        duckdb.connect(str(db_path)).close()
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            return False
        raise
    return True


def dbt_build_args(as_of_text: str, tags: Mapping[str, str], refresh_reason: str | None = None) -> list[str]:
    """The dbt command of a run: incremental, or a full refresh when the run is tagged for one
    or the warehouse needs one (journey_atc.incremental_state.full_refresh_reason).

    dbt's unit tests check the models' logic on fixed rows, not the warehouse's data: the
    nightly full_rebuild runs them (and CI does), the five-minute and hourly runs do not."""
    args = ["build", "--vars", json.dumps({"atc__as_of": as_of_text})]
    if tags.get(FULL_REFRESH_TAG) != "true":
        args += ["--exclude-resource-type", "unit_test"]
    if tags.get(FULL_REFRESH_TAG) == "true" or refresh_reason:
        args.append("--full-refresh")
    return args


def build_dbt_assets(project: DbtProject) -> dg.AssetsDefinition:
    """The ``@dbt_assets`` definition for ``project``."""

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=TRANSLATOR,
        name=DBT_ASSETS_NAME,
        op_tags={"journey_atc/step": "dbt"},
    )
    def journey_atc_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource, atc: AtcResource):
        as_of = atc.resolve_as_of(context)
        atc.db.parent.mkdir(parents=True, exist_ok=True)
        if not warehouse_is_free(atc.db):
            # Someone else (an `atc` command, a notebook) is writing: try again shortly.
            raise dg.RetryRequested(max_retries=5, seconds_to_wait=15)
        # profiles.yml reads the warehouse path from the environment of the dbt process.
        os.environ["ATC_DUCKDB_PATH"] = str(atc.db)
        refresh_reason = full_refresh_reason(atc.db)
        if refresh_reason:
            context.log.warning(f"{refresh_reason}: this run builds with --full-refresh")
        args = dbt_build_args(as_of_for_dbt(as_of), context.run.tags, refresh_reason)
        mode = "full refresh" if "--full-refresh" in args else "incremental"
        context.log.info(f"dbt build ({mode}) with as_of = {as_of_for_dbt(as_of)} UTC on {atc.db}")
        invocation = dbt.cli(
            args,
            context=context,
            raise_on_error=False,
        )
        # From the first reported model on, events wait until dbt has finished (and
        # released the DuckDB lock) so the report can be attached; order is kept, as
        # Dagster wants a multi-asset's outputs in topological order.
        held: list[Any] = []
        for event in invocation.stream():
            if held or _reported_model(event, context):
                held.append(event)
            else:
                yield event
        yield from _with_reports(held, atc, as_of, context)
        error = invocation.get_error()
        if error is not None:
            raise error

    return journey_atc_dbt


def _reported_model(event: Any, context) -> str | None:
    if not isinstance(event, dg.Output):
        return None
    name = context.asset_key_for_output(event.output_name).path[-1]
    return name if name in REPORTED_MODELS else None


def _with_reports(held: list[Any], atc: AtcResource, as_of, context):
    """Yield the held events in order, the reported models' Outputs with their Markdown reports."""
    extra: dict[str, dict[str, Any]] = {}
    if held:
        try:
            with atc.connect() as con:
                if reports.table_exists(con, "journey_assignments"):
                    png = reports.journey_activity_chart(con, as_of)
                    path = atc.db.parent / "reports" / f"journey-activity-{context.run.run_id[:8]}.png"
                    extra["journey_assignments"] = {
                        "people_per_journey": dg.MetadataValue.md(reports.people_per_journey(con)),
                        **reports.chart_metadata(png, path),
                    }
                if reports.table_exists(con, "guardrail_decisions"):
                    extra["guardrail_decisions"] = {
                        "decisions_by_reason_code": dg.MetadataValue.md(reports.decisions_by_reason(con))
                    }
        except duckdb.Error as exc:
            context.log.warning(f"could not build the reports: {exc}")
    for event in held:
        metadata = extra.get(_reported_model(event, context) or "")
        yield event.with_metadata({**(event.metadata or {}), **metadata}) if metadata else event
