"""The sandbox channel server: one Starlette app emulating six channel tools.

URL layout (path prefix per vendor; point a destination's ``base_url`` at the prefix):

==============  ==========================================================
``/braze``      ``POST /users/track``
``/iterable``   ``POST /api/users/bulkUpdate``, ``POST /api/lists/subscribe``,
                ``POST /api/lists/unsubscribe``, ``GET /api/lists``
``/customerio``  ``POST /api/v2/batch``, ``PUT /api/v1/customers/{id}``,
                ``POST /api/v1/segments/{id}/add_customers`` and ``/remove_customers``,
                ``GET /api/v1/accounts/region``
``/klaviyo``    ``POST /api/profile-bulk-import-jobs``, ``GET /api/profile-bulk-import-jobs/{id}``
                (+ ``/import-errors``), ``GET /api/profiles``,
                ``POST`` / ``DELETE /api/lists/{id}/relationships/profiles``, ``GET /api/accounts``
``/segment``    ``POST /v1/batch``
``/webhook``    ``POST /webhook/<any path>`` (Standard Webhooks receiver)
``/_sandbox``   ``GET /state``, ``POST /reset``, ``GET`` / ``POST /faults``,
                ``GET /members/{vendor}/{audience_id}``, ``GET /profiles/{vendor}``
==============  ==========================================================
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from activation.sandbox.base import Vendor
from activation.sandbox.credentials import sandbox_credentials
from activation.sandbox.faults import FaultConfigError, FaultInjector
from activation.sandbox.vendors.braze import Braze
from activation.sandbox.vendors.customerio import CustomerIo
from activation.sandbox.vendors.iterable import Iterable
from activation.sandbox.vendors.klaviyo import Klaviyo
from activation.sandbox.vendors.segment import Segment
from activation.sandbox.vendors.webhook import Webhook

# Set by the server's protocol for each connection (see server.py) so a fault can
# close the socket without answering. Unset under other ASGI servers.
current_transport: contextvars.ContextVar[Any] = contextvars.ContextVar("sandbox_transport", default=None)

VENDOR_CLASSES = (Braze, Iterable, CustomerIo, Klaviyo, Segment, Webhook)


class DroppedConnection(Exception):
    """Raised when a drop fault fires outside the sandbox's own server."""


