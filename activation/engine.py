"""The sync engine: diff a sync model against the last acknowledged state, push only that.

For one sync (a name in ``syncs.yml``):

1. The diff runs in the warehouse (DuckDB SQL). Each model row's mapped fields
   become one JSON payload and an md5 fingerprint. Rows with a null key or a key
   that appears twice, and payloads larger than the vendor accepts, are *invalid*:
   counted, written to ``atc_sync.sync_invalid_rows`` and never sent (nor taken
   for removals). The rest is compared with ``atc_sync.sync_state`` (the last
   payload each destination acknowledged): added, changed, removed, unchanged.
2. Modes decide what is sent: ``upsert`` added + changed; ``mirror`` also
   removals; ``add-only`` only new keys; ``audience`` adds and removes members of
   each list (a member whose payload changed is removed as last written, then
   added as it is now). Removals always carry the payload last sent for the key.
3. The changes are cut into batches no larger than the destination's limits
   (count and bytes). A batch the vendor refuses as a whole is split in halves
   until the bad records are isolated. Per-record refusals go to
   ``atc_sync.sync_rejections`` with the vendor's message; they do not advance,
   so the next run sends them again.
4. Batches go out from a few threads at once (the destination's
   ``max_concurrency``: 1 unless it declares more, e.g. Braze 8); they share the
   destination's token bucket, so its documented rate holds whatever the
   concurrency. The diff is sent in three phases, removals, then changes, then
   additions, and every batch of a phase is answered before the next phase
   starts, so a removal and an addition of the same key never race.
5. Group commit: acknowledged outcomes are written, in ONE transaction, every
   ``GROUP_COMMIT_RECORDS`` records or ``GROUP_COMMIT_SECONDS`` seconds, and at
   the end (also when the run stops on an error): the records' state, one
   ``atc_sync.sync_acknowledgements`` row per acknowledged record (with the
   sync's ``ledger:`` columns: what the guardrails' ledger counts), the
   rejections, and the run's running totals. Nothing is written before the
   destination answered. A process killed at any moment leaves every record
   whose acknowledgement was not yet committed unacknowledged, so the next run
   sends it again, exactly as if it had never been sent: the state never holds
   what the tool did not confirm (the guarantee), and what the tool confirmed
   but was not committed is re-sent (at most one group's worth). Idempotency
   keys are deterministic (sync, audience, key, change, payload hash and the
   key's acknowledged-change count), so a re-sent record carries the same key
   and a vendor that deduplicates applies it once; the writes themselves are
   upserts (set these fields, add to this list), which a repeat leaves as they are.

Entry points: :func:`load_config`, :func:`plan_sync`, :func:`run_sync`,
:func:`last_runs`.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from activation.config import LEDGER_FIELDS, SyncConfig, default_registry
from activation.config import load_config as _load_config
from activation.destinations.base import JsonPayload
from activation.protocol import (
    SYNC_STAGES,
    Batch,
    BatchRejected,
    ConfigurationError,
    Destination,
    DestinationLimits,
    Record,
    RecordResult,
    RenderedBatch,
    RenderSpec,
    SyncRunResult,
    TransientError,
)
from activation.state import SYNC_SCHEMA, ensure_sync_tables, table_exists

log = logging.getLogger("activation.engine")

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: records handled so far out of the records to send."""

# Rows read from the diff table at a time.
PAGE_SIZE = 10_000
# Group commit: acknowledged records written per transaction, and the longest a
# record waits for its transaction. A crash re-sends at most this many.
GROUP_COMMIT_RECORDS = 5_000
GROUP_COMMIT_SECONDS = 2.0
# Batches queued per sending thread, so the threads never wait for the next batch.
QUEUE_PER_THREAD = 2
# DuckDB checkpoints its write-ahead log into the database file once the log passes
# a threshold (16 MB by default), inside whichever commit crosses it. During a run
# the threshold is raised, so the group commits only append to the log; the log is
# checkpointed once, when the run's connection closes.
RUN_CHECKPOINT_THRESHOLD = "1GB"
# Bytes a record adds to a request beyond its payload (key, envelope, separators).
RECORD_OVERHEAD_BYTES = 128
# Consecutive batches that may fail transiently before the run stops (an outage).
MAX_CONSECUTIVE_TRANSIENT = 3
SAMPLES_PER_CHANGE = 5

_CHANGE_ORDER = {"removed": 0, "changed": 1, "added": 2}


def load_config(config_path: str | Path | None = None, registry: Mapping[str, type] | None = None) -> dict:
    """Read and validate ``syncs.yml``: sync name -> :class:`~activation.config.SyncConfig`."""
    return _load_config(config_path, registry=registry)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:10]}"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Scrubber:
    """Replaces credential values in any text before it is logged or stored."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


@dataclass
class _Prepared:
    """The diff of one sync, materialised as the temp table ``_atc_diff``."""

    sync: SyncConfig
    limits: DestinationLimits
    batch_size: int
    counts: dict[str, int]
    invalid: int
    to_send: int  # rows of _atc_diff
    retry_records: int
    upserts: bool = True  # keys the state already holds are written (else only new keys)


def _limits_for(sync: SyncConfig, registry: Mapping[str, type] | None, destination: Destination | None):
    if destination is not None:
        return destination.limits
    registry = default_registry() if registry is None else registry
    return registry[sync.destination].limits


def _max_records(limits: DestinationLimits, mode: str) -> int:
    """The vendor's records-per-call limit, or a lower one it declares for this mode."""
    by_mode = (limits.extra or {}).get("max_batch_size_by_mode") or {}
    return int(min(limits.max_batch_size, by_mode.get(mode, limits.max_batch_size)))


def _model_columns(con: duckdb.DuckDBPyConnection, sync: SyncConfig) -> dict[str, str]:
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_schema = ? and table_name = ?",
        [sync.schema_name, sync.model],
    ).fetchall()
    if not rows:
        raise ConfigurationError(
            f"sync {sync.name!r}: model: {sync.schema_name}.{sync.model} does not exist in the warehouse "
            "(build the dbt project first: atc build)"
        )
    return {r[0]: r[1] for r in rows}


