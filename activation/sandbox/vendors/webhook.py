"""A webhook receiver that verifies Standard Webhooks signatures (https://www.standardwebhooks.com/).

``POST /webhook/<anything>``: the body is verified against ``webhook-signature``
(space-separated ``v1,<base64 HMAC-SHA256>`` over ``<webhook-id>.<webhook-timestamp>.<body>``,
key = base64-decoded ``whsec_`` secret), the timestamp must be within five
minutes, and a ``webhook-id`` seen before is acknowledged without being applied
again. Payloads are ``{"type": "<object>.entered|changed|exited", "timestamp", "data"}``;
the receiver keeps the current members per object / audience and every delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activation.sandbox.base import BodyError, Vendor, handler

TOLERANCE_SECONDS = 5 * 60
TRANSITIONS = ("entered", "changed", "exited")


def signing_key(secret: str) -> bytes:
    return base64.b64decode(secret[len("whsec_") :] if secret.startswith("whsec_") else secret)


def verify(secret: str, msg_id: str, timestamp: str, body: bytes, signature_header: str) -> bool:
    expected = base64.b64encode(
        hmac.new(signing_key(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    for part in signature_header.split():
        version, _, sig = part.partition(",")
        if version == "v1" and hmac.compare_digest(sig, expected):
            return True
    return False


class Webhook(Vendor):
    name = "webhook"

    def reset(self) -> None:
        with self.lock:
            self.deliveries: list[dict[str, Any]] = []
            self.members: dict[str, dict[str, Any]] = {}
            self.seen_ids: set[str] = set()
            self.stats = {}

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "deliveries": list(self.deliveries),
                "members": {k: dict(sorted(v.items())) for k, v in sorted(self.members.items())},
                "stats": dict(self.stats),
            }

    def authenticated(self, request: Request) -> bool:
        return True  # the signature is checked in the handler, where the body is at hand

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        return {"error": message}

    def routes(self) -> list[Route]:
        return [Route("/webhook/{endpoint:path}", handler(self, self.receive), methods=["POST"])]

    async def receive(self, request: Request):
        body = await request.body()
        msg_id = request.headers.get("webhook-id")
        timestamp = request.headers.get("webhook-timestamp")
        signature = request.headers.get("webhook-signature")
        if not (msg_id and timestamp and signature):
            raise BodyError(400, "webhook-id, webhook-timestamp and webhook-signature headers are required")
        try:
            ts = int(timestamp)
        except ValueError:
            raise BodyError(400, "webhook-timestamp must be integer Unix seconds") from None
        if abs(time.time() - ts) > TOLERANCE_SECONDS:
            raise BodyError(401, "webhook-timestamp is outside the five-minute tolerance")
        if not verify(self.credentials["ATC_SANDBOX_WEBHOOK_SECRET"], msg_id, timestamp, body, signature):
            self.count("bad_signatures")
            raise BodyError(401, "webhook signature does not verify")
        payload = await self.read_json(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str) or "data" not in payload:
            raise BodyError(400, "payload must be an object with 'type', 'timestamp' and 'data'")
        if payload["type"] == "atc.ping":
            self.count("pings")
            return JSONResponse({"ok": True})
        obj, _, transition = payload["type"].rpartition(".")
        data = payload["data"]
        if transition not in TRANSITIONS or not isinstance(data, dict) or "key" not in data:
            raise BodyError(400, f"type must be '<object>.{{{','.join(TRANSITIONS)}}}' and data must carry 'key'")
        with self.lock:
            if msg_id in self.seen_ids:
                self.count("duplicates")
                return JSONResponse({"ok": True, "duplicate": True})
            fields = data.get("payload") or {}
            if self.faults.rejects(self.name, fields.get("email") or data["key"]):
                self.faults.count_rejection(self.name)
                raise BodyError(422, f"receiver refused key {data['key']}")
            self.seen_ids.add(msg_id)
            scope = data.get("audience_id") or obj
            members = self.members.setdefault(str(scope), {})
            if transition == "exited":
                members.pop(str(data["key"]), None)
            else:
                members[str(data["key"])] = fields
            self.deliveries.append(
                {"id": msg_id, "type": payload["type"], "endpoint": request.path_params["endpoint"], "data": data}
            )
            self.count("deliveries")
        return JSONResponse({"ok": True})
