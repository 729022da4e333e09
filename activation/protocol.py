"""The one small protocol between the sync engine and every destination.

The engine computes the diff in the warehouse, cuts it into batches no larger
than the destination declares, and hands each batch to ``Destination.write``.
A destination speaks its vendor's API and answers with one ``RecordResult``
per record. Sync state advances only for records whose result is ``ok``.

Errors a destination raises instead of answering per record:

* ``ConfigurationError``: 401/403, a missing credential, an unknown list; the
  sync stops and the operator must act. Never retried.
* ``BatchRejected``: the vendor refused the batch as a whole (400 or 413 for
  the batch, not for one record). The engine splits the batch in halves until
  the bad records are isolated.
* ``TransientError``: 408, 429, 5xx, timeouts and dropped connections that
  survived the HTTP helper's own retries. The batch is left unacknowledged
  and is sent again on the next run.

Messages never carry credential values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

ChangeType = Literal["added", "changed", "removed"]
SyncMode = Literal["upsert", "mirror", "add-only", "audience"]


class DestinationError(Exception):
    """Base class of the errors a destination raises."""


class ConfigurationError(DestinationError):
    """Bad or missing credentials, permissions or settings: an operator must act."""


class BatchRejected(DestinationError):
    """The vendor refused the whole batch; splitting it may isolate the bad records."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TransientError(DestinationError):
    """Retries ran out on a temporary failure; the batch stays unacknowledged."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Record:
    """One change for one key.

    key: the sync's primary key value exactly as written to the destination
        (for an audience sync: the member's identifier).
    change: added / changed / removed since the last acknowledged state.
    payload: the mapped fields. For ``removed`` it is the payload last sent for
        this key, so a transformed identifier is removed exactly as written.
    previous: the payload last acknowledged (None for ``added``); lets a
        destination send only the fields that changed.
    idempotency_key: deterministic for (sync, key, payload hash); sent where the
        vendor supports one (Segment messageId, webhook-id, ...).
    """

    key: str
    change: ChangeType
    payload: Mapping[str, Any]
    idempotency_key: str
    previous: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Batch:
    """What one ``write`` call carries.

    object: what the records are, e.g. ``profile``, ``event``, or ``audience``.
    mode: the sync's mode; ``audience`` batches add or remove members of ``audience_id``.
    audience_id: the list / segment / audience name or id for audience syncs.
    """

    sync_name: str
    object: str
    mode: SyncMode
    records: Sequence[Record]
    audience_id: str | None = None


@dataclass(frozen=True)
class RecordResult:
    key: str
    ok: bool
    message: str | None = None  # the vendor's own words when not ok
    retryable: bool = False  # worth trying again on a later run


@dataclass(frozen=True)
class RenderSpec:
    """How a destination's request entities are written by the warehouse (an optional fast path).

    entity: action (``added`` / ``changed`` / ``removed``) -> a DuckDB SQL expression giving the
        JSON text of the record's entity (or entities, comma-separated) exactly as the
        destination's ``write`` would put it in its request, or null for a record ``write``
        must build itself. It may read the diff's ``record_key``, ``audience_id``, ``action``,
        ``payload`` (JSON text), ``idempotency_key`` and ``atc_now`` (ISO-8601 UTC, the time
        the page of records was read, minutes before it is sent at most).
    max_entity_bytes: a rendered entity larger than this goes through ``write`` (which refuses
        it with the reason).
    max_request_bytes: entities (plus one separator each) one request carries at most.
    """

    entity: Mapping[str, str]
    max_entity_bytes: int | None = None
    max_request_bytes: int | None = None


@dataclass(frozen=True)
class RenderedBatch:
    """A batch whose entities the warehouse wrote: what one ``write_rendered`` call carries.

    entities: the records' entity texts joined by ``,`` in record order (one request's array).
    keys: the records' keys, in the same order.
    """

    sync_name: str
    object: str
    mode: SyncMode
    action: ChangeType
    entities: str
    count: int
    keys: Sequence[str] = ()
    audience_id: str | None = None


@dataclass
class DestinationLimits:
    """Vendor limits, from the vendor's documentation (cite it in the module)."""

    max_batch_size: int
    max_batch_bytes: int | None = None
    max_record_bytes: int | None = None
    requests_per_second: float = 10.0
    burst: int = 10
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Destination(Protocol):
    """One channel tool. Mutable state lives on instances, never on the class."""

    name: ClassVar[str]
    limits: ClassVar[DestinationLimits]
    # The sync modes this destination can honour; the engine refuses any other
    # when the configuration loads.
    supported_modes: ClassVar[frozenset[str]]
    # The objects it accepts (``profile``, ``event``, ``audience`` ...).
    supported_objects: ClassVar[frozenset[str]]

    def check(self) -> None:
        """One real, harmless call that proves credentials and reachability."""

    def write(self, batch: Batch) -> list[RecordResult]:
        """Send one batch; return exactly one result per record, in order."""


# Optional, beside ``write``: a destination may also offer
#   ``render_sql(object, mode, fields) -> RenderSpec | None``: the entities the warehouse can write
#       (``fields``: the payload's field names);
#   ``write_rendered(batch: RenderedBatch) -> dict[int, str]``: send them as one request and
#       return {position: the vendor's words} for the records it refused (the others are
#       acknowledged); raises like ``write``. A refused batch is split and sent again through
#       ``write``, record by record as usual.


# The stages of a run, in order, as SyncRunResult.stage_seconds reports them: "diff" (the
# warehouse diff, before the sending starts), "sending" (batches out and answered, every group
# committed), "finishing" (the checkpoint of what the run wrote).
SYNC_STAGES = ("diff", "sending", "finishing")


def stage_split(stage_seconds: dict[str, float]) -> str:
    """A run's stage seconds as "diff / sending / finishing", one decimal each, in SYNC_STAGES
    order (the CLI summary's and bench_sync.py's column); "" for a run that reports none."""
    if not stage_seconds:
        return ""
    return " / ".join(f"{stage_seconds.get(stage, 0.0):,.1f}" for stage in SYNC_STAGES)


@dataclass
class SyncRunResult:
    """What one sync run did; written to the warehouse and shown by the CLI and Dagster.

    The engine's entry points (``activation.engine``):
      ``plan_sync(name, db_path, config_path=None) -> SyncRunResult`` (no calls, dry_run=True)
      ``run_sync(name, db_path, config_path=None, progress=None) -> SyncRunResult``
      ``load_config(config_path=None) -> dict of sync name -> sync config``
    """

    sync_name: str
    destination: str
    run_id: str
    dry_run: bool
    added: int = 0
    changed: int = 0
    removed: int = 0
    unchanged: int = 0
    invalid: int = 0  # caught before sending (null or duplicate key)
    rejected: int = 0  # refused by the vendor, retried next run
    acknowledged: int = 0  # records whose state advanced
    batches: int = 0
    retries: int = 0
    seconds: float = 0.0
    # Where the seconds went, by SYNC_STAGES; empty for a dry run.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # ok / partial / failed
    error: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