def _field_expr(column: str, data_type: str, is_json: bool) -> str:
    """How one mapped column enters the payload: timestamps as ISO-8601 UTC, JSON text as JSON."""
    expr = _quote(column)
    if is_json:
        return f"try(json({expr}))"
    if data_type.startswith("TIMESTAMP"):
        return f"strftime({expr}, '%Y-%m-%dT%H:%M:%SZ')"
    if data_type == "DATE":
        return f"strftime({expr}, '%Y-%m-%d')"
    return expr


def _connect(db_path: str | Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(db_path))
    con.execute("set timezone = 'UTC'")
    return con


def _prepare(
    con: duckdb.DuckDBPyConnection,
    sync: SyncConfig,
    limits: DestinationLimits,
    run_id: str,
    record_invalid: bool,
) -> _Prepared:
    """Materialise the desired rows, the invalid rows and the diff as temp tables."""
    columns = _model_columns(con, sync)
    needed = {"primary_key": sync.primary_key, **{f"fields.{k}": v for k, v in sync.fields.items()}}
    if sync.audience_field:
        needed["audience_field"] = sync.audience_field
    needed.update({f"ledger.{k}": v for k, v in sync.ledger.items()})
    for where, column in needed.items():
        if column not in columns:
            raise ConfigurationError(
                f"sync {sync.name!r}: {where}: column {column!r} is not in {sync.schema_name}.{sync.model}"
            )

    json_args = ", ".join(
        f"{_literal(dest)}, {_field_expr(col, columns[col], dest in sync.json_fields)}"
        for dest, col in sorted(sync.fields.items())
    )
    audience_expr = f"cast({_quote(sync.audience_field)} as varchar)" if sync.audience_field else "''"
    # The guardrails' ledger columns travel beside the payload (never in it, never hashed).
    ledger_exprs = ",\n                ".join(
        f"cast({_quote(sync.ledger[f]) if f in sync.ledger else 'null'} as varchar) as ledger_{f}"
        for f in LEDGER_FIELDS
    )
    con.execute(
        f"""
        create or replace temp table _atc_desired as
        with source as (
            select
                cast({_quote(sync.primary_key)} as varchar) as record_key,
                {audience_expr} as audience_id,
                cast(json_object({json_args}) as varchar) as payload,
                {ledger_exprs}
            from {sync.relation}
        )
        select
            *,
            md5(payload) as payload_hash,
            count(*) over (partition by audience_id, record_key) as key_rows
        from source
        """
    )
    max_record = limits.max_record_bytes
    too_large = f"strlen(payload) > {int(max_record)}" if max_record else "false"
    con.execute(
        f"""
        create or replace temp table _atc_invalid as
        select
            audience_id,
            record_key,
            case
                when record_key is null or audience_id is null then 'null_key'
                when key_rows > 1 then 'duplicate_key'
                else 'record_too_large'
            end as reason_code,
            count(*) as row_count,
            max(strlen(payload)) as max_bytes
        from _atc_desired
        where record_key is null or audience_id is null or key_rows > 1 or {too_large}
        group by all
        """
    )
    mode_filter = {
        "upsert": "change in ('added', 'changed')",
        "mirror": "change in ('added', 'changed', 'removed')",
        "add-only": "change = 'added'",
        "audience": "change in ('added', 'changed', 'removed')",
    }[sync.mode]
    sync_lit = _literal(sync.name)
    # One row per record to send. An audience member whose payload changed is
    # removed as last written (part 'remove') and added as it is now.
    con.execute(
        f"""
        create or replace temp table _atc_compared as
        with
        desired as (
            select d.*
            from _atc_desired as d
            where
                d.record_key is not null
                and d.audience_id is not null
                and d.key_rows = 1
                and not ({too_large.replace("payload", "d.payload")})
        ),
        invalid_keys as (
            select distinct audience_id, record_key
            from _atc_invalid
            where record_key is not null and audience_id is not null
        ),
        state as (
            select * from {SYNC_SCHEMA}.sync_state where sync_name = {sync_lit}
        ),
        open_rejections as (
            select distinct audience_id, record_key
            from {SYNC_SCHEMA}.sync_rejections
            where sync_name = {sync_lit} and resolved_at is null
        ),
        joined as (
            select
                coalesce(d.audience_id, s.audience_id) as audience_id,
                coalesce(d.record_key, s.record_key) as record_key,
                d.payload,
                d.payload_hash,
                case when s.is_present then s.payload end as previous_payload,
                case when s.is_present then s.payload_hash end as previous_hash,
                s.payload as last_payload,
                s.payload_hash as last_hash,
                {", ".join(f"d.ledger_{f}" for f in LEDGER_FIELDS)},
                coalesce(s.version, 0) as version,
                case
                    when d.record_key is not null and coalesce(s.is_present, false) = false then 'added'
                    when d.record_key is not null and d.payload_hash != s.payload_hash then 'changed'
                    when d.record_key is not null then 'unchanged'
                    when s.is_present and i.record_key is null then 'removed'
                end as change
            from desired as d
            full outer join state as s
                on d.audience_id = s.audience_id and d.record_key = s.record_key
            left join invalid_keys as i
                on coalesce(d.audience_id, s.audience_id) = i.audience_id
                and coalesce(d.record_key, s.record_key) = i.record_key
        )
        select
            j.*,
            (r.record_key is not null) as is_retry
        from joined as j
        left join open_rejections as r
            on j.audience_id = r.audience_id and j.record_key = r.record_key
        where j.change is not null
        """
    )
    counts = dict(
        con.execute(
            f"""
            select
                case
                    when {mode_filter} then change
                    when change in ('changed', 'unchanged') then 'unchanged'
                end as reported,
                count(*)
            from _atc_compared
            group by 1
            having reported is not null
            """
        ).fetchall()
    )
    # change: what the run reports; action: what the Record says.
    # writes_state: whether its acknowledgement advances sync_state.
    audience_split = (
        """
        union all
        select *, 'removed' as action, previous_payload as send_payload, previous_hash as send_hash,
            null as send_previous, false as writes_state, 0 as part
        from sent
        where change = 'changed'
        """
        if sync.mode == "audience"
        else ""
    )
    changed_action = "'added'" if sync.mode == "audience" else "'changed'"
    # A removal tells the tool to send nothing: it carries no ledger values.
    ledger_select = ", ".join(f"case when action != 'removed' then ledger_{f} end as ledger_{f}" for f in LEDGER_FIELDS)
    con.execute(
        f"""
        create or replace temp table _atc_diff as
        with
        sent as (
            select * from _atc_compared where {mode_filter}
        ),
        parts as (
            select *,
                case change
                    when 'changed' then {changed_action}
                    else change
                end as action,
                case when change = 'removed' then last_payload else payload end as send_payload,
                case when change = 'removed' then last_hash else payload_hash end as send_hash,
                previous_payload as send_previous,
                true as writes_state,
                1 as part
            from sent
            {audience_split}
        )
        select
            row_number() over (
                order by
                    case action when 'removed' then 0 when 'changed' then 1 else 2 end,
                    audience_id,
                    record_key,
                    part
            ) as rn,
            audience_id,
            record_key,
            change,
            action,
            send_payload as payload,
            send_hash as payload_hash,
            send_previous as previous_payload,
            writes_state,
            {ledger_select},
            version + 1 as new_version,
            md5(concat_ws(chr(31), {sync_lit}, audience_id, record_key, action, send_hash,
                cast(version + 1 as varchar))) as idempotency_key,
            is_retry
        from parts
        order by rn
        """
    )
    to_send, retry_records, upserts = con.execute(
        "select count(*), count(distinct case when is_retry then audience_id || chr(31) || record_key end), "
        "count(*) filter (where writes_state and new_version > 1) "
        "from _atc_diff"
    ).fetchone()
    invalid = con.execute("select coalesce(sum(row_count), 0) from _atc_invalid").fetchone()[0]
    if record_invalid and invalid:
        _record_invalid(con, sync, limits, run_id)
    return _Prepared(
        sync=sync,
        limits=limits,
        batch_size=sync.effective_batch_size(_max_records(limits, sync.mode)),
        counts={k: int(counts.get(k, 0)) for k in ("added", "changed", "removed", "unchanged")},
        invalid=int(invalid),
        to_send=int(to_send),
        retry_records=int(retry_records),
        upserts=bool(upserts),
    )


