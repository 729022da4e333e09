"""The sync engine's warehouse tables (schema ``atc_sync``), read back by dbt as a source.

``sync_state``       the last ACKNOWLEDGED payload per (sync, audience, key). A row
                     changes only in the transaction that follows the destination's
                     acknowledgement of the batch that carried it.
``sync_runs``        one row per run (or dry run): counts, timing, status, error.
``sync_rejections``  records the vendor refused, with its message; retried by every
                     later run until one acknowledges the key (``resolved_at``).
``sync_invalid_rows``rows caught before sending (null key, duplicate key, a record
                     larger than the vendor accepts), counted apart from rejections.
``sync_acknowledgements``
                     append-only: one row per change a destination acknowledged,
                     written in the same transaction as ``sync_state``. The
                     row-level audit trail of what left the warehouse, and, through
                     the sync's ``ledger:`` columns, the sends the guardrails'
                     ledger counts.

No credential is ever written here: payloads come from the sync model's columns
and every message is scrubbed of the run's credential values before it is stored.
"""

from __future__ import annotations

SYNC_SCHEMA = "atc_sync"

# table -> ordered (column, duckdb type, description)
SYNC_TABLES: dict[str, list[tuple[str, str, str]]] = {
    "sync_state": [
        ("sync_name", "VARCHAR NOT NULL", "The sync (a name in syncs.yml)."),
        ("audience_id", "VARCHAR NOT NULL", "List or audience for audience syncs; '' for the others."),
        ("record_key", "VARCHAR NOT NULL", "The record's key exactly as written to the destination."),
        ("payload", "VARCHAR NOT NULL", "JSON of the mapped fields last acknowledged for this key."),
        ("payload_hash", "VARCHAR NOT NULL", "md5 of payload: the change-detection fingerprint."),
        ("is_present", "BOOLEAN NOT NULL", "False once a removal was acknowledged (the payload stays)."),
        ("version", "BIGINT NOT NULL", "Number of acknowledged changes for this key; part of the idempotency key."),
        ("idempotency_key", "VARCHAR NOT NULL", "Idempotency key of the last acknowledged change."),
        ("last_change", "VARCHAR NOT NULL", "added, changed or removed: the last acknowledged change."),
        ("run_id", "VARCHAR NOT NULL", "Run that acknowledged it."),
        ("acknowledged_at", "TIMESTAMP NOT NULL", "When the destination acknowledged it (UTC)."),
    ],
    "sync_runs": [
        ("run_id", "VARCHAR NOT NULL", "Unique id of the run."),
        ("sync_name", "VARCHAR NOT NULL", "The sync."),
        ("destination", "VARCHAR NOT NULL", "Destination name."),
        ("model", "VARCHAR NOT NULL", "The sync model read."),
        ("object", "VARCHAR NOT NULL", "What the destination received (profile, audience, event ...)."),
        ("mode", "VARCHAR NOT NULL", "upsert, mirror, add-only or audience."),
        ("status", "VARCHAR NOT NULL", "running, ok, partial (some records refused or deferred) or failed."),
        ("started_at", "TIMESTAMP NOT NULL", "When the run started (UTC)."),
        ("finished_at", "TIMESTAMP", "When it ended (UTC); null while running or if the process died."),
        ("added", "BIGINT NOT NULL", "Keys new since the last acknowledged state."),
        ("changed", "BIGINT NOT NULL", "Keys whose mapped fields changed."),
        ("removed", "BIGINT NOT NULL", "Keys gone from the model (sent only by mirror and audience syncs)."),
        ("unchanged", "BIGINT NOT NULL", "Keys identical to the acknowledged state (nothing sent)."),
        ("invalid", "BIGINT NOT NULL", "Rows caught before sending (see sync_invalid_rows)."),
        ("rejected", "BIGINT NOT NULL", "Records the destination refused (see sync_rejections)."),
        ("deferred", "BIGINT NOT NULL", "Records left unacknowledged by a transient failure; sent again next run."),
        ("acknowledged", "BIGINT NOT NULL", "Records whose state advanced."),
        ("batches", "BIGINT NOT NULL", "write calls made."),
        ("retries", "BIGINT NOT NULL", "Records re-sent after an earlier refusal plus batches re-sent as halves."),
        ("seconds", "DOUBLE NOT NULL", "Wall-clock duration."),
        ("error", "VARCHAR", "Why the run stopped, when it did; never carries a credential."),
    ],
    "sync_rejections": [
        ("rejection_id", "VARCHAR NOT NULL", "Unique id (run, audience, key)."),
        ("run_id", "VARCHAR NOT NULL", "Run that sent the record."),
        ("sync_name", "VARCHAR NOT NULL", "The sync."),
        ("destination", "VARCHAR NOT NULL", "Destination that refused it."),
        ("audience_id", "VARCHAR NOT NULL", "List or audience ('' for non-audience syncs)."),
        ("record_key", "VARCHAR NOT NULL", "The refused record's key."),
        ("change_type", "VARCHAR NOT NULL", "added, changed or removed."),
        ("payload_hash", "VARCHAR NOT NULL", "Fingerprint of the payload that was refused."),
        ("idempotency_key", "VARCHAR NOT NULL", "Idempotency key the record carried."),
        ("message", "VARCHAR", "The vendor's own words."),
        ("is_retryable", "BOOLEAN NOT NULL", "Whether the vendor marked it worth retrying."),
        ("rejected_at", "TIMESTAMP NOT NULL", "When it was refused (UTC)."),
        ("resolved_at", "TIMESTAMP", "When a later run got the key acknowledged; null while open."),
    ],
    "sync_invalid_rows": [
        ("run_id", "VARCHAR NOT NULL", "Run that found it."),
        ("sync_name", "VARCHAR NOT NULL", "The sync."),
        ("audience_id", "VARCHAR", "List or audience, when known."),
        ("record_key", "VARCHAR", "The key as found (null for a null key)."),
        ("reason_code", "VARCHAR NOT NULL", "null_key, duplicate_key or record_too_large."),
        ("row_count", "BIGINT NOT NULL", "Model rows with this problem for this key."),
        ("message", "VARCHAR NOT NULL", "A sentence naming the column and the problem."),
        ("found_at", "TIMESTAMP NOT NULL", "When the run found it (UTC)."),
    ],
    "sync_acknowledgements": [
        ("acknowledgement_id", "VARCHAR NOT NULL", "Unique id: md5 of run_id and idempotency_key."),
        ("run_id", "VARCHAR NOT NULL", "Run whose batch the destination acknowledged."),
        ("sync_name", "VARCHAR NOT NULL", "The sync (a name in syncs.yml)."),
        ("destination", "VARCHAR NOT NULL", "Destination that acknowledged it."),
        ("audience_id", "VARCHAR NOT NULL", "List or audience for audience syncs; '' for the others."),
        ("record_key", "VARCHAR NOT NULL", "The record's key exactly as written to the destination."),
        ("change_type", "VARCHAR NOT NULL", "added, changed or removed: the change the run found."),
        (
            "action",
            "VARCHAR NOT NULL",
            "added, changed or removed: what the destination was told (an audience member whose "
            "fields changed is removed as last written, then added).",
        ),
        ("idempotency_key", "VARCHAR NOT NULL", "Idempotency key the record carried."),
        ("payload_hash", "VARCHAR NOT NULL", "md5 of the payload the destination acknowledged."),
        ("acknowledged_at", "TIMESTAMP NOT NULL", "When the destination acknowledged it (UTC)."),
        ("person_id", "VARCHAR", "Ledger: the person messaged (the sync's ledger.person_id column); null on removals."),
        ("journey_id", "VARCHAR", "Ledger: the journey (ledger.journey_id); null on removals."),
        ("channel", "VARCHAR", "Ledger: the channel the tool messages on (ledger.channel); null on removals."),
        (
            "message_key",
            "VARCHAR",
            "Ledger: the guardrail decision's idempotency key when the record asks the tool to send "
            "(ledger.message_key); null for deferrals, removals and syncs without a ledger mapping.",
        ),
    ],
}

PRIMARY_KEYS = {
    "sync_state": ("sync_name", "audience_id", "record_key"),
    "sync_runs": ("run_id",),
}


def table_exists(con, schema: str, table: str) -> bool:
    """Whether ``schema.table`` exists in the connection's current database."""
    row = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() and table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def create_sync_tables_sql() -> list[str]:
    """DDL for the engine's schema and tables (idempotent)."""
    statements = [f"create schema if not exists {SYNC_SCHEMA}"]
    for table, columns in SYNC_TABLES.items():
        cols = [f'"{name}" {ctype}' for name, ctype, _ in columns]
        if table in PRIMARY_KEYS:
            cols.append(f"primary key ({', '.join(PRIMARY_KEYS[table])})")
        body = ",\n    ".join(cols)
        statements.append(f"create table if not exists {SYNC_SCHEMA}.{table} (\n    {body}\n)")
    return statements


def ensure_sync_tables(con) -> None:
    """Create the engine's tables on a DuckDB connection if they are missing."""
    for stmt in create_sync_tables_sql():
        con.execute(stmt)
