"""Segment HTTP Tracking API ``POST /v1/batch``.

From https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/
(now under twilio.com/docs/segment): basic auth with the write key as the user
name and an empty password (or ``writeKey`` in the body); ``Content-Type: application/json``; at most 500 KB per
batch and 32 KB per message, otherwise ``400 Bad Request``; every message needs
``userId`` or ``anonymousId``, a track needs ``event``; Segment deduplicates on
``messageId``. It answers ``200 {"success": true}`` for everything else, so the
sandbox does too. Segment does not report rejected messages in the response;
messages refused by the partial-rejection fault are dropped and counted, as
Segment's own validation drops them silently.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activation.sandbox.base import BodyError, Vendor, handler

MAX_BATCH_BYTES = 500 * 1024
MAX_MESSAGE_BYTES = 32 * 1024
TYPES = {"identify", "track", "page", "screen", "group", "alias"}


class Segment(Vendor):
    name = "segment"

    def reset(self) -> None:
        with self.lock:
            self.users: dict[str, dict[str, Any]] = {}
            self.events: list[dict[str, Any]] = []
            self.message_ids: set[str] = set()
            self.dropped: list[dict[str, Any]] = []
            self.stats = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "users": {k: dict(v) for k, v in sorted(self.users.items())},
                "events": list(self.events),
                "message_ids": len(self.message_ids),
                "dropped": list(self.dropped),
                "stats": dict(self.stats),
            }

    def _write_key(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                user = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                return None
            return user
        return None

    def authenticated(self, request: Request) -> bool:
        # writeKey in the body is also accepted; that check happens in the handler.
        key = self._write_key(request)
        return key is None or key == self.credentials["ATC_SANDBOX_SEGMENT_WRITE_KEY"]

    def unauthorized(self):
        return self.error(401, "Invalid write key")

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        return {"success": False, "message": message}

    def routes(self) -> list[Route]:
        return [Route("/segment/v1/batch", handler(self, self.batch), methods=["POST"])]

    async def batch(self, request: Request):
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise BodyError(400, "Content-Type must be application/json")
        body = await self.read_json(request, max_bytes=MAX_BATCH_BYTES, too_large_status=400)
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            raise BodyError(400, "Request body must be an object with a 'batch' array")
        key = self._write_key(request) or body.get("writeKey")
        if key != self.credentials["ATC_SANDBOX_SEGMENT_WRITE_KEY"]:
            return self.unauthorized()
        messages = body["batch"]
        for index, message in enumerate(messages):
            size = len(json.dumps(message, separators=(",", ":")).encode())
            if size > MAX_MESSAGE_BYTES:
                raise BodyError(400, f"message {index} is {size} bytes; the limit is {MAX_MESSAGE_BYTES} bytes")
            problem = _problem(message)
            if problem:
                raise BodyError(400, f"message {index}: {problem}")
        with self.lock:
            for message in messages:
                message_id = message.get("messageId")
                if message_id and message_id in self.message_ids:
                    self.count("duplicates")
                    continue
                if message_id:
                    self.message_ids.add(message_id)
                who = message.get("userId") or message.get("anonymousId")
                if self.faults.rejects(self.name, (message.get("traits") or {}).get("email") or who):
                    self.faults.count_rejection(self.name)
                    self.dropped.append(message)
                    continue
                kind = message["type"]
                if kind == "identify":
                    traits = self.users.setdefault(str(who), {})
                    for trait, value in (message.get("traits") or {}).items():
                        if value is None:
                            traits.pop(trait, None)
                        else:
                            traits[trait] = value
                elif kind == "track":
                    self.events.append(
                        {
                            "userId": who,
                            "event": message["event"],
                            "properties": message.get("properties") or {},
                            "messageId": message_id,
                            "timestamp": message.get("timestamp"),
                        }
                    )
                self.count("messages")
        return JSONResponse({"success": True})


def _problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return "each message must be an object"
    if message.get("type") not in TYPES:
        return f"'type' must be one of {', '.join(sorted(TYPES))}"
    if not message.get("userId") and not message.get("anonymousId"):
        return "'userId' or 'anonymousId' is required"
    if message["type"] == "track" and not message.get("event"):
        return "a track call requires 'event'"
    if "traits" in message and not isinstance(message["traits"], dict):
        return "'traits' must be an object"
    if "properties" in message and not isinstance(message["properties"], dict):
        return "'properties' must be an object"
    message_id = message.get("messageId")
    if message_id is not None and (not isinstance(message_id, str) or len(message_id) > 100):
        return "'messageId' must be a string of at most 100 characters"
    return None
