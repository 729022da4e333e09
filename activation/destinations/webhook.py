"""A generic webhook, signed the Standard Webhooks way: one request per transition.

Specification (read for this module): https://www.standardwebhooks.com/ and its spec
(github.com/standard-webhooks/standard-webhooks, ``spec/standard-webhooks.md``):

* headers ``webhook-id`` (unique per message, stable across retries: here the record's
  idempotency key, so the receiver can drop a re-delivery), ``webhook-timestamp`` (integer
  Unix seconds) and ``webhook-signature``: ``v1,`` + base64 of HMAC-SHA256 over
  ``<webhook-id>.<webhook-timestamp>.<body>``;
* the secret is ``whsec_`` + base64 of the key bytes; the key is the decoded part;
* the payload is ``{"type", "timestamp", "data"}``.

Each record becomes one payload of type ``<object>.entered`` (added), ``<object>.changed``
or ``<object>.exited`` (removed), where ``data`` holds the sync name, the key, the audience id,
the payload and the previous payload. A 2xx acknowledges the record; 401/403 are configuration
errors; 408/429/5xx are retried; any other 4xx refuses that record with the receiver's words.

Settings: ``base_url`` or ``url`` (the receiver's URL), ``path`` (appended, optional), ``secret_env``
(default ``ATC_WEBHOOK_SECRET``), ``requests_per_second``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, ClassVar

from activation.destinations.base import HttpDestination, as_dict, iso_now, ok, refused
from activation.http import HttpClient, Secret, vendor_message
from activation.protocol import Batch, ConfigurationError, DestinationLimits, RecordResult

TRANSITION = {"added": "entered", "changed": "changed", "removed": "exited"}


def sign(secret: Secret | str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    value = secret.reveal() if isinstance(secret, Secret) else secret
    key = base64.b64decode(value[len("whsec_") :] if value.startswith("whsec_") else value)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookDestination(HttpDestination):
    name: ClassVar[str] = "webhook"
    limits: ClassVar[DestinationLimits] = DestinationLimits(
        max_batch_size=100,  # one request per record; 100 keeps a batch's acknowledgement timely
        max_record_bytes=256 * 1024,
        requests_per_second=10.0,
        burst=10,
        # Batches in flight at once (each record is its own request); the bucket is shared, and
        # ``max_concurrency: 1`` in the sync's settings keeps a receiver to one request at a time.
        extra={"max_concurrency": 4},
    )
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror", "add-only", "audience"})
    # A webhook carries any record; these are the objects journey-atc's sync models produce.
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience", "event", "journey_assignment"})
    default_base_url: ClassVar[str] = ""

    def __init__(self, settings=None, env=None, *, sleep: Callable[[float], None] = time.sleep, clock=time.time):
        self._clock = clock
        super().__init__(settings, env, sleep=sleep)
        if not self.base_url:
            raise ConfigurationError("webhook: setting 'url' (the receiver's URL) is required")

    def _make_client(self) -> HttpClient:
        self._secret = self.secret("secret_env", "ATC_WEBHOOK_SECRET")
        value = self._secret.reveal()
        try:
            base64.b64decode(value[len("whsec_") :] if value.startswith("whsec_") else value, validate=True)
        except ValueError:
            raise ConfigurationError(
                f"webhook: the secret in {self._secret.source} is not base64 (expected whsec_<base64>)"
            ) from None
        return self.http(headers={"Content-Type": "application/json"}, secrets=[self._secret])

    @property
    def path(self) -> str:
        return str(self.settings.get("path", ""))

    def _post(self, msg_id: str, payload: dict[str, Any]):
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        timestamp = int(self._clock())
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self._secret, msg_id, timestamp, body),
        }
        return self.client.request("POST", self.path, data=body, headers=headers)

    def check(self) -> None:
        """A signed ``atc.ping``: 401/403 (a bad secret) and 404/405 (a wrong URL) fail the check.

        Any other answer proves the receiver is there and accepts our signature; a receiver may
        well refuse a payload type it does not know.
        """
        msg_id = f"check-{int(self._clock())}"
        response = self._post(msg_id, {"type": "atc.ping", "timestamp": iso_now(), "data": {"key": "ping"}})
        if response.status_code in (404, 405):
            raise ConfigurationError(self.client.redact(f"webhook: check failed: {vendor_message(response)}"))

    def write(self, batch: Batch) -> list[RecordResult]:
        self.accept(batch)
        results = []
        for record in batch.records:
            payload = {
                "type": f"{batch.object}.{TRANSITION[record.change]}",
                "timestamp": iso_now(),
                "data": {
                    "sync": batch.sync_name,
                    "object": batch.object,
                    "key": record.key,
                    "audience_id": batch.audience_id,
                    "payload": as_dict(record.payload),
                    "previous": as_dict(record.previous) if record.previous else None,
                },
            }
            response = self._post(record.idempotency_key, payload)
            if response.status_code < 300:
                results.append(ok(record))
            elif response.status_code == 404:
                raise ConfigurationError(f"webhook: {self.base_url}{self.path} not found: check base_url")
            else:
                results.append(refused(record, self.client.redact(vendor_message(response))))
        return results
