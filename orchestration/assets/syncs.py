"""One asset per destination sync in ``syncs.yml``, downstream of its ``sync_*`` model.

Each runs ``activation.engine.run_sync`` (diff in the warehouse, batched and
retried pushes, state advanced only on acknowledgement) and reports what it did.
A sync asset also depends directly on every asset a blocking check guards, so a
failing gate (identity, churn, freshness, guardrails) skips every sync.
"""

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import get_asset_key_for_model

from orchestration.checks import destination_health_check
from orchestration.reports import markdown_table
from orchestration.resources import AtcResource

log = logging.getLogger("journey_atc.orchestration")

SYNC_RETRIES = 2
OUTCOME_FIELDS = (
    "added",
    "changed",
    "removed",
    "unchanged",
    "rejected",
    "invalid",
    "acknowledged",
    "batches",
    "retries",
)


def sync_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["sync", name])


def load_syncs(config_path: str | Path | None = None) -> Mapping[str, Any]:
    """The syncs declared in ``syncs.yml`` (validated by the activation engine).

    No sync assets when the activation engine is not installed or no ``syncs.yml``
    exists (a warehouse-only deployment); an invalid ``syncs.yml`` fails the load
    with the engine's message naming the sync and field.
    """
    try:
        from activation.config import config_path_or_default
        from activation.engine import load_config
    except ImportError as exc:
        log.warning(f"activation engine unavailable ({exc}); no sync assets")
        return {}
    path = config_path_or_default(config_path)
    if not path.exists():
        log.warning(f"no sync configuration at {path}; no sync assets")
        return {}
    return load_config(path)


def last_sync_run(db_path: Path, sync_name: str) -> dict | None:
    from activation.engine import last_runs

    return next((r for r in last_runs(db_path) if r["sync_name"] == sync_name), None)


def outcome_table(result) -> str:
    return markdown_table(
        ["status", *OUTCOME_FIELDS, "seconds"],
        [[result.status, *(getattr(result, f) for f in OUTCOME_FIELDS), result.seconds]],
    )


def samples_table(samples: Sequence[Mapping[str, Any]]) -> str:
    rows = [[s.get("change"), s.get("audience_id", ""), s.get("key"), _short(s.get("payload"))] for s in samples[:15]]
    return markdown_table(["change", "audience", "key", "payload"], rows)


def _short(value: Any, limit: int = 120) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_sync_asset(
    name: str, sync: Any, dbt_assets_def: dg.AssetsDefinition, gate_keys: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    model_key = get_asset_key_for_model([dbt_assets_def], sync.model)
    deps = [model_key, *[k for k in gate_keys if k != model_key]]

    @dg.asset(
        key=sync_key(name),
        deps=deps,
        group_name="activation",
        owners=["team:activation"],
        kinds={"python", sync.destination},
        tags={"journey_atc/destination": sync.destination, "journey_atc/layer": "activation"},
        description=(
            getattr(sync, "description", None)
            or f"Pushes what changed in `{sync.model}` to {sync.destination} ({sync.object}, {sync.mode})."
        ),
        op_tags={"journey_atc/step": "sync"},
    )
    def _sync(context: dg.AssetExecutionContext, atc: AtcResource) -> dg.MaterializeResult:
        from activation.engine import run_sync
        from activation.protocol import ConfigurationError

        def progress(done: int, total: int) -> None:
            if total and (done == total or done % 1000 == 0):
                context.log.info(f"{name}: {done:,}/{total:,} records handled")

        try:
            result = run_sync(name, atc.db, atc.syncs_config, progress=progress)
        except ConfigurationError as exc:
            # Credentials, permissions, settings: an operator must act; retrying cannot help.
            raise dg.Failure(description=f"{name}: {exc}", allow_retries=False) from None
        transient = result.status == "failed" or (result.status == "partial" and "deferred" in (result.error or ""))
        if transient and context.retry_number < SYNC_RETRIES:
            context.log.warning(f"{name}: {result.error}; retrying (records not acknowledged are sent again)")
            raise dg.RetryRequested(max_retries=SYNC_RETRIES, seconds_to_wait=10 * (context.retry_number + 1))
        metadata: dict[str, Any] = {f: dg.MetadataValue.int(int(getattr(result, f))) for f in OUTCOME_FIELDS}
        metadata.update(
            {
                "status": dg.MetadataValue.text(result.status),
                "sync_outcome": dg.MetadataValue.md(outcome_table(result)),
                "seconds": dg.MetadataValue.float(float(result.seconds)),
                # Where the seconds went, plotted per run in the asset's history.
                **{
                    f"{stage}_seconds": dg.MetadataValue.float(float(seconds))
                    for stage, seconds in result.stage_seconds.items()
                },
                "sync_run_id": dg.MetadataValue.text(result.run_id),
                "model": dg.MetadataValue.text(sync.model),
                "destination": dg.MetadataValue.text(sync.destination),
            }
        )
        if result.samples:
            metadata["samples"] = dg.MetadataValue.md(samples_table(result.samples))
        if result.error:
            metadata["error"] = dg.MetadataValue.text(result.error)
        if result.status == "failed":
            raise dg.Failure(description=f"{name} failed: {result.error}", metadata=metadata)
        return dg.MaterializeResult(metadata=metadata)

    return _sync


def build_sync_definitions(
    dbt_assets_def: dg.AssetsDefinition, gate_keys: Sequence[dg.AssetKey], config_path: str | Path | None = None
) -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    """Sync assets and their destination-health checks, one per sync in ``syncs.yml``."""
    syncs = load_syncs(config_path)
    assets = [build_sync_asset(name, sync, dbt_assets_def, gate_keys) for name, sync in sorted(syncs.items())]
    checks = [destination_health_check(name, sync_key(name), last_sync_run) for name in sorted(syncs)]
    return assets, checks
