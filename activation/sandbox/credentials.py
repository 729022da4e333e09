"""Credentials the sandbox accepts, and the defaults a new user gets without configuring anything.

Each vendor emulation reads its expected credential from an environment
variable; when the variable is unset the documented default below applies.
A destination whose settings name one of these variables (``api_key_env:
ATC_SANDBOX_BRAZE_API_KEY``) falls back to the same default, so a sync pointed
at the sandbox works out of the box. None of these are real vendor secrets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

SANDBOX_DEFAULTS: dict[str, str] = {
    "ATC_SANDBOX_BRAZE_API_KEY": "sandbox-braze-key",
    "ATC_SANDBOX_ITERABLE_API_KEY": "sandbox-iterable-key",
    "ATC_SANDBOX_CUSTOMERIO_SITE_ID": "sandbox-site-id",
    "ATC_SANDBOX_CUSTOMERIO_API_KEY": "sandbox-customerio-key",
    "ATC_SANDBOX_KLAVIYO_API_KEY": "pk_sandbox_klaviyo_key",
    "ATC_SANDBOX_SEGMENT_WRITE_KEY": "sandbox-segment-write-key",
    # Standard Webhooks secrets are "whsec_" + base64 of the key bytes.
    "ATC_SANDBOX_WEBHOOK_SECRET": "whsec_c2FuZGJveC13ZWJob29rLXNpZ25pbmcta2V5LTMyYnl0ZXM=",
}


def sandbox_credential(name: str, env: Mapping[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get(name) or SANDBOX_DEFAULTS[name]


def sandbox_credentials(env: Mapping[str, str] | None = None) -> dict[str, str]:
    return {name: sandbox_credential(name, env) for name in SANDBOX_DEFAULTS}
