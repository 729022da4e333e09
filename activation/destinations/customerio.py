"""Customer.io: people and events through the Track API v2 batch; manual segment membership.

Vendor documentation (read for this module):
* https://docs.customer.io/integrations/api/track/ : HTTP basic auth with the workspace's
  site id and Track API key; US ``https://track.customer.io``, EU ``https://track-eu.customer.io``.
* https://docs.customer.io/integrations/api/track/tag/track_v2/batch/ : ``POST /api/v2/batch``
  ``{"batch": [{"type": "person", "identifiers": {"id"}, "action": "identify", "attributes"}]}``;
  the request must be smaller than 500 KB and each entity 32 KB or smaller.
* https://docs.customer.io/integrations/api/track/tag/track-segments/add_to_segment/ and
  ``remove_from_segment``: ``POST /api/v1/segments/{segment_id}/add_customers`` /
  ``remove_customers`` with ``{"ids": [...]}`` (1 to 1,000) and ``?id_type=id|email|cio_id``;
  ids that match nobody are ignored silently.
* Rate limit: the Track API's fair-use limit is 100 requests per second
  (https://docs.customer.io/integrations/api/customerio-apis/).
* ``GET /api/v1/accounts/region`` answers with the workspace's region: the connection check.
* Customer.io's Track API OpenAPI description (v2): a 207 answer lists refused entities as
  ``errors: [{batch_index, reason, field, message}]``; a 400 answers ``{"errors": [...]}``;
  ``null`` or an empty string removes an attribute; an event's ``id`` (a ULID) deduplicates it.

A v2 batch with refused entities answers ``207`` with ``errors`` carrying ``batch_index``;
those records get a result with the reason, the others are acknowledged.

Objects: ``profile`` (identify with the changed attributes; a ``mirror`` removal sends the
attributes empty, which removes them), ``event`` (payload ``name``, ``attributes``; the event
``id`` is a ULID derived from the idempotency key, so a re-sent event counts once),
``audience`` (a manual segment: ``audience_id`` is the numeric segment id; added records are
first identified with their payload, so the person exists, then added; removed records are
removed).

Settings: ``base_url``, ``site_id_env`` (default ``ATC_CUSTOMERIO_SITE_ID``), ``api_key_env``
(default ``ATC_CUSTOMERIO_API_KEY``), ``identifier`` (``id`` default, or ``email``).
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any, ClassVar

from activation.destinations.base import (
    JSON_HEADERS,
    HttpDestination,
    JsonPayload,
    RawJson,
    as_dict,
    changed_fields,
    encode,
    event_time,
    json_body,
    ok,
    refused,
    sql_json,
    text_size,
)
from activation.http import HttpClient, vendor_message
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

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
MAX_BATCH_BYTES = 500 * 1024
MAX_ENTITY_BYTES = 32 * 1024
MAX_SEGMENT_IDS = 1000
ENVELOPE_BYTES = 64


def deterministic_ulid(idempotency_key: str, unix_seconds: int | None = None) -> str:
    """A ULID derived from the idempotency key, so a re-sent event is the same event.

    Customer.io deduplicates events on a ULID ``id``. The time part is the event time when the
    sync maps one (``time_field``); otherwise it comes from the key's hash as well, because a
    re-send must produce the same id whatever the clock says.
    """
    digest = hashlib.sha256(idempotency_key.encode()).digest()
    millis = int(unix_seconds * 1000) if unix_seconds is not None else int.from_bytes(digest[10:16], "big")
    value = ((millis & (2**48 - 1)) << 80) | int.from_bytes(digest[:10], "big")
    return "".join(CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


class CustomerIoDestination(HttpDestination):
    name: ClassVar[str] = "customerio"
    limits: ClassVar[DestinationLimits] = DestinationLimits(
        max_batch_size=MAX_SEGMENT_IDS,
        max_batch_bytes=MAX_BATCH_BYTES,
        max_record_bytes=MAX_ENTITY_BYTES,
        requests_per_second=100.0,
        burst=100,
        extra={"max_concurrency": 4},  # batches in flight at once; the 100/s bucket is shared
    )
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror", "add-only", "audience"})
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience", "event"})
    default_base_url: ClassVar[str] = "https://track.customer.io"

    def _make_client(self) -> HttpClient:
        site = self.secret("site_id_env", "ATC_CUSTOMERIO_SITE_ID")
        key = self.secret("api_key_env", "ATC_CUSTOMERIO_API_KEY")
        return self.http(auth=(site.reveal(), key.reveal()), secrets=[site, key])

    @property
    def identifier(self) -> str:
        value = self.settings.get("identifier", "id")
        if value not in ("id", "email"):
            raise ConfigurationError("customerio: 'identifier' must be 'id' or 'email'")
        return value

    def check(self) -> None:
        response = self.client.request("GET", "/api/v1/accounts/region")
        if response.status_code >= 400:
            raise ConfigurationError(self.client.redact(f"customerio: check failed: {vendor_message(response)}"))

    def _entity(self, batch: Batch, record: Record) -> dict[str, Any] | RawJson | str:
        identifiers = {self.identifier: record.key}
        if batch.object == "event":
            payload = as_dict(record.payload)
            name = payload.pop("name", None) or payload.pop("event", None)
            if not name:
                return "an event record needs a 'name' field"
            attributes = payload.pop("attributes", None) or payload.pop("properties", None) or payload
            mapped = self.settings.get("time_field") and record.payload.get(self.settings["time_field"])
            timestamp = int(_parse_time(event_time(record, self.settings))) if mapped else None
            return {
                "type": "person",
                "identifiers": identifiers,
                "action": "event",
                "id": deterministic_ulid(record.idempotency_key, timestamp),
                "name": name,
                "timestamp": timestamp if timestamp is not None else int(time.time()),
                "attributes": attributes,
            }
        if record.change == "removed" and batch.object == "profile":
            attributes = {k: "" for k in record.payload if k not in ("id", "email")}
        elif (record.change == "added" or not record.previous) and isinstance(record.payload, JsonPayload):
            # Every field, spliced from the warehouse's JSON as it is.
            head = f'{{"type":"person","identifiers":{encode(identifiers)},"action":"identify"'
            return RawJson(f'{head},"attributes":{record.payload.text}}}')
        else:
            attributes = changed_fields(record)
        return {"type": "person", "identifiers": identifiers, "action": "identify", "attributes": attributes}

    def write(self, batch: Batch) -> list[RecordResult]:
        self.accept(batch)
        problems: dict[int, str] = {}
        to_send: list[tuple[int, str]] = []
        for index, record in enumerate(batch.records):
            if batch.object == "audience" and record.change == "removed":
                continue
            entity = self._entity(batch, record)
            if isinstance(entity, str) and not isinstance(entity, RawJson):
                problems[index] = entity
                continue
            encoded = encode(entity)  # once: for its size and for the request
            size = text_size(encoded)
            if size > MAX_ENTITY_BYTES:
                problems[index] = f"entity is {size} bytes; Customer.io accepts at most {MAX_ENTITY_BYTES} bytes"
                continue
            to_send.append((index, RawJson(encoded)))
        if to_send:
            problems.update(self._send_batch(to_send))
        if batch.object == "audience":
            self._segment(batch, problems)
        return [refused(record, problems[i]) if i in problems else ok(record) for i, record in enumerate(batch.records)]

    def _render_sql(self, object: str, mode: str, fields: list[str]) -> RenderSpec | None:
        """New profiles: an identify entity whose attributes are the payload's text as it is."""
        if object != "profile":
            return None
        head = f'{{"type":"person","identifiers":{{"{self.identifier}":'
        tail = '},"action":"identify","attributes":'
        entity = f"'{head}' || {sql_json('record_key')} || '{tail}' || payload || '}}'"
        return RenderSpec(
            entity={"added": entity},
            max_entity_bytes=MAX_ENTITY_BYTES,
            max_request_bytes=MAX_BATCH_BYTES - ENVELOPE_BYTES,
        )

    def write_rendered(self, batch: RenderedBatch) -> dict[int, str]:
        """One ``/api/v2/batch`` request of entities the warehouse wrote."""
        body = b'{"batch":[' + batch.entities.encode() + b"]}"
        return self._post_batch(body, list(range(batch.count)))

    def _send_batch(self, entities: list[tuple[int, RawJson]]) -> dict[int, str]:
        chunks: list[list[tuple[int, RawJson]]] = [[]]
        size = ENVELOPE_BYTES
        for item in entities:
            needed = text_size(item[1]) + 1
            if chunks[-1] and size + needed > MAX_BATCH_BYTES:
                chunks.append([])
                size = ENVELOPE_BYTES
            chunks[-1].append(item)
            size += needed
        problems: dict[int, str] = {}
        for chunk in chunks:
            body = json_body(batch=[e for _, e in chunk])
            problems.update(self._post_batch(body, [index for index, _ in chunk]))
        return problems

    def _post_batch(self, body: bytes, indexes: list[int]) -> dict[int, str]:
        """Send one v2 batch body; the refused entities' record indexes (``indexes[batch_index]``)."""
        problems: dict[int, str] = {}
        response = self.client.request("POST", "/api/v2/batch", data=body, headers=JSON_HEADERS)
        self._raise_for_batch(response, "/api/v2/batch")
        if response.status_code == 207:
            answer = _json(response)
            for error in answer.get("errors", []) if isinstance(answer, dict) else []:
                position = error.get("batch_index")
                if isinstance(position, int) and 0 <= position < len(indexes):
                    reason = error.get("message") or error.get("reason") or "refused"
                    field = error.get("field")
                    text = f"customerio: {reason}" + (f" ({field})" if field else "")
                    problems[indexes[position]] = self.client.redact(text)
        return problems

    def _segment(self, batch: Batch, problems: dict[int, str]) -> None:
        try:
            segment_id = int(str(batch.audience_id))
        except ValueError:
            raise ConfigurationError(
                f"customerio: audience_id {batch.audience_id!r} is not a numeric segment id"
            ) from None
        for action, wanted in (("add_customers", lambda r: r.change != "removed"), ("remove_customers", None)):
            ids = [
                r.key
                for i, r in enumerate(batch.records)
                if i not in problems and (wanted(r) if wanted else r.change == "removed")
            ]
            for start in range(0, len(ids), MAX_SEGMENT_IDS):
                path = f"/api/v1/segments/{segment_id}/{action}"
                response = self.client.request(
                    "POST",
                    path,
                    json={"ids": ids[start : start + MAX_SEGMENT_IDS]},
                    params={"id_type": self.identifier},
                )
                if response.status_code == 404:
                    raise ConfigurationError(self.client.redact(f"customerio: {vendor_message(response)}"))
                self._raise_for_batch(response, path)

    def _raise_for_batch(self, response, path: str) -> None:
        if response.status_code == 404:
            raise ConfigurationError(f"customerio: {self.base_url}{path} not found: check base_url")
        if response.status_code >= 400:
            raise BatchRejected(
                self.client.redact(f"customerio: {vendor_message(response)}"), status=response.status_code
            )


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
