"""Braze ``POST /users/track`` (https://www.braze.com/docs/api/endpoints/user_data/post_user_track/).

Checked against the vendor's pages: bearer REST API key; ``attributes``,
``events`` and ``purchases`` arrays; at most 75 objects per request across the
three (https://www.braze.com/docs/api/api_limits/); ``201`` with
``{"message": "success", "errors": [...]}`` when some objects were refused
(minor errors, the others applied) (https://www.braze.com/docs/api/errors/);
429 with ``X-RateLimit-*`` headers. Array custom attributes accept
``{"add": [...]}`` / ``{"remove": [...]}``; ``null`` clears an attribute.
"""

from __future__ import annotations

import re
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activation.sandbox.base import BodyError, Vendor, handler

MAX_OBJECTS = 75
IDENTIFIERS = ("external_id", "braze_id", "user_alias", "email", "phone")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


class Braze(Vendor):
    name = "braze"

    def reset(self) -> None:
        with self.lock:
            self.users: dict[str, dict[str, Any]] = {}
            self.events: list[dict[str, Any]] = []
            self.purchases: list[dict[str, Any]] = []
            self.stats = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "users": {k: dict(v) for k, v in sorted(self.users.items())},
                "events": list(self.events),
                "purchases": list(self.purchases),
                "stats": dict(self.stats),
            }

    def authenticated(self, request: Request) -> bool:
        expected = self.credentials["ATC_SANDBOX_BRAZE_API_KEY"]
        return request.headers.get("authorization", "") == f"Bearer {expected}"

    def unauthorized(self):
        return self.error(401, "Invalid API Key")

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        return {"message": message, **({"errors": extra["errors"]} if "errors" in extra else {})}

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        headers = super().rate_limit_headers(retry_after)
        headers.update(
            {
                "X-RateLimit-Limit": "3000",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + max(1.0, retry_after))),
            }
        )
        return headers

    def routes(self) -> list[Route]:
        return [Route("/braze/users/track", handler(self, self.track), methods=["POST"])]

    async def track(self, request: Request):
        if "json" not in request.headers.get("content-type", ""):
            raise BodyError(400, "Content-Type must be application/json")
        body = await self.read_json(request)
        if not isinstance(body, dict):
            raise BodyError(400, "Request body must be a JSON object")
        unknown = set(body) - {"attributes", "events", "purchases"}
        if unknown:
            raise BodyError(400, f"Unknown top-level field(s): {', '.join(sorted(unknown))}")
        arrays = {}
        for key in ("attributes", "events", "purchases"):
            value = body.get(key, [])
            if not isinstance(value, list):
                raise BodyError(400, f"'{key}' must be an array")
            arrays[key] = value
        total = sum(len(v) for v in arrays.values())
        if total == 0:
            raise BodyError(400, "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.")
        if total > MAX_OBJECTS:
            raise BodyError(
                400,
                f"Too many objects in request: {total}. A request may contain up to {MAX_OBJECTS} objects "
                "combined across 'attributes', 'events' and 'purchases'.",
            )
        errors: list[dict[str, Any]] = []
        processed = {"attributes": 0, "events": 0, "purchases": 0}
        with self.lock:
            for index, obj in enumerate(arrays["attributes"]):
                problem = self._attribute_problem(obj)
                if problem:
                    errors.append({"type": problem, "input_array": "attributes", "index": index})
                    continue
                self._apply_attributes(obj)
                processed["attributes"] += 1
            for index, obj in enumerate(arrays["events"]):
                problem = self._event_problem(obj)
                if problem:
                    errors.append({"type": problem, "input_array": "events", "index": index})
                    continue
                self.events.append(dict(obj))
                processed["events"] += 1
            for index, obj in enumerate(arrays["purchases"]):
                if not isinstance(obj, dict) or not _identifier(obj) or "product_id" not in obj:
                    errors.append(
                        {
                            "type": "Purchase is missing an identifier or product_id",
                            "input_array": "purchases",
                            "index": index,
                        }
                    )
                    continue
                self.purchases.append(dict(obj))
                processed["purchases"] += 1
        if errors:
            self.count("minor_errors", len(errors))
        answer: dict[str, Any] = {"message": "success"}
        for key, n in processed.items():
            if arrays[key]:
                answer[f"{key}_processed"] = n
        if errors:
            answer["errors"] = errors
        return JSONResponse(answer, status_code=201)

    def _attribute_problem(self, obj: Any) -> str | None:
        if not isinstance(obj, dict):
            return "Attributes object must be a JSON object"
        ids = [k for k in IDENTIFIERS if obj.get(k) not in (None, "")]
        if not ids:
            return "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"
        email = obj.get("email")
        if email is not None and not (isinstance(email, str) and EMAIL.match(email)):
            return f"Invalid email address: {email!r}"
        ident = _identifier(obj)
        if self.faults.rejects(self.name, email if email is not None else ident):
            self.faults.count_rejection(self.name)
            return f"Invalid email address: {email!r}" if email is not None else "User is blocked"
        for key, value in obj.items():
            if isinstance(value, dict) and ("add" in value or "remove" in value):
                if set(value) - {"add", "remove"}:
                    return f"Array operation on '{key}' mixes add/remove with other keys"
                for op in ("add", "remove"):
                    if op in value and not isinstance(value[op], list):
                        return f"'{key}.{op}' must be an array"
        return None

    def _apply_attributes(self, obj: dict[str, Any]) -> None:
        ident = _identifier(obj)
        existing = self.users.get(ident)
        if obj.get("_update_existing_only") and existing is None:
            return
        user = existing if existing is not None else {}
        for key, value in obj.items():
            if key in ("_update_existing_only", "external_id", "braze_id", "user_alias"):
                continue
            if isinstance(value, dict) and ("add" in value or "remove" in value):
                current = list(user.get(key) or [])
                for item in value.get("add", []):
                    if item not in current:
                        current.append(item)
                current = [item for item in current if item not in value.get("remove", [])]
                user[key] = current
            elif value is None:
                user.pop(key, None)
            else:
                user[key] = value
        self.users[ident] = user

    def _event_problem(self, obj: Any) -> str | None:
        if not isinstance(obj, dict):
            return "Event object must be a JSON object"
        if not _identifier(obj):
            return "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"
        if not isinstance(obj.get("name"), str) or not obj["name"]:
            return "Event 'name' is required"
        if not isinstance(obj.get("time"), str) or not ISO_TIME.match(obj["time"]):
            return "Event 'time' must be an ISO 8601 date-time string"
        if "properties" in obj and not isinstance(obj["properties"], dict):
            return "Event 'properties' must be an object"
        if self.faults.rejects(self.name, _identifier(obj)):
            self.faults.count_rejection(self.name)
            return "User is blocked"
        return None


def _identifier(obj: dict[str, Any]) -> str | None:
    for key in IDENTIFIERS:
        value = obj.get(key)
        if value not in (None, ""):
            if isinstance(value, dict):
                return f"alias:{value.get('alias_label')}:{value.get('alias_name')}"
            return str(value) if key == "external_id" else f"{key}:{value}"
    return None
