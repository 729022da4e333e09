"""Run the sandbox with uvicorn, in the foreground (``atc sandbox``) or a background thread.

``SandboxServer`` binds 127.0.0.1 on a free port (or the one given), starts
uvicorn in a daemon thread and stops it on exit::

    with SandboxServer(faults={"seed": 7}) as sandbox:
        settings = {"base_url": sandbox.url_for("braze"), "api_key_env": "ATC_SANDBOX_BRAZE_API_KEY"}
        ...
        sandbox.state()["braze"]["users"]
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from activation.sandbox.app import Sandbox, current_transport

HOST = "127.0.0.1"


class DroppableH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, exposing the transport to the app so a fault can drop the connection."""

    def data_received(self, data: bytes) -> None:
        token = current_transport.set(self.transport)
        try:
            super().data_received(data)
        finally:
            current_transport.reset(token)


class _DroppedConnectionFilter(logging.Filter):
    """A dropped connection is a requested fault, not a server error: keep it out of the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without starting response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_DroppedConnectionFilter())


def _config(sandbox: Sandbox, **kwargs: Any) -> uvicorn.Config:
    return uvicorn.Config(
        sandbox.app,
        http=DroppableH11Protocol,
        lifespan="off",
        access_log=False,
        log_level=kwargs.pop("log_level", "warning"),
        timeout_graceful_shutdown=1,
        **kwargs,
    )


def serve(host: str = HOST, port: int = 8750, faults: Mapping[str, Any] | None = None, log_level: str = "info") -> None:
    """Run in the foreground until interrupted."""
    sandbox = Sandbox(faults)
    uvicorn.Server(_config(sandbox, host=host, port=port, log_level=log_level)).run()


class SandboxServer:
    """The sandbox in a background thread on loopback; a context manager."""

    def __init__(self, faults: Mapping[str, Any] | None = None, port: int = 0, env: Mapping[str, str] | None = None):
        self.sandbox = Sandbox(faults, env)
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        assert self._socket is not None, "the sandbox is not running"
        return self._socket.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url_for(self, vendor: str) -> str:
        return f"{self.url}/{vendor}"

    def start(self) -> SandboxServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self._port))
        self._socket = sock
        self._server = uvicorn.Server(_config(self.sandbox))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Conveniences that skip HTTP, for tests and the demo.
    def state(self) -> dict[str, Any]:
        return self.sandbox.state()

    def reset(self, faults: Mapping[str, Any] | None = None) -> None:
        self.sandbox.reset(faults)

    def set_faults(self, faults: Mapping[str, Any]) -> None:
        self.sandbox.configure_faults(faults)

    def members(self, vendor: str, audience_id: str, attribute: str = "journeys") -> set[str]:
        return self.sandbox.members(vendor, audience_id, attribute)

    def profiles(self, vendor: str) -> dict[str, dict[str, Any]]:
        return self.sandbox.profiles(vendor)
