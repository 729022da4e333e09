"""Customer.io Track API.

From https://docs.customer.io/integrations/api/track/ : HTTP basic auth with
site id and API key. ``POST /api/v2/batch`` takes ``{"batch": [entity ...]}``
where an entity is ``{"type": "person", "identifiers": {"id" | "email" | "cio_id"},
"action": "identify" | "event" | "delete" ..., "attributes" / "name"}``; the batch
must be under 500 KB and each entity 32 KB or smaller
(https://docs.customer.io/integrations/api/track/tag/track_v2/batch/).
``PUT /api/v1/customers/{identifier}`` identifies one person.
Manual segments: ``POST /api/v1/segments/{segment_id}/add_customers`` and
``/remove_customers`` with ``{"ids": [...]}`` (1 to 1,000) and ``?id_type=id|email|cio_id``;
ids that do not match are ignored. ``GET /api/v1/accounts/region`` answers the
workspace's region. Errors: v1 ``{"meta": {"error": "..."}}``; v2 ``{"errors": [{"reason", "field", "message"}]}``,
and a v2 batch with refused entities answers ``207`` with
``{"errors": [{"batch_index", "reason", "field", "message"}]}`` (Customer.io's Track API OpenAPI
description). An event's ``id`` (a ULID) deduplicates it.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activation.sandbox.base import BodyError, Vendor, handler
from activation.sandbox.vendors.braze import EMAIL

ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
MAX_BATCH_BYTES = 500 * 1024
MAX_ENTITY_BYTES = 32 * 1024
MAX_SEGMENT_IDS = 1000
SEGMENTS = (1, 2, 3)
ACTIONS = {"identify", "delete", "event", "add_relationships", "delete_relationships", "suppress", "unsuppress"}


class CustomerIo(Vendor):
    name = "customerio"

    def reset(self) -> None:
        with self.lock:
            self.people: dict[str, dict[str, Any]] = {}
            self.events: list[dict[str, Any]] = []
            self.segments: dict[int, set[str]] = {segment: set() for segment in SEGMENTS}
            self.ignored_ids = 0
            self.stats = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "people": {k: dict(v) for k, v in sorted(self.people.items())},
                "events": list(self.events),
                "segments": {str(k): sorted(v) for k, v in sorted(self.segments.items())},
                "ignored_segment_ids": self.ignored_ids,
                "stats": dict(self.stats),
            }

    def authenticated(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            user == self.credentials["ATC_SANDBOX_CUSTOMERIO_SITE_ID"]
            and password == self.credentials["ATC_SANDBOX_CUSTOMERIO_API_KEY"]
        )

    def unauthorized(self):
        return self.error(401, "Unauthorized request")

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        if extra.get("v2"):  # the v2 API answers {"errors": [{"reason", "field", "message"}]}
            return {
                "errors": [
                    {"reason": extra.get("reason", "invalid"), "field": extra.get("field", ""), "message": message}
                ]
            }
        return {"meta": {"error": message}}

    def routes(self) -> list[Route]:
        return [
            Route("/customerio/api/v2/batch", handler(self, self.batch), methods=["POST"]),
            Route("/customerio/api/v1/customers/{identifier}", handler(self, self.put_customer), methods=["PUT"]),
            Route(
                "/customerio/api/v1/segments/{segment_id:int}/add_customers",
                handler(self, self.add_customers),
                methods=["POST"],
            ),
            Route(
                "/customerio/api/v1/segments/{segment_id:int}/remove_customers",
                handler(self, self.remove_customers),
                methods=["POST"],
            ),
            Route("/customerio/api/v1/accounts/region", handler(self, self.region), methods=["GET"]),
        ]

    async def region(self, request: Request):
        return JSONResponse({"url": str(request.base_url).rstrip("/") + "/customerio", "data_center": "us"})

    def _key(self, identifiers: dict[str, Any]) -> str:
        if identifiers.get("id") not in (None, ""):
            return str(identifiers["id"])
        if identifiers.get("email"):
            # People identified by email only are stored by email; a later id lookup matches the email attribute.
            for key, person in self.people.items():
                if person.get("email") == identifiers["email"]:
                    return key
            return f"email:{identifiers['email']}"
        return f"cio:{identifiers['cio_id']}"

    def _entity_problem(self, entity: Any) -> tuple[str, str] | None:
        if not isinstance(entity, dict):
            return ("invalid", "entity must be an object")
        if entity.get("type") != "person":
            return ("type", "the sandbox emulates 'person' entities only")
        if entity.get("action") not in ACTIONS:
            return ("action", f"action must be one of {', '.join(sorted(ACTIONS))}")
        identifiers = entity.get("identifiers")
        if not isinstance(identifiers, dict) or not any(identifiers.get(k) for k in ("id", "email", "cio_id")):
            return ("identifiers", "identifiers must carry one of id, email, cio_id")
        if entity["action"] == "event" and not entity.get("name"):
            return ("name", "an event needs a name")
        if entity["action"] == "event" and "id" in entity and not ULID.match(str(entity["id"])):
            return ("id", "an event id must be a ULID")
        attributes = entity.get("attributes", {})
        if not isinstance(attributes, dict):
            return ("attributes", "attributes must be an object")
        email = attributes.get("email", identifiers.get("email"))
        if email is not None and not (isinstance(email, str) and EMAIL.match(email)):
            return ("email", f"invalid email address {email!r}")
        if self.faults.rejects(self.name, email or identifiers.get("id")):
            self.faults.count_rejection(self.name)
            return ("email" if email else "identifiers", f"refused: {email or identifiers.get('id')}")
        return None

    def _apply(self, entity: dict[str, Any]) -> None:
        key = self._key(entity["identifiers"])
        action = entity["action"]
        if action == "identify":
            person = self.people.setdefault(key, {})
            for name, value in {**entity["identifiers"], **entity.get("attributes", {})}.items():
                if name == "cio_id":
                    continue
                if value is None or value == "":
                    person.pop(name, None)
                else:
                    person[name] = value
        elif action == "delete":
            self.people.pop(key, None)
        elif action == "event":
            self.events.append(
                {
                    "person": key,
                    "name": entity["name"],
                    "id": entity.get("id"),
                    "attributes": entity.get("attributes", {}),
                }
            )

    async def batch(self, request: Request):
        try:
            body = await self.read_json(request, max_bytes=MAX_BATCH_BYTES, too_large_status=413)
        except BodyError as exc:
            raise BodyError(exc.status, exc.message, v2=True) from None
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise BodyError(400, "body must be an object with a 'batch' array", v2=True, field="batch")
        errors = []
        with self.lock:
            for index, entity in enumerate(body["batch"]):
                size = len(json.dumps(entity, separators=(",", ":")).encode())
                if size > MAX_ENTITY_BYTES:
                    errors.append(
                        {"batch_index": index, "reason": "size", "field": "", "message": f"entity is {size} bytes"}
                    )
                    continue
                problem = self._entity_problem(entity)
                if problem:
                    errors.append(
                        {"batch_index": index, "reason": "invalid", "field": problem[0], "message": problem[1]}
                    )
                    continue
                event_id = entity.get("id")
                if entity["action"] == "event" and event_id and any(e.get("id") == event_id for e in self.events):
                    self.count("duplicate_events")
                    continue
                self._apply(entity)
        if errors:
            self.count("refused_entities", len(errors))
            return JSONResponse({"errors": errors}, status_code=207)
        return JSONResponse({})

    async def put_customer(self, request: Request):
        body = await self.read_json(request, max_bytes=MAX_ENTITY_BYTES, too_large_status=413)
        if not isinstance(body, dict):
            raise BodyError(400, "body must be an object of attributes")
        identifier = request.path_params["identifier"]
        entity = {"type": "person", "action": "identify", "identifiers": {"id": identifier}, "attributes": body}
        problem = self._entity_problem(entity)
        if problem:
            raise BodyError(400, problem[1])
        with self.lock:
            self._apply(entity)
        return JSONResponse({})

    async def _segment_ids(self, request: Request) -> tuple[int, list[str], str]:
        segment_id = request.path_params["segment_id"]
        if segment_id not in self.segments:
            raise BodyError(404, f"segment {segment_id} not found")
        id_type = request.query_params.get("id_type", "id")
        if id_type not in ("id", "email", "cio_id"):
            raise BodyError(400, "id_type must be id, email or cio_id")
        body = await self.read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_SEGMENT_IDS:
            raise BodyError(400, f"'ids' must be an array of 1 to {MAX_SEGMENT_IDS} identifiers")
        return segment_id, [str(i) for i in ids], id_type

    def _person_for(self, value: str, id_type: str) -> str | None:
        if id_type == "id":
            return value if value in self.people else None
        if id_type == "email":
            for key, person in self.people.items():
                if person.get("email") == value:
                    return key
        return None

    async def add_customers(self, request: Request):
        segment_id, ids, id_type = await self._segment_ids(request)
        with self.lock:
            for value in ids:
                person = self._person_for(value, id_type)
                if person is None:  # Customer.io ignores people it does not know
                    self.ignored_ids += 1
                    continue
                self.segments[segment_id].add(person)
        return JSONResponse({})

    async def remove_customers(self, request: Request):
        segment_id, ids, id_type = await self._segment_ids(request)
        with self.lock:
            for value in ids:
                person = self._person_for(value, id_type)
                if person is None:
                    self.ignored_ids += 1
                    continue
                self.segments[segment_id].discard(person)
        return JSONResponse({})