def _record_invalid(con, sync: SyncConfig, limits: DestinationLimits, run_id: str) -> None:
    key_col = sync.primary_key
    audience_col = sync.audience_field or "audience"
    con.execute(
        f"""
        insert into {SYNC_SCHEMA}.sync_invalid_rows
        select
            ? as run_id,
            ? as sync_name,
            audience_id,
            record_key,
            reason_code,
            row_count,
            case reason_code
                when 'null_key' then
                    case when record_key is null then 'column {key_col} is null'
                    else 'column {audience_col} is null' end
                when 'duplicate_key' then 'column {key_col} value appears in ' || row_count || ' rows'
                else 'payload of ' || max_bytes || ' bytes exceeds the limit of {limits.max_record_bytes or 0} bytes'
            end as message,
            ? as found_at
        from _atc_invalid
        """,
        [run_id, sync.name, _now()],
    )


def _iter_diff(
    con: duckdb.DuckDBPyConnection,
    rows: int | None = None,
    lock: threading.Lock | None = None,
    render: RenderSpec | None = None,
) -> Iterator[tuple]:
    """The diff in ``rn`` order, a page at a time.

    ``rn`` is dense (1..rows), so a page is a range, which DuckDB finds from its zone maps
    without sorting. Each page is fetched whole under ``lock``, so the committer can use
    the connection between two pages. With ``render`` the page carries each record's request
    entity as the destination writes it (the last column; null where the destination builds
    it itself), and the payloads only where it is null.
    """
    lock = lock or threading.Lock()
    if rows is None:
        with lock:
            rows = con.execute("select count(*) from _atc_diff").fetchone()[0]
    select = _page_select(render)
    for start in range(1, int(rows) + 1, PAGE_SIZE):
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with lock:
            page = con.execute(select.format(start=int(start), end=int(start + PAGE_SIZE - 1), now=now)).fetchall()
        yield from page


def _page_select(render: RenderSpec | None) -> str:
    """The query of one page of the diff (``str.format`` with start, end and now)."""
    page = "from _atc_diff where rn between {start} and {end}"
    entities = {a: e for a, e in (render.entity.items() if render else ()) if e}
    if not entities:
        return (
            "select rn, audience_id, record_key, action, payload, previous_payload, idempotency_key, is_retry, "
            f"null as entity {page} order by rn"
        )
    cases = " ".join(f"when {_literal(action)} then ({expr})" for action, expr in sorted(entities.items()))
    entity = f"case action {cases} end".replace("{", "{{").replace("}", "}}")  # kept as it is by format
    limit = f"strlen(rendered) <= {int(render.max_entity_bytes)}" if render.max_entity_bytes else "true"
    return (
        "select rn, audience_id, record_key, action, case when entity is null then payload end, "
        "case when entity is null then previous_payload end, idempotency_key, is_retry, entity from ("
        f"select *, case when {limit} then rendered end as entity from ("
        f"select *, {entity} as rendered from (select *, '{{now}}' as atc_now {page}))"
        ") order by rn"
    )


@dataclass
class _Pending:
    rn: int
    record: Record
    audience_id: str
    size: int
    is_retry: bool = False


@dataclass
class _RenderedPending:
    """Consecutive records of one (audience, action) whose entities the warehouse wrote: one request."""

    lo: int  # first rn
    hi: int  # last rn (the batch's rows are lo..hi)
    audience_id: str
    action: str
    keys: list[str]
    entities: list[str]
    any_retry: bool = False


def _action_of(item: list[_Pending] | _RenderedPending) -> str:
    return item.action if isinstance(item, _RenderedPending) else item[0].record.change


def _size_of(item: list[_Pending] | _RenderedPending) -> int:
    return len(item.keys) if isinstance(item, _RenderedPending) else len(item)


