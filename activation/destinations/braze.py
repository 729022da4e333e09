"""Braze: user attributes, journey membership and journey events through ``POST /users/track``.

Vendor documentation (read for this module):
* https://www.braze.com/docs/api/endpoints/user_data/post_user_track/ : ``Authorization: Bearer``
  REST API key; ``attributes`` / ``events`` / ``purchases`` arrays keyed by ``external_id``;
  array attributes take ``{"add": [...]}`` / ``{"remove": [...]}``; ``null`` clears an attribute;
  ``_update_existing_only``.
* https://www.braze.com/docs/api/api_limits/ : 3,000 requests per 3 seconds per workspace;
  up to 75 objects per request combined across the three arrays; 429 with
  ``X-RateLimit-Limit`` / ``-Remaining`` / ``-Reset``.
* https://www.braze.com/docs/api/errors/ : ``{"message": "success", "errors": [...]}`` is a
  partial success (objects without an error were applied); any other ``message`` is fatal.

Objects: ``profile`` (attributes; only changed fields are sent, Braze bills per data point;
a removal in ``mirror`` mode clears the fields last sent), ``audience`` (the array attribute
``journeys``, or ``audience_attribute``, gets the audience id added / removed, plus a
``journey_entered`` / ``journey_exited`` event carrying the payload), ``event`` (custom events:
payload ``name``, ``properties``). The audience mode sends two objects per record, so its
batches are limited to 37 records (``limits.extra["max_batch_size_by_mode"]``).

Settings: ``base_url`` (``https://rest.<instance>.braze.com``), ``api_key_env``
(default ``ATC_BRAZE_API_KEY``), ``audience_attribute``, ``entered_event``, ``exited_event``,
``send_events`` (default true), ``update_existing_only``, ``time_field``, ``identifier_fields``
(payload fields never cleared, default ``email``), plus the HTTP settings of ``activation.http``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from activation.destinations.base import (
    JSON_HEADERS,
    HttpDestination,
    as_dict,
    changed_fields,
    event_time,
    json_body,
    jsonable,
    ok,
    refused,
    sql_json,
    sql_with_fields,
    with_fields,
)
from activation.http import HttpClient, vendor_message
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    DestinationLimits,
    RecordResult,
    RenderedBatch,
    RenderSpec,
)

MAX_OBJECTS = 75


class BrazeDestination(HttpDestination):
    name: ClassVar[str] = "braze"
    limits: ClassVar[DestinationLimits] = DestinationLimits(
        max_batch_size=MAX_OBJECTS,
        requests_per_second=1000.0,  # 3,000 requests per 3 seconds
        burst=3000,
        extra={
            "max_batch_size_by_mode": {"audience": MAX_OBJECTS // 2},
            "objects_per_request": MAX_OBJECTS,
            # Batches in flight at once; the bucket above holds the workspace's rate whatever the number.
            "max_concurrency": 8,
        },
    )
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror", "add-only", "audience"})
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience", "event"})
    default_base_url: ClassVar[str] = "https://rest.iad-01.braze.com"

    def _make_client(self) -> HttpClient:
        key = self.secret("api_key_env", "ATC_BRAZE_API_KEY")
        return self.http(headers={"Authorization": f"Bearer {key.reveal()}"}, secrets=[key])

    def check(self) -> None:
        # Harmless: an update-only attribute write for an id that does not exist changes nothing.
        response = self.client.request(
            "POST",
            "/users/track",
            json={"attributes": [{"external_id": "journey-atc-connection-check", "_update_existing_only": True}]},
        )
        if response.status_code >= 400:
            raise ConfigurationError(self.client.redact(f"braze: check failed: {vendor_message(response)}"))

    # -- building objects -----------------------------------------------------
    def _identifier_fields(self) -> set[str]:
        return set(self.settings.get("identifier_fields", ["email"]))

    def _objects(self, batch: Batch) -> list[tuple[str, int, dict[str, Any]]]:
        """(array name, record index, object) in request order."""
        out: list[tuple[str, int, dict[str, Any]]] = []
        update_only = bool(self.settings.get("update_existing_only"))
        for index, record in enumerate(batch.records):
            base: dict[str, Any] = {"external_id": record.key}
            if update_only:
                base["_update_existing_only"] = True
            if batch.object == "profile":
                if record.change == "removed":
                    fields = {k: None for k in record.payload if k not in self._identifier_fields()}
                elif record.change == "added" or not record.previous:
                    # Every field, spliced from the warehouse's JSON as it is.
                    out.append(("attributes", index, with_fields(base, record.payload)))
                    continue
                else:
                    fields = changed_fields(record)
                out.append(("attributes", index, {**base, **jsonable(fields)}))
            elif batch.object == "audience":
                attribute = self.settings.get("audience_attribute", "journeys")
                op = "remove" if record.change == "removed" else "add"
                out.append(("attributes", index, {**base, attribute: {op: [batch.audience_id]}}))
                if self.settings.get("send_events", True) and record.change != "changed":
                    name = (
                        self.settings.get("exited_event", "journey_exited")
                        if record.change == "removed"
                        else self.settings.get("entered_event", "journey_entered")
                    )
                    properties = {"journey": batch.audience_id, **as_dict(record.payload)}
                    out.append(
                        (
                            "events",
                            index,
                            {
                                "external_id": record.key,
                                "name": name,
                                "time": event_time(record, self.settings),
                                "properties": properties,
                            },
                        )
                    )
            else:  # event
                payload = as_dict(record.payload)
                name = payload.pop("name", None) or payload.pop("event", None)
                if not name:
                    out.append(("invalid", index, {"message": "an event record needs a 'name' field"}))
                    continue
                properties = payload.pop("properties", None) or {
                    k: v for k, v in payload.items() if k != self.settings.get("time_field")
                }
                out.append(
                    (
                        "events",
                        index,
                        {
                            "external_id": record.key,
                            "name": name,
                            "time": event_time(record, self.settings),
                            "properties": properties,
                        },
                    )
                )
        return out

    def write(self, batch: Batch) -> list[RecordResult]:
        self.accept(batch)
        objects = self._objects(batch)
        problems: dict[int, str] = {i: obj["message"] for arr, i, obj in objects if arr == "invalid"}
        objects = [o for o in objects if o[0] != "invalid"]
        # One request per 75 objects, never splitting one record's objects across requests.
        groups: dict[int, list[tuple[str, int, dict[str, Any]]]] = {}
        for item in objects:
            groups.setdefault(item[1], []).append(item)
        chunks: list[list[tuple[str, int, dict[str, Any]]]] = []
        current: list[tuple[str, int, dict[str, Any]]] = []
        for group in groups.values():
            if current and len(current) + len(group) > MAX_OBJECTS:
                chunks.append(current)
                current = []
            current.extend(group)
        if current:
            chunks.append(current)
        for chunk in chunks:
            problems.update(self._send(chunk))
        return [refused(record, problems[i]) if i in problems else ok(record) for i, record in enumerate(batch.records)]

    def _render_sql(self, object: str, mode: str, fields: list[str]) -> RenderSpec | None:
        """New profiles: ``{"external_id": key, ...payload}``, the payload's text spliced as it is."""
        if object != "profile":
            return None
        head = "'{\"external_id\":' || " + sql_json("record_key")
        keys = ["'external_id'"]
        if self.settings.get("update_existing_only"):
            head += " || ',\"_update_existing_only\":true'"
            keys.append("'_update_existing_only'")
        return RenderSpec(entity={"added": sql_with_fields(head, keys=keys)})

    def write_rendered(self, batch: RenderedBatch) -> dict[int, str]:
        """One request of up to 75 new profiles whose attribute objects the warehouse wrote."""
        if batch.count > MAX_OBJECTS:
            raise BatchRejected(f"braze: {batch.count} objects exceed the {MAX_OBJECTS} a request takes")
        body = b'{"attributes":[' + batch.entities.encode() + b"]}"
        return self._post(body, {("attributes", i): i for i in range(batch.count)})

    def _send(self, chunk: list[tuple[str, int, dict[str, Any]]]) -> dict[int, str]:
        body: dict[str, list[dict[str, Any]]] = {}
        positions: dict[tuple[str, int], int] = {}
        for array, record_index, obj in chunk:
            body.setdefault(array, []).append(obj)
            positions[(array, len(body[array]) - 1)] = record_index
        return self._post(json_body(**body), positions)

    def _post(self, body: bytes, positions: dict[tuple[str, int], int]) -> dict[int, str]:
        """Send one ``/users/track`` body; the refused objects' records, by ``positions``."""
        response = self.client.request("POST", "/users/track", data=body, headers=JSON_HEADERS)
        answer = _json(response)
        message = answer.get("message") if isinstance(answer, dict) else None
        if response.status_code in (400, 413) or (response.status_code < 300 and message != "success"):
            raise BatchRejected(self.client.redact(f"braze: {vendor_message(response)}"), status=response.status_code)
        if response.status_code == 404:
            raise ConfigurationError(f"braze: {self.base_url}/users/track not found: check base_url")
        if response.status_code >= 400:
            raise BatchRejected(self.client.redact(f"braze: {vendor_message(response)}"), status=response.status_code)
        problems: dict[int, str] = {}
        for error in answer.get("errors") or []:
            if not isinstance(error, dict):
                continue
            where = (error.get("input_array"), error.get("index"))
            record_index = positions.get(where)  # type: ignore[arg-type]
            if record_index is not None:
                problems.setdefault(record_index, self.client.redact(str(error.get("type") or error)))
        return problems


def _json(response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}
