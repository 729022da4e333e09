"""Segment: identify and track calls through the HTTP Tracking API's ``POST /v1/batch``.

Vendor documentation (read for this module):
* https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/ (now
  https://www.twilio.com/docs/segment/connections/sources/catalog/libraries/server/http-api):
  basic auth with the write key as user name and an empty password; ``{"batch": [...]}`` of
  identify / track messages; at most 500 KB per batch request and 32 KB per message, ``400``
  beyond; every message needs ``userId`` or ``anonymousId``; Segment answers ``200`` for
  almost everything and deduplicates on ``messageId``; EU workspaces use
  ``https://events.eu1.segmentapis.com``.
* ``messageId`` is limited to 100 characters (segmentio/segment-docs issue 5924).
* Engage sends audience membership as a boolean trait plus ``Audience Entered`` /
  ``Audience Exited`` track events; this module does the same.

Every message carries a deterministic ``messageId`` derived from the record's idempotency key,
so a batch sent again after a timeout is deduplicated by Segment. That also makes it safe to
split one batch into several requests when it is larger than 500 KB. A message over 32 KB is
never sent: its record gets a result with the reason.

Objects: ``profile`` (identify with the changed traits; a ``mirror`` removal sends the traits
as null), ``audience`` (identify ``{<audience_id>: true|false}`` plus the track event),
``event`` (track; payload ``event`` or ``name``, ``properties``).

Settings: ``base_url`` (default ``https://api.segment.io``), ``write_key_env`` (default
``ATC_SEGMENT_WRITE_KEY``), ``identifier`` (``userId`` or ``anonymousId``), ``time_field``,
``entered_event`` / ``exited_event``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any, ClassVar

from activation.destinations.base import (
    JSON_HEADERS,
    HttpDestination,
    RawJson,
    as_dict,
    changed_fields,
    encode,
    event_time,
    json_body,
    ok,
    refused,
    sql_json,
    sql_text,
    sql_with_fields,
    text_size,
    with_fields,
)
from activation.http import HttpClient, Secret, vendor_message
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    DestinationLimits,
    Record,
    RecordResult,
    RenderedBatch,
    RenderSpec,
)

_dumps = json.JSONEncoder(separators=(",", ":")).encode
MAX_BATCH_BYTES = 500 * 1024
MAX_MESSAGE_BYTES = 32 * 1024
ENVELOPE_BYTES = 64  # {"batch":[...]} plus separators, generously


def message_id(idempotency_key: str, suffix: str = "") -> str:
    """Deterministic, at most 100 characters (Segment's limit)."""
    text = f"{idempotency_key}{'-' + suffix if suffix else ''}"
    if len(text) <= 100:
        return text
    return "atc-" + hashlib.sha256(text.encode()).hexdigest()


class SegmentDestination(HttpDestination):
    name: ClassVar[str] = "segment"
    limits: ClassVar[DestinationLimits] = DestinationLimits(
        max_batch_size=250,
        max_batch_bytes=MAX_BATCH_BYTES,
        max_record_bytes=MAX_MESSAGE_BYTES,
        requests_per_second=500.0,  # Segment asks to stay under about 1,000 requests per second
        burst=500,
        extra={"max_concurrency": 4},  # batches in flight at once; the bucket is shared
    )
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror", "add-only", "audience"})
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience", "event"})
    default_base_url: ClassVar[str] = "https://api.segment.io"

    def _make_client(self) -> HttpClient:
        key = self.secret("write_key_env", "ATC_SEGMENT_WRITE_KEY")
        token = base64.b64encode(f"{key.reveal()}:".encode()).decode()
        return self.http(
            headers={"Authorization": f"Basic {token}"}, secrets=[key, Secret(f"{key.reveal()}:", source=key.source)]
        )

    def check(self) -> None:
        # An empty batch proves the write key and reachability and records nothing.
        response = self.client.request("POST", "/v1/batch", json={"batch": []})
        if response.status_code >= 400:
            raise ConfigurationError(self.client.redact(f"segment: check failed: {vendor_message(response)}"))

    def _who(self, record: Record) -> dict[str, str]:
        return {self.settings.get("identifier", "userId"): record.key}

    def _messages(self, batch: Batch, record: Record) -> list[dict[str, Any]]:
        who = self._who(record)
        timestamp = event_time(record, self.settings)
        if batch.object == "profile":
            if record.change == "removed":
                traits = {k: None for k in record.payload}
            else:
                traits = changed_fields(record)
            return [{"type": "identify", **who, "traits": traits, "messageId": message_id(record.idempotency_key)}]
        if batch.object == "audience":
            member = record.change != "removed"
            traits: dict[str, Any] | RawJson = {batch.audience_id: member}
            if member and (record.change == "added" or not record.previous):
                traits = with_fields(traits, record.payload)  # spliced from the warehouse's JSON
            elif member:
                traits.update(changed_fields(record))
            messages = [
                {
                    "type": "identify",
                    **who,
                    "traits": traits,
                    "messageId": message_id(record.idempotency_key, "identify"),
                }
            ]
            if record.change != "changed":
                event = (
                    self.settings.get("entered_event", "Audience Entered")
                    if member
                    else self.settings.get("exited_event", "Audience Exited")
                )
                messages.append(
                    {
                        "type": "track",
                        **who,
                        "event": event,
                        "properties": with_fields({"audience_key": batch.audience_id}, record.payload),
                        "timestamp": timestamp,
                        "messageId": message_id(record.idempotency_key, "track"),
                    }
                )
            return messages
        payload = as_dict(record.payload)
        event = payload.pop("event", None) or payload.pop("name", None)
        properties = payload.pop("properties", None) or payload
        return [
            {
                "type": "track",
                **who,
                "event": event,
                "properties": properties,
                "timestamp": timestamp,
                "messageId": message_id(record.idempotency_key),
            }
        ]

    def _render_sql(self, object: str, mode: str, fields: list[str]) -> RenderSpec | None:
        """Audience entries and exits: the identify and the track message of ``_messages``.

        The event time is the time the records were read (``atc_now``) unless the sync maps a
        ``time_field``, which ``write`` handles.
        """
        if object != "audience" or self.settings.get("time_field"):
            return None
        entered = self.settings.get("entered_event", "Audience Entered")
        exited = self.settings.get("exited_event", "Audience Exited")
        if not entered or not exited:
            # An event name configured empty (or null): ``write`` refuses those records, one by
            # one, instead of the warehouse sending them under the other mode's name.
            return None
        who = _dumps(self.settings.get("identifier", "userId"))
        audience = sql_json("audience_id")

        def messages(member: bool) -> str:
            traits_head = f"'{{' || {audience} || ':{str(member).lower()}'"
            traits = sql_with_fields(traits_head, keys=["audience_id"]) if member else f"{traits_head} || '}}'"
            properties = sql_with_fields("'{\"audience_key\":' || " + audience, keys=["'audience_key'"])
            event = entered if member else exited
            identify = (
                f'\'{{"type":"identify",{who}:\' || {sql_json("record_key")} || \',"traits":\' || {traits}'
                " || ',\"messageId\":\"' || idempotency_key || '-identify\"}'"
            )
            event_member = sql_text(',"event":' + _dumps(event) + ',"properties":')
            track = (
                f'\'{{"type":"track",{who}:\' || {sql_json("record_key")} || {event_member} || {properties}'
                ' || \',"timestamp":"\' || atc_now || \'","messageId":"\' || idempotency_key || \'-track"}\''
            )
            return f"{identify} || ',' || {track}"

        return RenderSpec(
            entity={"added": messages(True), "removed": messages(False)},
            max_entity_bytes=MAX_MESSAGE_BYTES,
            max_request_bytes=MAX_BATCH_BYTES - ENVELOPE_BYTES,
        )

    def write_rendered(self, batch: RenderedBatch) -> dict[int, str]:
        """One ``/v1/batch`` request of messages the warehouse wrote."""
        self._post(b'{"batch":[' + batch.entities.encode() + b"]}")
        return {}

    def write(self, batch: Batch) -> list[RecordResult]:
        self.accept(batch)
        results: dict[int, RecordResult] = {}
        requests: list[list[RawJson]] = [[]]
        size = ENVELOPE_BYTES
        for index, record in enumerate(batch.records):
            messages = self._messages(batch, record)
            if any(m["type"] == "track" and not m.get("event") for m in messages):
                results[index] = refused(record, "an event record needs an 'event' or 'name' field")
                continue
            encoded = [RawJson(encode(m)) for m in messages]  # once: for the sizes and for the request
            sizes = [text_size(m) for m in encoded]
            if max(sizes) > MAX_MESSAGE_BYTES:
                results[index] = refused(
                    record, f"message is {max(sizes)} bytes; Segment accepts at most {MAX_MESSAGE_BYTES} bytes"
                )
                continue
            needed = sum(s + 1 for s in sizes)
            if requests[-1] and size + needed > MAX_BATCH_BYTES:
                requests.append([])
                size = ENVELOPE_BYTES
            requests[-1].extend(encoded)
            size += needed
            results[index] = ok(record)
        for messages in requests:
            if messages:
                self._send(messages)
        return [results[i] for i in range(len(batch.records))]

    def _send(self, messages: list[RawJson]) -> None:
        self._post(json_body(batch=messages))

    def _post(self, body: bytes) -> None:
        response = self.client.request("POST", "/v1/batch", data=body, headers=JSON_HEADERS)
        if response.status_code in (400, 413):
            raise BatchRejected(self.client.redact(f"segment: {vendor_message(response)}"), status=response.status_code)
        if response.status_code == 404:
            raise ConfigurationError(f"segment: {self.base_url}/v1/batch not found: check base_url")
        if response.status_code >= 300:
            raise BatchRejected(self.client.redact(f"segment: {vendor_message(response)}"), status=response.status_code)
