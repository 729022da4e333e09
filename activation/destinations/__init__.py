"""The destination registry: name -> class, and ``build_destination`` from a sync's settings.

Adding a destination: write ``activation/destinations/<name>.py`` with a class that
follows ``activation.protocol.Destination`` (usually a subclass of
``activation.destinations.base.HttpDestination``), add one line to ``_REGISTRY``
below, one emulation under ``activation/sandbox/vendors/`` and a section in
``docs/destinations.md``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import Any

from activation.protocol import ConfigurationError, Destination

_REGISTRY: dict[str, str] = {
    "braze": "activation.destinations.braze:BrazeDestination",
    "iterable": "activation.destinations.iterable:IterableDestination",
    "customerio": "activation.destinations.customerio:CustomerIoDestination",
    "klaviyo": "activation.destinations.klaviyo:KlaviyoDestination",
    "segment": "activation.destinations.segment:SegmentDestination",
    "webhook": "activation.destinations.webhook:WebhookDestination",
}


def destination_names() -> list[str]:
    return sorted(_REGISTRY)


def destination_class(name: str) -> type:
    """The class registered under ``name``; ConfigurationError for an unknown name."""
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise ConfigurationError(
            f"unknown destination {name!r}; known destinations: {', '.join(destination_names())}"
        ) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def build_destination(
    name: str, settings: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> Destination:
    """A ready destination instance; credentials are read from ``env`` (default ``os.environ``)."""
    cls = destination_class(name)
    return cls(dict(settings or {}), os.environ if env is None else env)


def sandbox_settings(name: str, sandbox_url: str) -> dict[str, Any]:
    """Settings that point destination ``name`` at a sandbox running at ``sandbox_url``."""
    url = sandbox_url.rstrip("/")
    settings: dict[str, dict[str, Any]] = {
        "braze": {"base_url": f"{url}/braze", "api_key_env": "ATC_SANDBOX_BRAZE_API_KEY"},
        "iterable": {"base_url": f"{url}/iterable", "api_key_env": "ATC_SANDBOX_ITERABLE_API_KEY"},
        "customerio": {
            "base_url": f"{url}/customerio",
            "site_id_env": "ATC_SANDBOX_CUSTOMERIO_SITE_ID",
            "api_key_env": "ATC_SANDBOX_CUSTOMERIO_API_KEY",
        },
        "klaviyo": {"base_url": f"{url}/klaviyo", "api_key_env": "ATC_SANDBOX_KLAVIYO_API_KEY"},
        "segment": {"base_url": f"{url}/segment", "write_key_env": "ATC_SANDBOX_SEGMENT_WRITE_KEY"},
        "webhook": {"base_url": f"{url}/webhook", "path": "/journeys", "secret_env": "ATC_SANDBOX_WEBHOOK_SECRET"},
    }
    if name not in settings:
        destination_class(name)  # raises the helpful error
    return dict(settings[name])


# Name -> class, for configuration checks (supported modes and objects, limits).
DESTINATIONS: dict[str, type] = {name: destination_class(name) for name in _REGISTRY}

__all__ = ["DESTINATIONS", "build_destination", "destination_class", "destination_names", "sandbox_settings"]