def _cut_batches(
    rows: Iterator[tuple], batch_size: int, max_bytes: int | None, max_request_bytes: int | None = None
) -> Iterator[list[_Pending] | _RenderedPending]:
    """Group consecutive rows of one (audience, action) into batches within the limits.

    Rows the warehouse rendered (their entity is not null) go into ``_RenderedPending``
    batches of at most ``batch_size`` records and ``max_request_bytes`` bytes of entities;
    the others become ``Record``s in batches of at most ``batch_size`` and ``max_bytes``.
    """
    current: list[_Pending] = []
    current_group = None
    current_bytes = 0
    rendered: _RenderedPending | None = None
    rendered_bytes = 0
    for rn, audience_id, record_key, action, payload, previous, idem, is_retry, entity in rows:
        if entity is not None:
            if current:
                yield current
                current, current_group, current_bytes = [], None, 0
            size = (len(entity) if entity.isascii() else len(entity.encode())) + 1
            if rendered is not None and (
                rendered.audience_id != audience_id
                or rendered.action != action
                or len(rendered.keys) >= batch_size
                or (max_request_bytes is not None and rendered_bytes + size > max_request_bytes)
            ):
                yield rendered
                rendered = None
            if rendered is None:
                rendered = _RenderedPending(lo=rn, hi=rn, audience_id=audience_id, action=action, keys=[], entities=[])
                rendered_bytes = 0
            rendered.hi = rn
            rendered.keys.append(record_key)
            rendered.entities.append(entity)
            rendered.any_retry = rendered.any_retry or is_retry
            rendered_bytes += size
            continue
        if rendered is not None:
            yield rendered
            rendered = None
        # Payloads stay the warehouse's JSON text until a destination looks inside.
        record = Record(
            key=record_key,
            change=action,
            payload=JsonPayload(payload),
            idempotency_key=idem,
            previous=JsonPayload(previous) if previous is not None else None,
        )
        size = (len(payload) if payload.isascii() else len(payload.encode())) + RECORD_OVERHEAD_BYTES
        size += len(record_key) if record_key.isascii() else len(record_key.encode())
        group = (audience_id, action)
        if current and (
            group != current_group
            or len(current) >= batch_size
            or (max_bytes is not None and current_bytes + size > max_bytes)
        ):
            yield current
            current, current_bytes = [], 0
        current.append(_Pending(rn=rn, record=record, audience_id=audience_id, size=size, is_retry=is_retry))
        current_group = group
        current_bytes += size
    if current:
        yield current
    if rendered is not None:
        yield rendered


@dataclass
class _Outcome:
    """What the destination answered for one batch, as the committer records it."""

    acked_ranges: list[tuple[int, int]]  # runs of acknowledged rn
    acked: int
    rejected: list[tuple[int, str, RecordResult]]  # (rn, key, result)
    deferred: int
    any_retry: bool  # an acknowledged record was a retry of an earlier refusal

    @property
    def recorded(self) -> int:
        return self.acked + len(self.rejected)

    @classmethod
    def of(cls, outcomes: list[tuple[_Pending, str, RecordResult | None]]) -> _Outcome:
        acked = [p.rn for p, status, _ in outcomes if status == "ok"]
        return cls(
            acked_ranges=_ranges(acked),
            acked=len(acked),
            rejected=[(p.rn, p.record.key, r) for p, status, r in outcomes if status == "rejected" and r],
            deferred=sum(1 for _, status, _ in outcomes if status == "deferred"),
            any_retry=any(p.is_retry for p, status, _ in outcomes if status == "ok"),
        )


class _Stop(Exception):
    """The run cannot go on (configuration error, outage, a broken answer)."""


class _Sender:
    """Writes batches, isolates refused records by halving, and tallies outcomes (from any thread)."""

    def __init__(
        self,
        destination: Destination,
        sync: SyncConfig,
        scrub: _Scrubber,
        load: Callable[[int, int], list[_Pending]] | None = None,
    ) -> None:
        self.destination = destination
        self.sync = sync
        self.scrub = scrub
        # Reads rows lo..hi of the diff as records: a refused rendered batch is split from them.
        self.load = load
        self.calls = 0
        self.resends = 0
        self.last_transient: str | None = None
        self._lock = threading.Lock()

    def dispatch(self, item: list[_Pending] | _RenderedPending) -> _Outcome:
        """Send a batch of either kind; what the destination answered."""
        if isinstance(item, _RenderedPending):
            return self.send_rendered(item)
        return _Outcome.of(self.send(item))

    def send_rendered(self, item: _RenderedPending) -> _Outcome:
        """One request of warehouse-written entities; a refused one is split and sent as records."""
        batch = RenderedBatch(
            sync_name=self.sync.name,
            object=self.sync.object,
            mode=self.sync.mode,
            action=item.action,
            entities=",".join(item.entities),
            count=len(item.keys),
            keys=item.keys,
            audience_id=(item.audience_id or None) if self.sync.mode == "audience" else None,
        )
        with self._lock:
            self.calls += 1
        try:
            problems = self.destination.write_rendered(batch)
        except BatchRejected as exc:
            if self.load is None:
                raise _Stop(f"{self.sync.destination} refused a batch: {self.scrub(str(exc))}") from None
            pending = self.load(item.lo, item.hi)
            if len(pending) == 1:
                return _Outcome.of(self.send(pending))
            half = len(pending) // 2
            with self._lock:
                self.resends += 2
            log.info("sync %s: batch of %d refused (%s); splitting", self.sync.name, len(pending), self.scrub(str(exc)))
            return _Outcome.of(self.send(pending[:half]) + self.send(pending[half:]))
        except TransientError as exc:
            self.last_transient = self.scrub(str(exc))
            log.warning(
                "sync %s: batch of %d deferred to the next run: %s", self.sync.name, len(item.keys), self.last_transient
            )
            return _Outcome([], 0, [], len(item.keys), False)
        except ConfigurationError as exc:
            raise _Stop(f"configuration error from {self.sync.destination}: {self.scrub(str(exc))}") from None
        if not isinstance(problems, dict) or any(not 0 <= i < len(item.keys) for i in problems):
            raise _Stop(
                f"{self.sync.destination} answered {problems!r} for {len(item.keys)} records; "
                "nothing in that batch was recorded"
            )
        rejected = [
            (item.lo + i, item.keys[i], RecordResult(item.keys[i], False, self.scrub(str(message))))
            for i, message in sorted(problems.items())
        ]
        acked = [item.lo + i for i in range(len(item.keys)) if i not in problems]
        ranges = [(item.lo, item.hi)] if not problems else _ranges(acked)
        return _Outcome(ranges, len(acked), rejected, 0, item.any_retry)

    def send(self, pending: list[_Pending]) -> list[tuple[_Pending, str, RecordResult | None]]:
        """Outcome per record: ('ok' | 'rejected' | 'deferred', result)."""
        audience = pending[0].audience_id or None
        batch = Batch(
            sync_name=self.sync.name,
            object=self.sync.object,
            mode=self.sync.mode,
            records=[p.record for p in pending],
            audience_id=audience if self.sync.mode == "audience" else None,
        )
        with self._lock:
            self.calls += 1
        try:
            results = self.destination.write(batch)
        except BatchRejected as exc:
            message = self.scrub(str(exc)) or "batch rejected"
            if len(pending) == 1:
                return [(pending[0], "rejected", RecordResult(pending[0].record.key, False, message))]
            half = len(pending) // 2
            with self._lock:
                self.resends += 2
            log.info("sync %s: batch of %d refused (%s); splitting", self.sync.name, len(pending), message)
            return self.send(pending[:half]) + self.send(pending[half:])
        except TransientError as exc:
            self.last_transient = self.scrub(str(exc))
            log.warning(
                "sync %s: batch of %d deferred to the next run: %s", self.sync.name, len(pending), self.last_transient
            )
            return [(p, "deferred", None) for p in pending]
        except ConfigurationError as exc:
            raise _Stop(f"configuration error from {self.sync.destination}: {self.scrub(str(exc))}") from None
        if not isinstance(results, list) or len(results) != len(pending):
            raise _Stop(
                f"{self.sync.destination} answered {len(results) if isinstance(results, list) else results!r} "
                f"results for {len(pending)} records; nothing in that batch was recorded"
            )
        out = []
        for p, result in zip(pending, results, strict=True):
            if result.key != p.record.key:
                raise _Stop(
                    f"{self.sync.destination} answered for key {result.key!r} where {p.record.key!r} was sent; "
                    "nothing in that batch was recorded"
                )
            if result.ok:
                out.append((p, "ok", result))
            else:
                out.append(
                    (p, "rejected", RecordResult(result.key, False, self.scrub(result.message), result.retryable))
                )
        return out


