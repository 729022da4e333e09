"""What every vendor emulation shares: its state lock, credentials, error format, body limits."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activation.sandbox.faults import FaultInjector


class BodyError(Exception):
    """Raised by a handler to answer with the vendor's error format."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


class Vendor:
    """One emulated channel tool mounted under ``/<name>``."""

    name: str = ""

    def __init__(self, faults: FaultInjector, credentials: Mapping[str, str]) -> None:
        self.faults = faults
        self.credentials = dict(credentials)
        self.lock = threading.RLock()
        self.stats: dict[str, int] = {}
        self.reset()

    # -- to implement -------------------------------------------------------
    def reset(self) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def error_body(self, status: int, message: str, **extra: Any) -> Any:
        return {"message": message}

    def authenticated(self, request: Request) -> bool:
        raise NotImplementedError

    # -- shared -------------------------------------------------------------
    def count(self, what: str, n: int = 1) -> None:
        with self.lock:
            self.stats[what] = self.stats.get(what, 0) + n

    def error(self, status: int, message: str, headers: Mapping[str, str] | None = None, **extra: Any) -> Response:
        return JSONResponse(self.error_body(status, message, **extra), status_code=status, headers=dict(headers or {}))

    def throttled(self, retry_after: float | None) -> Response:
        wait = retry_after if retry_after is not None else 1.0
        return self.error(429, "rate limit exceeded", headers=self.rate_limit_headers(wait))

    def rate_limit_headers(self, retry_after: float) -> dict[str, str]:
        return {"Retry-After": _seconds(retry_after)}

    async def read_json(self, request: Request, *, max_bytes: int | None = None, too_large_status: int = 413) -> Any:
        body = await request.body()
        if max_bytes is not None and len(body) > max_bytes:
            raise BodyError(too_large_status, f"request body is {len(body)} bytes; the limit is {max_bytes} bytes")
        try:
            return json.loads(body or b"null")
        except ValueError as exc:
            raise BodyError(400, f"request body is not valid JSON: {exc}") from None

    def unauthorized(self) -> Response:
        return self.error(401, "unauthorized")


def _seconds(value: float) -> str:
    """Retry-After is whole seconds for real vendors; the sandbox allows fractions when configured so."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}"


def handler(vendor: Vendor, fn):
    """Wrap a vendor handler: authentication first, BodyError -> the vendor's error format."""

    async def endpoint(request: Request) -> Response:
        vendor.count("requests")
        if not vendor.authenticated(request):
            vendor.count("unauthorized")
            return vendor.unauthorized()
        try:
            return await fn(request)
        except BodyError as exc:
            vendor.count(f"status_{exc.status}")
            return vendor.error(exc.status, exc.message, **exc.extra)

    return endpoint


def sorted_members(members: Mapping[str, set[str]]) -> dict[str, list[str]]:
    return {key: sorted(value) for key, value in sorted(members.items())}
