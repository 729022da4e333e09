"""Settings every asset and check of a run shares: the warehouse, the inbox, as_of, thresholds.

One resource, ``atc``, so an operator changes a run in one place of the
Launchpad (``resources: atc: config: ...``): a fixed ``as_of``, a stricter
churn threshold, or ``confirm_churn: true`` after reviewing a large move.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import Field

from journey_atc.dbt import PROJECT_DIR

DEFAULT_DB = PROJECT_DIR / "warehouse" / "journey_atc.duckdb"
DEFAULT_INBOX = PROJECT_DIR / "data" / "inbox"
# Runs started by a schedule or sensor carry the minute they were due as this tag.
AS_OF_TAG = "journey_atc/as_of"
# Runs carrying this tag set to "true" rebuild every incremental model from scratch
# (dbt build --full-refresh; docs/incremental.md). The nightly full_rebuild job has it.
FULL_REFRESH_TAG = "journey_atc/full_refresh"


def default_db_path() -> str:
    return os.environ.get("ATC_DUCKDB_PATH", str(DEFAULT_DB))


def default_inbox() -> str:
    return os.environ.get("ATC_INBOX_DIR", str(DEFAULT_INBOX))


def minute_floor(moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to the minute."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def parse_as_of(value: str) -> datetime:
    """An ISO-8601 timestamp; naive values are UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class AtcResource(dg.ConfigurableResource):
    """journey-atc's run settings. Every field can be overridden per run in the Launchpad."""

    db_path: str = Field(
        default_factory=default_db_path,
        description="DuckDB warehouse file (default $ATC_DUCKDB_PATH or warehouse/journey_atc.duckdb).",
    )
    inbox_dir: str = Field(
        default_factory=default_inbox,
        description="Folder watched for new event files (default $ATC_INBOX_DIR or data/inbox).",
    )
    syncs_config: str | None = Field(
        default=None, description="syncs.yml to use instead of the project's (activation.engine.load_config)."
    )
    as_of: str | None = Field(
        default=None,
        description=(
            "'Now' for every model and check, ISO-8601 UTC. Default: the minute the run was due "
            "(schedules and sensors tag it), else the minute the run was created."
        ),
    )
    churn_threshold: float = Field(
        default=0.25,
        description="Share of people in a journey whose journey changes in one run above which syncs stop.",
    )
    confirm_churn: bool = Field(
        default=False,
        description="Set true after reviewing a large journey move to let this run's syncs go out anyway.",
    )
    max_identifiers_per_person: int = Field(
        default=100, description="A person holding more identifiers than this is a suspicious super-cluster."
    )
    freshness_warn_minutes: int = Field(
        default=60, description="Warn when the newest raw event is older than this relative to as_of."
    )
    freshness_error_minutes: int = Field(
        default=24 * 60, description="Fail (and stop syncs) when the newest raw event is older than this."
    )
    rejection_rate_warn: float = Field(default=0.01, description="Warn above this share of rejected records.")
    rejection_rate_error: float = Field(default=0.05, description="Fail above this share of rejected records.")

    @property
    def db(self) -> Path:
        return Path(self.db_path).resolve()

    @property
    def inbox(self) -> Path:
        return Path(self.inbox_dir).resolve()

    @contextmanager
    def connect(self, read_only: bool = True):
        """A short-lived DuckDB connection; closed before the next step writes."""
        con = duckdb.connect(str(self.db), read_only=read_only)
        try:
            con.execute("set timezone = 'UTC'")
            yield con
        finally:
            con.close()

    def resolve_as_of(self, context) -> datetime:
        """This run's as_of: resource config, else the run's as_of tag, else its creation minute.

        Every step of a run resolves the same value, so models, checks and syncs agree.
        """
        if self.as_of:
            return parse_as_of(self.as_of)
        run = context.run
        tagged = run.tags.get(AS_OF_TAG)
        if tagged:
            return parse_as_of(tagged)
        record = context.instance.get_run_record_by_id(run.run_id)
        created = record.create_timestamp if record is not None else datetime.now(UTC)
        return minute_floor(created)


def as_of_for_dbt(moment: datetime) -> str:
    """The text dbt's ``atc__as_of`` var expects (UTC, no offset)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
