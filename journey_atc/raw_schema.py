"""The raw landing tables (schema ``raw``) that every loader writes and staging reads.

Raw columns are kept as text on purpose: staging owns parsing and typing, so a
malformed value never stops a load; it reaches staging and is quarantined there
with a reason code. ``_source_file`` and ``_source_line`` point back at the
record a user supplied, so every error can name the file and line.
"""

from __future__ import annotations

from activation.state import create_sync_tables_sql

RAW_SCHEMA = "raw"

# table -> ordered (column, duckdb type, description)
RAW_TABLES: dict[str, list[tuple[str, str, str]]] = {
    "events": [
        ("message_id", "VARCHAR", "Segment messageId: the event's unique id (deduplication key)."),
        ("type", "VARCHAR", "Segment call type: track, identify, page, screen or alias."),
        ("event", "VARCHAR", "Track event name as the source sent it (any spelling)."),
        ("anonymous_id", "VARCHAR", "Segment anonymousId (browser or app install)."),
        ("user_id", "VARCHAR", "Segment userId once the person logged in."),
        ("previous_id", "VARCHAR", "alias calls: the id being aliased to user_id."),
        ("timestamp", "VARCHAR", "When it happened, ISO-8601 text, any offset."),
        ("received_at", "VARCHAR", "When the collector received it, ISO-8601 text."),
        ("context", "VARCHAR", "JSON text: device, locale, timezone, ip, location, traits."),
        ("properties", "VARCHAR", "JSON text: track/page/screen properties."),
        ("traits", "VARCHAR", "JSON text: identify traits (email, phone, ...)."),
        ("_source_file", "VARCHAR", "File the row was loaded from."),
        ("_source_line", "BIGINT", "1-based line (JSON lines) or row (Parquet) in that file."),
        ("_loaded_at", "TIMESTAMP", "When the loader wrote the row (UTC)."),
    ],
    "message_events": [
        ("event_id", "VARCHAR", "Unique id of this delivery event (deduplication key)."),
        ("message_id", "VARCHAR", "The message (send) this event belongs to."),
        ("channel", "VARCHAR", "email, sms, push, whatsapp, in_app or ads."),
        ("journey_id", "VARCHAR", "Journey that planned the message, if any."),
        ("event_type", "VARCHAR", "sent, delivered, opened, clicked, bounced, complained, unsubscribed."),
        ("user_id", "VARCHAR", "Recipient user id, if the tool knows it."),
        ("email", "VARCHAR", "Recipient email, if any."),
        ("phone", "VARCHAR", "Recipient phone, if any (any format)."),
        ("timestamp", "VARCHAR", "When it happened, ISO-8601 text."),
        ("properties", "VARCHAR", "JSON text: bounce_type (hard/soft), link, campaign, ..."),
        ("_source_file", "VARCHAR", "File the row was loaded from."),
        ("_source_line", "BIGINT", "1-based line or row in that file."),
        ("_loaded_at", "TIMESTAMP", "When the loader wrote the row (UTC)."),
    ],
    "consents": [
        ("consent_id", "VARCHAR", "Unique id of the consent record."),
        ("identifier_type", "VARCHAR", "user_id, email or phone."),
        ("identifier", "VARCHAR", "The identifier's value as captured."),
        ("channel", "VARCHAR", "email, sms, push or whatsapp."),
        ("purpose", "VARCHAR", "marketing or transactional."),
        ("granted", "VARCHAR", "true/false (text, as captured)."),
        ("region", "VARCHAR", "ISO-3166 alpha-2 country where it was captured."),
        ("recorded_at", "VARCHAR", "When it was recorded, ISO-8601 text."),
        ("source", "VARCHAR", "Where it was captured (signup_form, checkout, preference_center...)."),
        ("_source_file", "VARCHAR", "File the row was loaded from."),
        ("_source_line", "BIGINT", "1-based line or row in that file."),
        ("_loaded_at", "TIMESTAMP", "When the loader wrote the row (UTC)."),
    ],
    "venues": [
        ("venue_id", "VARCHAR", "Venue id."),
        ("name", "VARCHAR", "Venue name."),
        ("city", "VARCHAR", "City."),
        ("country", "VARCHAR", "ISO-3166 alpha-2 country."),
        ("timezone", "VARCHAR", "IANA time zone of the venue."),
        ("capacity", "BIGINT", "Seats."),
    ],
    "shows": [
        ("show_id", "VARCHAR", "Show (performance) id."),
        ("name", "VARCHAR", "Title of the show."),
        ("category", "VARCHAR", "concerts, theatre, comedy, sports, family, festivals."),
        ("venue_id", "VARCHAR", "Venue it plays at."),
        ("starts_at", "VARCHAR", "Start time, ISO-8601 text with the venue's offset."),
        ("on_sale_at", "VARCHAR", "When tickets went on sale, ISO-8601 text."),
    ],
    "products": [
        ("product_id", "VARCHAR", "Product (SKU) id."),
        ("name", "VARCHAR", "Product name."),
        ("category", "VARCHAR", "merchandise category: apparel, music, posters, accessories, food_drink, upgrades."),
        ("price", "DOUBLE", "List price."),
        ("currency", "VARCHAR", "ISO-4217 currency."),
    ],
}


def create_raw_tables_sql(replace: bool = False) -> list[str]:
    """DDL that creates the raw schema and every raw table (idempotent)."""
    verb = "create or replace table" if replace else "create table if not exists"
    statements = [f"create schema if not exists {RAW_SCHEMA}"]
    for table, columns in RAW_TABLES.items():
        cols = ",\n    ".join(f'"{name}" {ctype}' for name, ctype, _ in columns)
        statements.append(f"{verb} {RAW_SCHEMA}.{table} (\n    {cols}\n)")
    # The sync engine's run log, rejections and state (never replaced: they
    # record what the channel tools hold), so their dbt source always exists.
    statements += create_sync_tables_sql()
    return statements


def insert_rows(con, table: str, rows: list[dict]) -> None:
    """Insert dicts into ``raw.<table>``; absent columns are null.

    Used by tests and small fixtures; bulk loads go through :mod:`journey_atc.loader`.
    Dict/list values are written as JSON text, the way the loader stores them.
    """
    import json

    columns = [name for name, _, _ in RAW_TABLES[table]]
    unknown = {k for row in rows for k in row} - set(columns)
    if unknown:
        raise ValueError(f"raw.{table} has no column(s) {sorted(unknown)}")
    # (_source_file, _source_line) identifies a raw row, as the loader keeps it:
    # fixture lines continue across calls instead of starting again at 1
    first_line = 1
    if "_source_line" in columns:
        first_line = con.execute(
            f"select coalesce(max(_source_line), 0) + 1 from {RAW_SCHEMA}.{table} where _source_file = 'fixture'"
        ).fetchone()[0]
    values = []
    for i, row in enumerate(rows, start=first_line):
        out = []
        for name in columns:
            v = row.get(name)
            if isinstance(v, dict | list):
                v = json.dumps(v)
            if name == "_source_line" and v is None:
                v = i
            if name == "_source_file" and v is None:
                v = "fixture"
            out.append(v)
        values.append(out)
    placeholders = ", ".join("?" for _ in columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    con.executemany(f"insert into {RAW_SCHEMA}.{table} ({quoted}) values ({placeholders})", values)
