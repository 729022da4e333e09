"""What the HTTP destinations share: settings, secrets, the HTTP client, pacing, batch checks."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from activation.http import HttpClient, RetryPolicy, Secret, read_secret
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    DestinationLimits,
    Record,
    RecordResult,
    RenderSpec,
)
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
        # The declared sliding windows (``limits.extra["windows"]``) hold unless the pacing is overridden.
        pacing = {**self.settings, **(self.settings.get("rate_limit") or {})}
        rate = float(pacing.get("requests_per_second") or self.limits.requests_per_second)
        burst = pacing.get("burst") or self.limits.burst
        windows = () if pacing.get("requests_per_second") else self.limits.extra.get("windows", ())
        self.bucket = TokenBucket(rate, burst, sleep=sleep, windows=windows)
        self.policy = RetryPolicy.from_settings(self.settings)
        self._sleep = sleep
        # The engine may call ``write`` from several threads at once (``max_concurrency``):
        # whatever a destination caches (list ids ...) is looked up and created under this lock.
        self.lock = threading.RLock()
        # Batches the engine may have in flight at once: the declared value, or the setting.
        declared = self.limits.extra.get("max_concurrency", 1)
        self.max_concurrency = max(1, int(self.settings.get("max_concurrency") or declared))
        self.client = self._make_client()

    # -- for subclasses -------------------------------------------------------
    def _make_client(self) -> HttpClient:
        raise NotImplementedError

    def _named_list(self, name: str, lists: dict[str, Any], find, create) -> Any:
        """The id of the tool's list called ``name``: cached in ``lists``, else found, else created.

        Under the instance's lock: two batches of one list sent at once never both create it.
        ``create_lists: false`` refuses to create a missing list.
        """
        with self.lock:
            if name in lists:
                return lists[name]
            found = find(name)
            if found is None:
                if not self.settings.get("create_lists", True):
                    raise ConfigurationError(f"{self.name}: no list named {name!r} (set create_lists to create it)")
                found = create(name)
            lists[name] = found
            return found

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

    def render_sql(self, object: str, mode: str, fields: Sequence[str] = ()) -> RenderSpec | None:
        """The entities the warehouse may write for this destination (none by default).

        ``render_in_warehouse: false`` in the settings turns the fast path off.
        """
        if not self.settings.get("render_in_warehouse", True):
            return None
        return self._render_sql(object, mode, list(fields))

    def _render_sql(self, object: str, mode: str, fields: list[str]) -> RenderSpec | None:
        return None

    def max_records(self, batch: Batch) -> int:
        by_mode = self.limits.extra.get("max_batch_size_by_mode", {})
        return int(by_mode.get(batch.mode, self.limits.max_batch_size))

    def close(self) -> None:
        self.client.close()


class JsonPayload(Mapping):
    """A record's payload as the warehouse wrote it (compact JSON text), decoded on first use.

    The engine hands payloads over in this form: a destination that sends a payload as it
    is splices ``text`` into its request (``with_fields``) and never decodes it; one that
    looks inside uses it as the mapping it is.
    """

    __slots__ = ("_value", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._value: dict[str, Any] | None = None

    def _decoded(self) -> dict[str, Any]:
        if self._value is None:
            self._value = json.loads(self.text)
        return self._value

    def __getitem__(self, key: str) -> Any:
        return self._decoded()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._decoded()

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded())

    def __len__(self) -> int:
        return len(self._decoded())

    def get(self, key: str, default: Any = None) -> Any:
        return self._decoded().get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """A new dict of the payload's fields (decoded once; nested values are shared, never changed)."""
        return dict(self._decoded())

    def __repr__(self) -> str:
        return f"JsonPayload({self.text})"


class RawJson(str):
    """Text that is already a JSON value: written into a request body as it is."""

    __slots__ = ()


_dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode


def _holds_raw(value: Any) -> bool:
    """``RawJson``, or a list or mapping holding one directly."""
    if isinstance(value, RawJson):
        return True
    if isinstance(value, list):
        return any(isinstance(v, RawJson) for v in value)
    if isinstance(value, dict):
        return any(isinstance(v, RawJson) for v in value.values())
    return False


def encode(value: Any) -> str:
    """A value as compact JSON text; ``RawJson`` (up to two levels down) written as it is."""
    if isinstance(value, RawJson):
        return value
    if isinstance(value, dict) and any(_holds_raw(v) for v in value.values()):
        return "{" + ",".join(f"{_dumps(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list) and any(_holds_raw(v) for v in value):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return _dumps(value)


def text_size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode())


def with_fields(first: Mapping[str, Any], payload: Mapping[str, Any]) -> RawJson | dict[str, Any]:
    """``{**first, **payload}``: spliced from the warehouse's JSON text when the payload is one.

    Falls back to building the mapping when a key of ``first`` may also be in the payload.
    """
    text = payload.text if isinstance(payload, JsonPayload) else None
    if text is None or not text.startswith("{") or any(f'"{k}":' in text for k in first):
        return {**first, **jsonable(dict(payload))}
    head = encode(dict(first))[:-1]
    return RawJson(head + ("," + text[1:] if text.strip() != "{}" else "}"))


def json_body(**members: Any) -> bytes:
    """A request body: a JSON object whose members may hold ``RawJson``, as bytes."""
    return encode(members).encode()


JSON_HEADERS = {"Content-Type": "application/json"}


# -- entities written by the warehouse (``render_sql``): DuckDB SQL text ------------------


def sql_json(expr: str) -> str:
    """SQL: ``expr`` as JSON text (a string value quoted and escaped)."""
    return f"cast(to_json({expr}) as varchar)"


def sql_text(text: str) -> str:
    """SQL: a string literal."""
    return "'" + text.replace("'", "''") + "'"


def sql_with_fields(head: str, payload: str = "payload", keys: Sequence[str] = ()) -> str:
    """SQL for ``with_fields``: the object opened by ``head`` (SQL text ``'{"k":v'``, unclosed)
    followed by the payload's members; null when the payload may hold one of ``keys`` (SQL
    texts of the head's member names, unquoted), so ``write`` builds that record itself."""
    clash = " or ".join(f"contains({payload}, '\"' || {key} || '\":')" for key in keys) or "false"
    return (
        f"case when {clash} then null when {payload} = '{{}}' then {head} || '}}' "
        f"else {head} || ',' || substr({payload}, 2) end"
    )


def changed_fields(record: Record, keep: Sequence[str] = ()) -> dict[str, Any]:
    """The payload fields that differ from what was last acknowledged (all of them for a new key)."""
    payload = as_dict(record.payload)
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
    return text_size(encode(value))


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


_JSON_SCALARS = (str, int, float, bool, type(None))


def _is_json_native(value: Any) -> bool:
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_native(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_json_native(v) for v in value)
    return False


def as_dict(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A payload as a fresh dict of JSON values, whatever form it came in."""
    if isinstance(payload, JsonPayload):
        return payload.to_dict()
    return jsonable(dict(payload))


def jsonable(value: Any) -> Any:
    """Payload values as JSON would carry them (dates as ISO strings, decimals as numbers).

    Payloads the engine hands over were decoded from JSON already: they are returned as
    they are (a shallow copy of a mapping), without another encode and decode.
    """
    if isinstance(value, JsonPayload):
        return value.to_dict()
    if isinstance(value, dict) and _is_json_native(value):
        return dict(value)
    if _is_json_native(value):
        return value
    return json.loads(json.dumps(value, default=str))
