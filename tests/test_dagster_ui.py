"""The real Dagster UI: dagster-webserver on a free port answers GraphQL, and Chromium draws the graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.screenshot import CHROMIUM, running_webserver, take_screenshot

REPO = {"repositoryLocationName": "journey_atc", "repositoryName": "__repository__"}

ASSETS = """
query {
  assetNodes {
    assetKey { path }
    groupName
    assetChecksOrError {
      ... on AssetChecks { checks { name blocking } }
    }
  }
}
"""

SCHEDULES = """
query ($repo: RepositorySelector!) {
  schedulesOrError(repositorySelector: $repo) {
    ... on Schedules { results { name cronSchedule pipelineName } }
  }
  sensorsOrError(repositorySelector: $repo) {
    ... on Sensors { results { name } }
  }
}
"""


@pytest.fixture(scope="module")
def server():
    with running_webserver() as running:
        yield running


def test_the_webserver_lists_every_layer_and_the_syncs(server):
    nodes = server.graphql(ASSETS)["assetNodes"]
    groups = {n["groupName"] for n in nodes}
    assert {"raw", "staging", "identity", "profiles", "journeys", "guardrails", "activation"} <= groups
    keys = {"/".join(n["assetKey"]["path"]) for n in nodes}
    assert {"journey_assignments", "guardrail_decisions", "raw/events"} <= keys
    assert any(k.startswith("sync/") for k in keys)


def test_the_webserver_shows_the_blocking_gates_beside_the_dbt_tests(server):
    nodes = server.graphql(ASSETS)["assetNodes"]
    checks = {
        ("/".join(n["assetKey"]["path"]), c["name"]): c["blocking"]
        for n in nodes
        for c in (n.get("assetChecksOrError") or {}).get("checks", [])
    }
    assert checks[("journey_assignments", "assignment_churn")] is True
    assert checks[("identity_person_map", "identity_converged")] is True
    assert checks[("guardrail_decisions", "guardrail_invariants")] is True
    assert any(name.startswith("unique_") for _, name in checks)


def test_the_webserver_lists_the_schedules_and_the_inbox_sensor(server):
    data = server.graphql(SCHEDULES, {"repo": REPO})
    schedules = {s["name"]: s for s in data["schedulesOrError"]["results"]}
    assert schedules["micro_batch_every_5_minutes"]["cronSchedule"] == "*/5 * * * *"
    assert schedules["profile_refresh_hourly"]["pipelineName"] == "profile_refresh"
    assert schedules["full_rebuild_nightly"]["pipelineName"] == "full_rebuild"
    assert [s["name"] for s in data["sensorsOrError"]["results"]] == ["inbox_files_sensor"]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}")
def test_a_headless_chromium_screenshot_of_the_asset_graph_is_kept_in_the_docs(server, tmp_path):
    shot = take_screenshot(server.url, tmp_path / "asset-graph.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, "a blank page is a few kB"
    kept = Path(__file__).resolve().parents[1] / "docs" / "img" / "asset-graph.png"
    assert kept.exists(), "run `python -m orchestration.screenshot` to refresh docs/img/asset-graph.png"