def _concurrency(dest: Destination) -> int:
    """Batches the destination takes at once: its ``max_concurrency`` (instance, then declared limits)."""
    value = getattr(dest, "max_concurrency", None) or (dest.limits.extra or {}).get("max_concurrency") or 1
    return max(1, int(value))


class _Sending:
    """Sends the batches from ``concurrency`` threads, phase by phase, and hands outcomes to the committer.

    Runs on the engine's thread: it reads the diff, queues batches, collects answers and
    commits; only ``_Sender.send`` runs on the sending threads. With a concurrency of 1
    every batch is sent on the engine's thread, one after the other.
    """

    def __init__(
        self,
        sender: _Sender,
        committer: _GroupCommit,
        concurrency: int,
        total: int,
        progress: ProgressCallback | None,
    ) -> None:
        self.sender = sender
        self.committer = committer
        self.concurrency = concurrency
        self.total = total
        self.progress = progress
        self.acknowledged = 0
        self.rejected = 0
        self.deferred = 0
        self.done = 0
        self.consecutive_transient = 0
        self.inflight: dict[Future, list[_Pending] | _RenderedPending] = {}

    @property
    def stopped(self) -> bool:
        """An outage: several batches in a row failed transiently; the rest waits for the next run."""
        return self.consecutive_transient >= MAX_CONSECUTIVE_TRANSIENT

    def run(self, batches: Iterator[list[_Pending] | _RenderedPending]) -> None:
        if self.concurrency == 1:
            for pending in batches:
                if self.stopped:
                    self._skip(pending)
                    continue
                self._record(pending, self.sender.dispatch(pending))
            return
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"sync-{self.sender.sync.name}")
        try:
            phase = None
            for pending in batches:
                action = _action_of(pending)
                if phase is not None and action != phase:
                    self._drain(all_of_them=True)  # removals, then changes, then additions
                phase = action
                if self.stopped:
                    self._skip(pending)
                    continue
                while len(self.inflight) >= self.concurrency * QUEUE_PER_THREAD:
                    self._drain()
                self.inflight[pool.submit(self.sender.dispatch, pending)] = pending
            self._drain(all_of_them=True)
        except BaseException:
            # Batches not started are not sent; the ones being sent are answered and their
            # acknowledgements kept (the caller commits them) before the error goes on.
            pool.shutdown(wait=True, cancel_futures=True)
            for future, pending in list(self.inflight.items()):
                if not future.cancelled() and future.exception() is None:
                    self._record(pending, future.result())
            self.inflight.clear()
            raise
        finally:
            pool.shutdown(wait=True)

    def _drain(self, all_of_them: bool = False) -> None:
        """Collect answered batches: at least one, or every batch in flight."""
        while self.inflight:
            finished, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
            for future in finished:
                pending = self.inflight.pop(future)
                if self.stopped and future.cancelled():
                    self._skip(pending)
                    continue
                self._record(pending, future.result())
            if self.stopped:
                for future in list(self.inflight):
                    if future.cancel():
                        self._skip(self.inflight.pop(future))
            if not all_of_them:
                return

    def _skip(self, pending: list[_Pending] | _RenderedPending) -> None:
        self.deferred += _size_of(pending)
        self.done += _size_of(pending)

    def _record(self, pending: list[_Pending] | _RenderedPending, outcome: _Outcome) -> None:
        sync = self.sender.sync
        self.committer.add(outcome)
        self.acknowledged += outcome.acked
        self.rejected += len(outcome.rejected)
        self.deferred += outcome.deferred
        for _, key, r in outcome.rejected[:3]:
            log.warning("sync %s: %s refused key %s: %s", sync.name, sync.destination, key, r.message)
        size = _size_of(pending)
        self.consecutive_transient = self.consecutive_transient + 1 if outcome.deferred == size else 0
        self.done += size
        if self.progress:
            self.progress(self.done, self.total)


def _ranges(numbers: list[int]) -> list[tuple[int, int]]:
    """Sorted numbers as (first, last) runs: a batch's acknowledged rows are one run, or a few."""
    out: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if out and n == out[-1][1] + 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def _merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs of row numbers, sorted, with adjacent and overlapping runs joined."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(hi, out[-1][1]))
        else:
            out.append((lo, hi))
    return out