class FaultMiddleware:
    """Applies latency, outages, drops, 429 storms, rate limits and 5xx before the vendor handler."""

    def __init__(self, app, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        vendor = self.sandbox.vendor_for(scope["path"])
        if vendor is None:
            return await self.app(scope, receive, send)
        decision = self.sandbox.faults.decide(vendor.name, f"{scope.get('method', '')} {scope['path']}")
        if decision.latency:
            await asyncio.sleep(decision.latency)
        if decision.drop:
            transport = current_transport.get()
            if transport is None:
                raise DroppedConnection("connection dropped by fault injection")
            transport.abort()
            return
        if decision.lose_response:
            return await self._apply_then_drop(scope, receive, send)
        if decision.status is not None:
            vendor.count(f"injected_{decision.status}")
            if decision.status == 429:
                response = vendor.throttled(decision.retry_after)
            elif decision.status >= 500:
                response = vendor.error(decision.status, f"service unavailable ({decision.reason})")
            else:
                response = vendor.error(decision.status, f"request refused ({decision.reason})")
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _apply_then_drop(self, scope, receive, send):
        """Run the vendor handler (state changes), then close the socket instead of answering."""

        async def swallow(message):
            return None

        await self.app(scope, receive, swallow)
        transport = current_transport.get()
        if transport is None:
            raise DroppedConnection("response lost by fault injection")
        transport.abort()


class Sandbox:
    """The emulated vendors, their state and the fault injector, behind one ASGI app."""

    def __init__(self, faults: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> None:
        self.credentials = sandbox_credentials(os.environ if env is None else env)
        self.faults = FaultInjector(dict(faults or {}))
        self.vendors: dict[str, Vendor] = {cls.name: cls(self.faults, self.credentials) for cls in VENDOR_CLASSES}
        routes: list[Route] = [
            Route("/_sandbox/state", self.state_endpoint, methods=["GET"]),
            Route("/_sandbox/reset", self.reset_endpoint, methods=["POST"]),
            Route("/_sandbox/faults", self.faults_endpoint, methods=["GET", "POST"]),
            Route("/_sandbox/members/{vendor}/{audience_id}", self.members_endpoint, methods=["GET"]),
            Route("/_sandbox/profiles/{vendor}", self.profiles_endpoint, methods=["GET"]),
            Route("/", self.index, methods=["GET"]),
        ]
        for vendor in self.vendors.values():
            routes.extend(vendor.routes())
        self.app = FaultMiddleware(Starlette(routes=routes), self)

    def vendor_for(self, path: str) -> Vendor | None:
        first = path.lstrip("/").split("/", 1)[0]
        return self.vendors.get(first)

    def state(self) -> dict[str, Any]:
        return {name: vendor.snapshot() for name, vendor in self.vendors.items()}

    def members(self, vendor: str, audience_id: str, attribute: str = "journeys") -> set[str]:
        """The keys currently in an audience, as the destination wrote them (for comparisons with a sync model)."""
        state = self.vendors[vendor].snapshot()
        if vendor == "braze":
            return {k for k, user in state["users"].items() if audience_id in (user.get(attribute) or [])}
        if vendor == "iterable":
            by_name = {name: list_id for list_id, name in state["list_names"].items()}
            list_id = by_name.get(str(audience_id), str(audience_id))
            return {k.split(":", 1)[1] for k in state["lists"].get(list_id, [])}
        if vendor == "customerio":
            return set(state["segments"].get(str(audience_id), []))
        if vendor == "klaviyo":
            profiles = state["profiles"]
            by_name = {name: list_id for list_id, name in state["list_names"].items()}
            list_id = by_name.get(str(audience_id), str(audience_id))
            return {
                profiles[pid].get("external_id") or profiles[pid].get("email") or pid
                for pid in state["lists"].get(list_id, [])
            }
        if vendor == "segment":
            return {k for k, traits in state["users"].items() if traits.get(audience_id) is True}
        if vendor == "webhook":
            return set(state["members"].get(str(audience_id), {}))
        raise KeyError(vendor)

    def profiles(self, vendor: str) -> dict[str, dict[str, Any]]:
        """Each stored profile's fields by the key the destination wrote (identifiers left out)."""
        state = self.vendors[vendor].snapshot()
        if vendor in ("braze", "segment"):
            return state["users"]
        if vendor == "iterable":
            return {k.split(":", 1)[1]: dict(u["dataFields"]) for k, u in state["users"].items()}
        if vendor == "customerio":
            return {k: {f: v for f, v in p.items() if f != "id"} for k, p in state["people"].items()}
        if vendor == "klaviyo":
            out = {}
            for pid, p in state["profiles"].items():
                key = p.get("external_id") or p.get("email") or pid
                out[key] = {**{f: v for f, v in p.items() if f != "properties"}, **p.get("properties", {})}
            return out
        if vendor == "webhook":
            return state["members"].get("profile", {})
        raise KeyError(vendor)

    def reset(self, faults: Mapping[str, Any] | None = None) -> None:
        for vendor in self.vendors.values():
            vendor.reset()
        self.faults.configure(dict(faults or {}))

    def configure_faults(self, config: Mapping[str, Any]) -> None:
        self.faults.configure(dict(config))

    async def index(self, request: Request):
        return JSONResponse(
            {
                "sandbox": "journey-atc channel sandbox",
                "vendors": {name: f"{request.base_url}{name}" for name in self.vendors},
                "admin": [
                    "GET /_sandbox/state",
                    "POST /_sandbox/reset",
                    "GET|POST /_sandbox/faults",
                    "GET /_sandbox/members/{vendor}/{audience_id}",
                    "GET /_sandbox/profiles/{vendor}",
                ],
            }
        )

    async def state_endpoint(self, request: Request):
        return JSONResponse({**self.state(), "faults": self.faults.describe()["injected"]})

    async def members_endpoint(self, request: Request):
        vendor = request.path_params["vendor"]
        if vendor not in self.vendors:
            return JSONResponse({"error": f"unknown vendor {vendor!r}"}, status_code=404)
        return JSONResponse(sorted(self.members(vendor, request.path_params["audience_id"])))

    async def profiles_endpoint(self, request: Request):
        vendor = request.path_params["vendor"]
        if vendor not in self.vendors:
            return JSONResponse({"error": f"unknown vendor {vendor!r}"}, status_code=404)
        return JSONResponse(self.profiles(vendor))

    async def reset_endpoint(self, request: Request):
        body = await request.body()
        faults = None
        if body:
            try:
                faults = (await request.json()).get("faults")
            except ValueError:
                return JSONResponse({"error": "body must be JSON"}, status_code=400)
        try:
            self.reset(faults)
        except (FaultConfigError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"ok": True})

    async def faults_endpoint(self, request: Request):
        if request.method == "POST":
            try:
                self.configure_faults(await request.json())
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
            except TypeError as exc:
                return JSONResponse({"error": f"bad fault configuration: {exc}"}, status_code=400)
        return JSONResponse(self.faults.describe())


def create_app(faults: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Sandbox:
    return Sandbox(faults, env)
