"""A local channel sandbox: Braze, Iterable, Customer.io, Klaviyo, Segment and a webhook receiver on loopback."""

from activation.sandbox.credentials import SANDBOX_DEFAULTS, sandbox_credential

__all__ = ["SANDBOX_DEFAULTS", "SandboxServer", "sandbox_credential"]


def __getattr__(name: str):
    # Imported lazily: destinations import the credentials without pulling in starlette / uvicorn.
    if name == "SandboxServer":
        from activation.sandbox.server import SandboxServer

        return SandboxServer
    raise AttributeError(name)