def _commit_outcomes(
    con: duckdb.DuckDBPyConnection,
    sync: SyncConfig,
    run_id: str,
    outcomes: list[_Outcome],
    upserts: bool = True,
) -> None:
    """One transaction: acknowledged state and acknowledgements, resolved and new rejections, run totals.

    ``upserts``: whether the diff holds keys the state already has (else one append suffices).
    """
    acked = sum(o.acked for o in outcomes)
    rejected = [r for o in outcomes for r in o.rejected]
    if not acked and not rejected:
        return
    now = _now()
    # The acknowledged rows as runs of row numbers, inlined (integers from the diff table):
    # binding long list parameters costs far more than the statements themselves.
    runs = _merge_ranges([r for o in outcomes for r in o.acked_ranges])
    low, high = (runs[0][0], runs[-1][1]) if runs else (0, -1)
    if len(runs) <= 1:
        acked_rows = f"select * from _atc_diff where rn between {int(low)} and {int(high)}"
    else:
        acked_rows = (
            f"select d.* from _atc_diff as d "
            f"inner join (values {', '.join(f'({a}, {b})' for a, b in runs)}) as r (lo, hi) "
            f"on d.rn between r.lo and r.hi "
            f"where d.rn between {int(low)} and {int(high)}"
        )
    # The run's strings inlined as literals as well: a statement with parameters costs DuckDB's
    # Python client a lookup for pandas on every call.
    sync_name, run_lit, dest_lit = _literal(sync.name), _literal(run_id), _literal(sync.destination)
    now_lit = f"timestamp '{now.isoformat(sep=' ')}'"
    # A key without acknowledged state when the diff was made (version 0, so new_version 1) is
    # appended; only keys the state holds need the upsert, which costs DuckDB twice as much.
    # Nothing else writes this sync's state during its run, so an appended key is still new.
    state_rows = f"""
        select
            {sync_name} as sync_name,
            audience_id,
            record_key,
            payload,
            payload_hash,
            action != 'removed' as is_present,
            new_version as version,
            idempotency_key,
            change as last_change,
            {run_lit} as run_id,
            {now_lit} as acknowledged_at
        from ({acked_rows}) as acked
        where writes_state and @versions@
    """
    con.execute("begin transaction")
    try:
        if acked:
            con.execute(
                f"""
                insert into {SYNC_SCHEMA}.sync_state
                {state_rows.replace("@versions@", "new_version = 1")}
                """
            )
        if acked and upserts:
            con.execute(
                f"""
                insert into {SYNC_SCHEMA}.sync_state
                {state_rows.replace("@versions@", "new_version > 1")}
                on conflict (sync_name, audience_id, record_key) do update set
                    payload = excluded.payload,
                    payload_hash = excluded.payload_hash,
                    is_present = excluded.is_present,
                    version = excluded.version,
                    idempotency_key = excluded.idempotency_key,
                    last_change = excluded.last_change,
                    run_id = excluded.run_id,
                    acknowledged_at = excluded.acknowledged_at
                """
            )
        if acked:
            # Every acknowledged record, also an audience member's removal as last
            # written (which does not itself advance sync_state).
            con.execute(
                f"""
                insert into {SYNC_SCHEMA}.sync_acknowledgements
                select
                    md5(concat_ws(chr(31), {run_lit}, idempotency_key)) as acknowledgement_id,
                    {run_lit} as run_id,
                    {sync_name} as sync_name,
                    {dest_lit} as destination,
                    audience_id,
                    record_key,
                    change as change_type,
                    action,
                    idempotency_key,
                    payload_hash,
                    {now_lit} as acknowledged_at,
                    ledger_person_id as person_id,
                    ledger_journey_id as journey_id,
                    ledger_channel as channel,
                    ledger_message_key as message_key
                from ({acked_rows}) as acked
                """
            )
        if any(o.any_retry for o in outcomes):
            con.execute(
                f"""
                update {SYNC_SCHEMA}.sync_rejections as r
                set resolved_at = {now_lit}
                from ({acked_rows}) as d
                where
                    d.writes_state
                    and r.sync_name = {sync_name}
                    and r.audience_id = d.audience_id
                    and r.record_key = d.record_key
                    and r.resolved_at is null
                """
            )
        if rejected:
            con.executemany(
                f"""
                insert into {SYNC_SCHEMA}.sync_rejections
                select
                    md5(concat_ws(chr(31), ?, audience_id, record_key, action)) as rejection_id,
                    ? as run_id,
                    ? as sync_name,
                    ? as destination,
                    audience_id,
                    record_key,
                    change as change_type,
                    payload_hash,
                    idempotency_key,
                    ? as message,
                    ? as is_retryable,
                    ? as rejected_at,
                    null as resolved_at
                from _atc_diff
                where rn = ?
                """,
                [
                    [run_id, run_id, sync.name, sync.destination, r.message, bool(r.retryable), now, rn]
                    for rn, _, r in rejected
                ],
            )
        # The run's row shows its progress, committed with what it counts.
        con.execute(
            f"update {SYNC_SCHEMA}.sync_runs set acknowledged = acknowledged + {int(acked)}, "
            f"rejected = rejected + {len(rejected)} where run_id = {run_lit}"
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


class _GroupCommit:
    """Collects acknowledged outcomes and commits them a group at a time, on its own thread.

    The engine's thread hands a group over and goes on reading and sending while DuckDB
    writes it (DuckDB works outside the GIL). The connection is shared under ``lock``.
    ``flush`` hands over what is left and returns once everything handed over is
    committed; a failed commit is raised there (or at the next ``add``).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        sync: SyncConfig,
        run_id: str,
        lock: threading.Lock,
        upserts: bool = True,
    ) -> None:
        self.con = con
        self.upserts = upserts
        self.sync = sync
        self.run_id = run_id
        self.lock = lock
        self.outcomes: list[_Outcome] = []
        self.records = 0
        self.last = time.monotonic()
        self.commits = 0
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._thread = threading.Thread(target=self._work, name=f"sync-{sync.name}-commit", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            group = self._queue.get()
            try:
                if group is None:
                    return
                if self.error is None:
                    with self.lock:
                        _commit_outcomes(self.con, self.sync, self.run_id, group, self.upserts)
                    self.commits += 1
            except BaseException as exc:  # handed to the engine's thread
                self.error = exc
            finally:
                self._queue.task_done()

    def _raise(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    def add(self, outcome: _Outcome) -> None:
        self._raise()
        if outcome.recorded:
            self.outcomes.append(outcome)
            self.records += outcome.recorded
        if self.records >= GROUP_COMMIT_RECORDS or time.monotonic() - self.last >= GROUP_COMMIT_SECONDS:
            self._hand_over()

    def _hand_over(self) -> None:
        outcomes, self.outcomes = self.outcomes, []
        self.records = 0
        self.last = time.monotonic()
        if outcomes:
            self._queue.put(outcomes)

    def flush(self) -> None:
        """Commit everything handed over or collected; return when it is written."""
        self._hand_over()
        self._queue.join()
        self._raise()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()


def _insert_run(con, result: SyncRunResult, sync: SyncConfig, started_at: datetime) -> None:
    con.execute(
        f"""
        insert into {SYNC_SCHEMA}.sync_runs values
        (?, ?, ?, ?, ?, ?, 'running', ?, null, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, null)
        """,
        [result.run_id, sync.name, sync.destination, sync.model, sync.object, sync.mode, started_at],
    )


def _finish_run(con, result: SyncRunResult, deferred: int) -> None:
    con.execute(
        f"""
        update {SYNC_SCHEMA}.sync_runs set
            status = ?, finished_at = ?, added = ?, changed = ?, removed = ?, unchanged = ?,
            invalid = ?, rejected = ?, deferred = ?, acknowledged = ?, batches = ?, retries = ?,
            seconds = ?, error = ?
        where run_id = ?
        """,
        [
            result.status,
            _now(),
            result.added,
            result.changed,
            result.removed,
            result.unchanged,
            result.invalid,
            result.rejected,
            deferred,
            result.acknowledged,
            result.batches,
            result.retries,
            result.seconds,
            result.error,
            result.run_id,
        ],
    )


def _samples(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = con.execute(
        f"""
        select change, action, audience_id, record_key, payload, previous_payload
        from _atc_diff
        qualify row_number() over (partition by change order by rn) <= {SAMPLES_PER_CHANGE}
        order by rn
        """
    ).fetchall()
    out = []
    for change, action, audience_id, key, payload, previous in rows:
        sample: dict[str, Any] = {"change": change, "key": key, "payload": json.loads(payload)}
        if action != change:
            sample["action"] = action
        if audience_id:
            sample["audience_id"] = audience_id
        if previous is not None:
            sample["previous"] = json.loads(previous)
        out.append(sample)
    return out


def _resolve_sync(name: str, config_path, registry, syncs: Mapping[str, SyncConfig] | None) -> SyncConfig:
    syncs = load_config(config_path, registry=registry) if syncs is None else syncs
    if name not in syncs:
        known = ", ".join(sorted(syncs)) or "none"
        raise ConfigurationError(f"no sync named {name!r} in the configuration (known: {known})")
    return syncs[name]


def plan_sync(
    name: str,
    db_path: str | Path,
    config_path: str | Path | None = None,
    *,
    registry: Mapping[str, type] | None = None,
    syncs: Mapping[str, SyncConfig] | None = None,
) -> SyncRunResult:
    """What ``run_sync`` would send now, without calling the destination or writing state."""
    started = time.perf_counter()
    sync = _resolve_sync(name, config_path, registry, syncs)
    limits = _limits_for(sync, registry, None)
    con = _connect(db_path)
    try:
        ensure_sync_tables(con)
        prepared = _prepare(con, sync, limits, run_id="plan", record_invalid=False)
        result = SyncRunResult(
            sync_name=sync.name,
            destination=sync.destination,
            run_id="plan",
            dry_run=True,
            invalid=prepared.invalid,
            retries=prepared.retry_records,
            **prepared.counts,
        )
        result.batches = _count_batches(con, prepared)
        result.samples = _samples(con)
    finally:
        con.close()
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _count_batches(con, prepared: _Prepared) -> int:
    return sum(1 for _ in _cut_batches(_iter_diff(con), prepared.batch_size, prepared.limits.max_batch_bytes))


def build_destination_for(sync: SyncConfig, env: Mapping[str, str] | None = None) -> Destination:
    """Instantiate the sync's destination from its settings; credentials stay in the environment."""
    from activation import destinations

    env = os.environ if env is None else env
    return destinations.build_destination(sync.destination, sync.destination_settings(env), env)


def _check(dest: Destination, sync: SyncConfig, scrub: _Scrubber) -> None:
    """The destination's harmless call, before anything is sent."""
    try:
        dest.check()
    except ConfigurationError as exc:
        raise _Stop(f"configuration error from {sync.destination}: {scrub(str(exc))}") from None
    except TransientError as exc:
        raise _Stop(f"{sync.destination} is unreachable; nothing was sent: {scrub(str(exc))}") from None


def run_sync(
    name: str,
    db_path: str | Path,
    config_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    *,
    destination: Destination | None = None,
    registry: Mapping[str, type] | None = None,
    syncs: Mapping[str, SyncConfig] | None = None,
    env: Mapping[str, str] | None = None,
) -> SyncRunResult:
    """Send the sync's changes; advance state only for what the destination acknowledged.

    ``destination`` replaces the one built from the configuration (tests);
    ``env`` replaces ``os.environ`` for settings and credentials.
    Raises ConfigurationError for a bad configuration found before anything is sent;
    problems during the run end in ``status`` ``failed`` or ``partial`` with ``error``.
    """
    started = time.perf_counter()
    started_at = _now()
    env = os.environ if env is None else env
    sync = _resolve_sync(name, config_path, registry, syncs)
    scrub = _Scrubber([env.get(v, "") for v in sync.credentials.values()])
    try:
        scrub = _Scrubber(list(sync.credential_values(env).values()))
        dest = destination if destination is not None else build_destination_for(sync, env)
    except ConfigurationError as exc:
        raise ConfigurationError(scrub(str(exc)) or "configuration error") from None
    run_id = _new_run_id()
    result = SyncRunResult(sync_name=sync.name, destination=sync.destination, run_id=run_id, dry_run=False)
    con = _connect(db_path)
    deferred = 0
    try:
        ensure_sync_tables(con)
        con.execute(f"set checkpoint_threshold = '{RUN_CHECKPOINT_THRESHOLD}'")
        prepared = _prepare(con, sync, dest.limits, run_id=run_id, record_invalid=True)
        result.added = prepared.counts["added"]
        result.changed = prepared.counts["changed"]
        result.removed = prepared.counts["removed"]
        result.unchanged = prepared.counts["unchanged"]
        result.invalid = prepared.invalid
        _insert_run(con, result, sync, started_at)
        diffed = time.perf_counter()
        log.info(
            "sync %s run %s: %d to send (%d added, %d changed, %d removed), %d unchanged, %d invalid",
            sync.name,
            run_id,
            prepared.to_send,
            result.added,
            result.changed,
            result.removed,
            result.unchanged,
            result.invalid,
        )
        db_lock = threading.Lock()
        render: RenderSpec | None = None
        sender = _Sender(dest, sync, scrub, load=lambda lo, hi: _load_pending(con, db_lock, lo, hi))
        committer = _GroupCommit(con, sync, run_id, db_lock, prepared.upserts)
        sending = _Sending(sender, committer, _concurrency(dest), prepared.to_send, progress)
        if progress:
            progress(0, prepared.to_send)
        threads = _sending_threads(con) if prepared.to_send else None
        try:
            # Inside the run: a setting the rendering refuses (an unknown Klaviyo or Customer.io
            # identifier) ends this run as failed instead of leaving it 'running'.
            render = _rendered(dest, sync, scrub)
            if prepared.to_send:
                _check(dest, sync, scrub)
            batches = _cut_batches(
                _iter_diff(con, prepared.to_send, db_lock, render),
                prepared.batch_size,
                prepared.limits.max_batch_bytes,
                render.max_request_bytes if render else None,
            )
            sending.run(batches)
        except _Stop as exc:
            result.status = "failed"
            result.error = scrub(str(exc))
        finally:
            # Whatever the destination acknowledged is recorded, also when the run stops on an
            # error; only a process killed outright leaves its last group to be re-sent.
            try:
                committer.flush()
            finally:
                committer.close()
                sent = time.perf_counter()
                _restore_threads(con, threads)
        result.acknowledged = sending.acknowledged
        result.rejected = sending.rejected
        deferred = sending.deferred
        result.batches = sender.calls
        # Records re-sent after an earlier refusal, batch halves, and the HTTP retries the destination made.
        result.retries = prepared.retry_records + sender.resends + int(getattr(dest, "retries", 0) or 0)
        if result.status != "failed":
            if deferred:
                result.status = "partial"
                result.error = (
                    f"{deferred} record(s) deferred to the next run after transient failures: {sender.last_transient}"
                )
            elif result.rejected:
                result.status = "partial"
        _restore_checkpoints(con)
        finished = time.perf_counter()
        result.seconds = round(finished - started, 3)
        marks = (started, diffed, sent, finished)
        result.stage_seconds = {
            stage: round(end - begin, 3) for stage, begin, end in zip(SYNC_STAGES, marks[:-1], marks[1:], strict=True)
        }
        _finish_run(con, result, deferred)
    finally:
        _restore_checkpoints(con)
        con.close()
    log.info(
        "sync %s run %s %s: %d acknowledged, %d rejected, %d deferred, %d batches in %.1f s",
        sync.name,
        run_id,
        result.status,
        result.acknowledged,
        result.rejected,
        deferred,
        result.batches,
        result.seconds,
    )
    return result


def _rendered(dest: Destination, sync: SyncConfig, scrub: _Scrubber) -> RenderSpec | None:
    """``_render_spec`` in a run: a configuration error stops the run with its message."""
    try:
        return _render_spec(dest, sync)
    except ConfigurationError as exc:
        raise _Stop(f"configuration error from {sync.destination}: {scrub(str(exc))}") from None


def _render_spec(dest: Destination, sync: SyncConfig) -> RenderSpec | None:
    """The entities the warehouse writes for this destination, when it offers that path."""
    render_sql = getattr(dest, "render_sql", None)
    if render_sql is None or not hasattr(dest, "write_rendered"):
        return None
    return render_sql(sync.object, sync.mode, sorted(sync.fields))


def _load_pending(con: duckdb.DuckDBPyConnection, lock: threading.Lock, lo: int, hi: int) -> list[_Pending]:
    """Rows lo..hi of the diff as records (a refused rendered batch is split from them)."""
    with lock:
        rows = con.execute(
            f"""
            select rn, audience_id, record_key, action, payload, previous_payload, idempotency_key, is_retry, null
            from _atc_diff
            where rn between {int(lo)} and {int(hi)}
            order by rn
            """
        ).fetchall()
    return [p for batch in _cut_batches(iter(rows), len(rows) or 1, None) for p in batch]  # type: ignore[union-attr]


def _sending_threads(con: duckdb.DuckDBPyConnection) -> int | None:
    """One DuckDB thread while the batches go out; the setting it replaces (None if unreadable).

    While sending, DuckDB runs only small statements (a page of the diff, a group commit)
    beside the sending threads and, often, the destination itself on the same cores. One
    thread runs them with less CPU than a pool of them (a tenth to a fifth of the run's CPU
    at 135,000 records; docs/sync-performance.md). The setting is the database's, not the
    connection's: every connection to the file in this process runs on one thread until
    the run puts the previous value back, before its checkpoint.
    """
    try:
        previous = int(con.execute("select current_setting('threads')").fetchone()[0])
        if previous > 1:
            con.execute("set threads = 1")
        return previous
    except (duckdb.Error, TypeError, ValueError) as exc:
        log.info("DuckDB threads left as they are: %s", exc)
        return None


def _restore_threads(con: duckdb.DuckDBPyConnection, previous: int | None) -> None:
    if previous is not None and previous > 1:
        try:
            con.execute(f"set threads = {int(previous)}")
        except duckdb.Error as exc:
            log.warning("could not set DuckDB threads back to %d: %s", previous, exc)


def _restore_checkpoints(con: duckdb.DuckDBPyConnection) -> None:
    """The default checkpoint threshold again, and the run's log checkpointed (counted in its time).

    A checkpoint another connection's open transaction prevents is left for later: DuckDB
    checkpoints the log on its own, and nothing is lost meanwhile.
    """
    try:
        con.execute("reset checkpoint_threshold")
        con.execute("checkpoint")
    except duckdb.Error as exc:
        log.info("checkpoint left for later: %s", exc)


def last_runs(db_path: str | Path) -> list[dict[str, Any]]:
    """The latest run of every sync (for summaries): one dict per sync, by name."""
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        return []
    try:
        if not table_exists(con, SYNC_SCHEMA, "sync_runs"):
            return []
        cur = con.execute(
            f"""
            select *
            from {SYNC_SCHEMA}.sync_runs
            qualify row_number() over (partition by sync_name order by started_at desc, run_id desc) = 1
            order by sync_name
            """
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
