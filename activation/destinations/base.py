"""What the HTTP destinations share: settings, secrets, the HTTP client, pacing, batch checks."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from activation.http import HttpClient, RetryPolicy, Secret, read_secret
from activation.protocol import Batch, BatchRejected, ConfigurationError, DestinationLimits, Record, RecordResult
from activation.ratelimit import TokenBucket

# Settings keys that would put a credential in a configuration file; refused.
_LITERAL_SECRET_KEYS = ("api_key", "write_key", "secret", "password", "token", "site_id")


class HttpDestination:
    """Base for the vendor modules. Subclasses set the ClassVars and implement ``check`` / ``write``."""

    name: ClassVar[str]
    limits: ClassVar[DestinationLimits]
    supported_modes: ClassVar[frozenset[str]]
    supported_objects: ClassVar[frozenset[str]]
    default_base_url: ClassVar[str]

    def __init__(
        self,
        settings: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings: dict[str, Any] = dict(settings or {})
        self.env = os.environ if env is None else env
        for key in _LITERAL_SECRET_KEYS:
            if key in self.settings:
                raise ConfigurationError(
                    f"{self.name}: setting {key!r} holds a credential; name an environment variable with "
                    f"'{key}_env' instead"
                )
        self.base_url = str(self.settings.get("base_url") or self.settings.get("url") or self.default_base_url).rstrip(
            "/"
        )
        # Pacing: ``rate_limit: {requests_per_second, burst}`` or the flat keys override the declared limits.
        pacing = {**self.settings, **(self.settings.get("rate_limit") or {})}
        rate = float(pacing.get("requests_per_second") or self.limits.requests_per_second)
        burst = pacing.get("burst") or self.limits.burst
        self.bucket = TokenBucket(rate, burst, sleep=sleep)
        self.policy = RetryPolicy.from_settings(self.settings)
        self._sleep = sleep
        self.client = self._make_client()

    # -- for subclasses -------------------------------------------------------
    def _make_client(self) -> HttpClient:
        raise NotImplementedError

    def secret(self, field: str, default_env: str) -> Secret:
        return read_secret(self.settings, field, self.env, destination=self.name, default_env=default_env)

    def http(self, *, headers=None, auth=None, secrets: Iterable[Secret] = ()) -> HttpClient:
        return HttpClient(
            self.name,
            self.base_url,
            headers=headers,
            auth=auth,
            secrets=secrets,
            policy=self.policy,
            bucket=self.bucket,
            sleep=self._sleep,
            seed=self.settings.get("seed"),
        )

    # -- shared ---------------------------------------------------------------
    @property
    def retries(self) -> int:
        """Retries made by this instance so far (for the run summary)."""
        return self.client.retries

    @property
    def requests_sent(self) -> int:
        return self.client.requests

    def accept(self, batch: Batch) -> None:
        """Refuse an object or mode this destination does not honour (never skip silently)."""
        if batch.object not in self.supported_objects:
            raise ConfigurationError(
                f"{self.name}: object {batch.object!r} is not supported (supported: "
                f"{', '.join(sorted(self.supported_objects))})"
            )
        if batch.mode not in self.supported_modes:
            modes = ", ".join(sorted(self.supported_modes))
            raise ConfigurationError(f"{self.name}: mode {batch.mode!r} is not supported (supported: {modes})")
        if (batch.mode == "audience") != (batch.object == "audience"):
            raise ConfigurationError(f"{self.name}: the 'audience' mode goes with the 'audience' object")
        if batch.object == "audience" and not batch.audience_id:
            raise ConfigurationError(f"{self.name}: an audience batch needs audience_id")
        if len(batch.records) > self.max_records(batch):
            # The engine cuts batches to the declared size; a larger one is split in halves like a refused batch.
            raise BatchRejected(
                f"{self.name}: a batch of {len(batch.records)} records exceeds the declared limit of "
                f"{self.max_records(batch)}"
            )

    def max_records(self, batch: Batch) -> int:
        by_mode = self.limits.extra.get("max_batch_size_by_mode", {})
        return int(by_mode.get(batch.mode, self.limits.max_batch_size))

    def close(self) -> None:
        self.client.close()


def changed_fields(record: Record, keep: Sequence[str] = ()) -> dict[str, Any]:
    """The payload fields that differ from what was last acknowledged (all of them for a new key)."""
    payload = dict(record.payload)
    if record.change != "changed" or not record.previous:
        return payload
    previous = record.previous
    out = {k: v for k, v in payload.items() if k not in previous or previous[k] != v}
    for field in previous:
        if field not in payload:
            out[field] = None  # dropped from the mapping: clear it
    for field in keep:
        if field in payload:
            out[field] = payload[field]
    return out


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), default=str).encode())


def iso_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_time(record: Record, settings: Mapping[str, Any]) -> str:
    """The event time: the mapped ``time_field`` when the sync provides one, else now (UTC)."""
    field = settings.get("time_field")
    value = record.payload.get(field) if field else None
    if value in (None, "") and record.previous and field:
        value = record.previous.get(field)
    if value in (None, ""):
        return iso_now()
    if not isinstance(value, datetime):
        try:
            value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return str(value)  # the vendor will say what it thinks of it, per record
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ok(record: Record) -> RecordResult:
    return RecordResult(key=record.key, ok=True)


def refused(record: Record, message: str, retryable: bool = False) -> RecordResult:
    return RecordResult(key=record.key, ok=False, message=message, retryable=retryable)


def jsonable(value: Any) -> Any:
    """Payload values as JSON would carry them (dates as ISO strings, decimals as numbers)."""
    return json.loads(json.dumps(value, default=str))
