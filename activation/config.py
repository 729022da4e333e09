"""The sync configuration (``syncs.yml``): a typed schema, validated when it loads.

One YAML file declares every sync::

    version: 1
    syncs:
      braze_users:
        model: sync_braze__users        # the dbt model holding the desired state
        destination: braze              # a name in activation.destinations
        object: profile                 # what the destination receives
        mode: upsert                    # upsert | mirror | add-only | audience
        primary_key: person_id          # model column; its value is the record key
        fields:                         # destination field -> model column
          email: email
        batch_size: 75                  # optional; capped by the vendor's limit
        rate_limit: {requests_per_second: 20, burst: 20}   # optional override
        credentials:                    # credential -> NAME of an environment variable
          api_key: ATC_SANDBOX_BRAZE_API_KEY
        settings:                       # anything else the destination needs
          base_url: http://127.0.0.1:${ATC_SANDBOX_PORT}/braze

``json_fields`` lists destination fields whose column holds JSON text; they are
sent as JSON objects. Timestamp columns are sent as ISO-8601 UTC text.
Audience syncs also name ``audience_field``: the model column holding the list /
audience (one batch per audience; members are added and removed).

``ledger`` (optional) maps the guardrails' ledger fields to model columns for a
sync whose rows ask a channel tool to send a message::

        ledger:
          person_id: external_id        # the person messaged
          channel: journey_channel      # the channel the tool messages on
          message_key: send_key         # the decision's idempotency key (null: no send)
          journey_id: journey_id        # optional

Every acknowledged record then carries those values into
``atc_sync.sync_acknowledgements``, which the guardrails' ledger counts.

``${NAME}`` and ``${NAME:-default}`` in ``settings`` are replaced from the
environment when a sync runs, not when the file loads. Credentials are never
written in the file: only the names of the variables holding them.

Every error names the sync and the field, e.g.
``sync 'braze_users': mode: braze cannot honour mode 'mirror' (it supports: upsert)``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from activation.protocol import ConfigurationError

DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "syncs.yml"
CONFIG_ENV = "ATC_SYNCS_CONFIG"

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_MODEL = re.compile(r"^sync_[a-z0-9]+(?:_[a-z0-9]+)*__[a-z0-9_]+$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
LEDGER_FIELDS = ("person_id", "journey_id", "channel", "message_key")
LEDGER_REQUIRED = ("person_id", "channel", "message_key")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class RateLimit(BaseModel):
    """Token bucket override: steady requests per second and burst size."""

    model_config = ConfigDict(extra="forbid")

    requests_per_second: float = Field(gt=0)
    burst: int = Field(default=1, ge=1)


class SyncConfig(BaseModel):
    """One sync: which model goes to which destination, how, and with what."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str
    destination: str
    object: str
    mode: Literal["upsert", "mirror", "add-only", "audience"]
    primary_key: str
    audience_field: str | None = None
    fields: dict[str, str] = Field(min_length=1)
    json_fields: list[str] = Field(default_factory=list)
    ledger: dict[str, str] = Field(default_factory=dict)
    batch_size: int | None = Field(default=None, ge=1)
    rate_limit: RateLimit | None = None
    credentials: dict[str, str] = Field(default_factory=dict)
    settings: dict[str, Any] = Field(default_factory=dict)
    schema_name: str = Field(default="main", alias="schema")
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_an_identifier(cls, v: str) -> str:
        if not _IDENTIFIER.match(v):
            raise ValueError("a sync name is lowercase letters, digits and underscores")
        return v

    @field_validator("model")
    @classmethod
    def _model_is_a_sync_model(cls, v: str) -> str:
        if not _MODEL.match(v):
            raise ValueError(f"{v!r} is not a sync model name (sync_<destination>__<object>)")
        return v

    @field_validator("primary_key", "audience_field", "schema_name")
    @classmethod
    def _column_is_an_identifier(cls, v: str | None) -> str | None:
        if v is not None and not _IDENTIFIER.match(v):
            raise ValueError(f"{v!r} is not a column name (lowercase letters, digits, underscores)")
        return v

    @field_validator("fields")
    @classmethod
    def _fields_map_to_columns(cls, v: dict[str, str]) -> dict[str, str]:
        for dest_field, column in v.items():
            if not isinstance(column, str) or not _IDENTIFIER.match(column):
                raise ValueError(f"field {dest_field!r} maps to {column!r}, which is not a model column name")
            if not dest_field or '"' in dest_field or "'" in dest_field:
                raise ValueError(f"destination field name {dest_field!r} is not allowed")
        return v

    @field_validator("ledger")
    @classmethod
    def _ledger_maps_known_fields_to_columns(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            return v
        unknown = sorted(k for k in v if k not in LEDGER_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown ledger field(s) {', '.join(map(repr, unknown))} (known: {', '.join(LEDGER_FIELDS)})"
            )
        for ledger_field, column in v.items():
            if not isinstance(column, str) or not _IDENTIFIER.match(column):
                raise ValueError(f"ledger field {ledger_field!r} maps to {column!r}, which is not a model column name")
        missing = [k for k in LEDGER_REQUIRED if k not in v]
        if missing:
            raise ValueError(
                f"a ledger mapping needs {', '.join(LEDGER_REQUIRED)}; {', '.join(missing)} is missing "
                "(a ledger entry is one message to one person on one channel)"
            )
        return v

    @field_validator("credentials")
    @classmethod
    def _credentials_name_variables(cls, v: dict[str, str]) -> dict[str, str]:
        for setting, env_name in v.items():
            if not isinstance(env_name, str) or not _ENV_NAME.match(env_name):
                # Never echo the value: it may be a pasted secret.
                raise ValueError(
                    f"credential {setting!r} must name an environment variable (UPPER_CASE), "
                    "never hold the secret itself"
                )
        return v

    @model_validator(mode="after")
    def _json_fields_are_mapped(self) -> SyncConfig:
        unmapped = [f for f in self.json_fields if f not in self.fields]
        if unmapped:
            raise ValueError(f"json_fields names {', '.join(unmapped)}, which fields does not map")
        return self

    @model_validator(mode="after")
    def _audience_needs_its_field(self) -> SyncConfig:
        if self.mode == "audience" and not self.audience_field:
            raise ValueError("mode 'audience' needs audience_field (the column naming the list or audience)")
        if self.mode != "audience" and self.audience_field:
            raise ValueError(f"audience_field is only for mode 'audience', not {self.mode!r}")
        return self

    @property
    def relation(self) -> str:
        return f'"{self.schema_name}"."{self.model}"'

    def effective_batch_size(self, max_batch_size: int) -> int:
        """The configured batch size, never above the vendor's limit."""
        return min(self.batch_size or max_batch_size, max_batch_size)

    def resolved_settings(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Settings with ``${NAME}`` placeholders replaced from the environment."""
        env = os.environ if env is None else env
        return {k: _interpolate(self.name, f"settings.{k}", v, env) for k, v in self.settings.items()}

    def credential_values(self, env: Mapping[str, str] | None = None) -> dict[str, str]:
        """Credential values from the environment (or the sandbox's documented defaults).

        A variable that is unset and has no sandbox default is a ConfigurationError
        naming the sync, the credential and the variable (never a value).
        """
        env = os.environ if env is None else env
        defaults = sandbox_defaults()
        values = {}
        for setting, env_name in self.credentials.items():
            value = env.get(env_name) or defaults.get(env_name)
            if not value:
                raise ConfigurationError(
                    f"sync {self.name!r}: credentials.{setting}: environment variable {env_name} is not set"
                )
            values[setting] = value
        return values

    def destination_settings(self, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """What the destination is built with: resolved settings, ``<credential>_env`` names, rate limit."""
        settings = self.resolved_settings(env)
        for setting, env_name in self.credentials.items():
            settings[f"{setting}_env"] = env_name
        if self.rate_limit is not None:
            settings["rate_limit"] = self.rate_limit.model_dump()
        return settings


def sandbox_defaults() -> Mapping[str, str]:
    """The sandbox's documented, non-secret default credentials (empty without the sandbox)."""
    try:
        from activation.sandbox.credentials import SANDBOX_DEFAULTS
    except ImportError:
        return {}
    return SANDBOX_DEFAULTS


def _interpolate(sync: str, where: str, value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(sync, f"{where}.{k}", v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(sync, f"{where}[{i}]", v, env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if env.get(name):
            return env[name]
        if default is not None:
            return default
        raise ConfigurationError(f"sync {sync!r}: {where}: environment variable {name} is not set")

    return _PLACEHOLDER.sub(repl, value)


def _format_validation_error(sync: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(sync)"
        msg = err["msg"].removeprefix("Value error, ")
        problems.append(f"{loc}: {msg}")
    return f"sync {sync!r}: " + "; ".join(problems)


def default_registry() -> Mapping[str, type]:
    """Destination classes by name, from the destinations package."""
    from activation import destinations

    return destinations.DESTINATIONS


def check_capabilities(sync: SyncConfig, registry: Mapping[str, type]) -> None:
    """Refuse a destination, object or mode the destination cannot honour."""
    cls = registry.get(sync.destination)
    if cls is None:
        known = ", ".join(sorted(registry)) or "none"
        raise ConfigurationError(
            f"sync {sync.name!r}: destination: unknown destination {sync.destination!r} (known: {known})"
        )
    modes = frozenset(getattr(cls, "supported_modes", frozenset()))
    if sync.mode not in modes:
        raise ConfigurationError(
            f"sync {sync.name!r}: mode: {sync.destination} cannot honour mode {sync.mode!r} "
            f"(it supports: {', '.join(sorted(modes)) or 'nothing'})"
        )
    objects = frozenset(getattr(cls, "supported_objects", frozenset()))
    if sync.object not in objects:
        raise ConfigurationError(
            f"sync {sync.name!r}: object: {sync.destination} does not accept {sync.object!r} "
            f"(it accepts: {', '.join(sorted(objects)) or 'nothing'})"
        )


def parse_config(data: Any, registry: Mapping[str, type] | None = None, source: str = "syncs.yml") -> dict:
    """Validate an already-parsed YAML document; return sync name -> SyncConfig."""
    if not isinstance(data, dict) or not isinstance(data.get("syncs"), dict):
        raise ConfigurationError(f"{source}: expected a mapping with a 'syncs:' section")
    unknown = set(data) - {"version", "syncs"}
    if unknown:
        raise ConfigurationError(f"{source}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    if data.get("version", 1) != 1:
        raise ConfigurationError(f"{source}: version {data.get('version')!r} is not supported (expected 1)")
    registry = default_registry() if registry is None else registry
    syncs: dict[str, SyncConfig] = {}
    for name, body in data["syncs"].items():
        if not isinstance(body, dict):
            raise ConfigurationError(f"sync {name!r}: expected a mapping of settings")
        try:
            sync = SyncConfig.model_validate({**body, "name": name})
        except ValidationError as exc:
            raise ConfigurationError(_format_validation_error(str(name), exc)) from None
        check_capabilities(sync, registry)
        syncs[name] = sync
    return syncs


def config_path_or_default(config_path: str | Path | None = None) -> Path:
    if config_path is not None:
        return Path(config_path)
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_config(config_path: str | Path | None = None, registry: Mapping[str, type] | None = None) -> dict:
    """Read and validate ``syncs.yml``; return sync name -> SyncConfig.

    Raises ConfigurationError naming the sync and field for anything invalid,
    including a mode or object the destination cannot honour.
    """
    path = config_path_or_default(config_path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigurationError(f"cannot read the sync configuration {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML: {exc}") from None
    return parse_config(data, registry=registry, source=str(path))
