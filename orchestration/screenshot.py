"""Start the Dagster UI on a free port and photograph the asset graph for the docs.

    python -m orchestration.screenshot [--out docs/img/asset-graph.png]

The webserver runs the repository's workspace.yaml with a throw-away
DAGSTER_HOME; headless Chromium (playwright) opens the global asset lineage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from journey_atc.dbt import PROJECT_DIR

CHROMIUM = os.environ.get("ATC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCATION = "journey_atc"
DEFAULT_OUT = PROJECT_DIR / "docs" / "img" / "asset-graph.png"

LOCATION_STATUS = """
query {
  workspaceOrError {
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
  }
}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Webserver:
    url: str
    process: subprocess.Popen
    home: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = requests.post(f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


def _wait_until_loaded(server: Webserver, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dagster-webserver exited with {server.process.returncode}")
        try:
            data = server.graphql(LOCATION_STATUS)
        except (requests.ConnectionError, requests.Timeout, RuntimeError):
            time.sleep(1)
            continue
        entries = {e["name"]: e for e in data["workspaceOrError"].get("locationEntries", [])}
        entry = entries.get(LOCATION)
        if entry and entry["loadStatus"] == "LOADED":
            loaded = entry["locationOrLoadError"]
            if loaded and loaded["__typename"] == "PythonError":
                raise RuntimeError(f"the code location failed to load: {loaded['message']}")
            return
        time.sleep(1)
    raise TimeoutError("the code location did not load in time")


@contextmanager
def running_webserver(timeout: float = 300, env: dict[str, str] | None = None) -> Iterator[Webserver]:
    """``dagster-webserver`` on a free loopback port with a temporary DAGSTER_HOME; stopped on exit."""
    port = free_port()
    home = Path(tempfile.mkdtemp(prefix="dagster-home-"))
    shutil.copy(PROJECT_DIR / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    bin_dir = Path(sys.executable).parent
    run_env = {
        **os.environ,
        **(env or {}),
        "DAGSTER_HOME": str(home),
        "PYTHONPATH": os.pathsep.join([str(PROJECT_DIR), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "PATH": os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")]),
    }
    log = open(home / "webserver.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(bin_dir / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_DIR,
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Webserver(url=f"http://127.0.0.1:{port}", process=process, home=home)
    try:
        try:
            _wait_until_loaded(server, time.monotonic() + timeout)
        except Exception as exc:
            log.flush()
            tail = (home / "webserver.log").read_text()[-4000:]
            raise RuntimeError(f"{exc}\n--- webserver log ---\n{tail}") from exc
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def take_screenshot(url: str, out: Path, path: str = "/asset-groups") -> Path:
    """Open ``url + path`` in headless Chromium, wait for the graph to draw, save a PNG."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url + path, wait_until="networkidle", timeout=120_000)
            # a fresh DAGSTER_HOME greets the first visitor with a newsletter dialog
            skip = page.get_by_role("button", name="Skip")
            try:
                skip.click(timeout=5_000)
            except PlaywrightTimeout:
                pass
            # the lineage graph is drawn into an SVG once the layout worker finishes
            page.wait_for_selector("svg", timeout=120_000)
            page.wait_for_timeout(4000)
            page.screenshot(path=str(out))
        finally:
            browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    with running_webserver() as server:
        path = take_screenshot(server.url, args.out)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
