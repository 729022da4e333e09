"""End to end: sync models built by dbt, the engine, the real destinations and the channel sandbox.

Two generations of decisions are built once per module (dbt builds the activation
models on small hand-made marts). Every test copies the warehouse, runs the syncs of
``syncs.yml`` against a sandbox (under faults where it says so) until they settle,
and compares what each channel tool holds with the sync model's rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import requests
import yaml
from click.testing import CliRunner

from activation.destinations import build_destination, sandbox_settings
from activation.engine import load_config, run_sync
from activation.protocol import Batch, DestinationLimits, RecordResult
from activation.sandbox import SANDBOX_DEFAULTS, SandboxServer
from journey_atc.dbt import PROJECT_DIR, run_dbt
from journey_atc.raw_schema import create_raw_tables_sql

JOURNEYS = ["welcome", "abandoned_cart", "win_back", "pre_show", "vip_loyalty"]
FAST = {
    "retry_attempts": 6,  # the HTTP helper's default; the waits are what is shortened
    "retry_initial_wait": 0.01,
    "retry_max_wait": 0.2,
    "retry_jitter": 0.01,
    "timeout": 1.0,
    "job_poll_seconds": 0.01,
}
SETTLE_RUNS = 10


# -- the warehouse ---------------------------------------------------------------------


def _assignments(generation: int) -> tuple[list[tuple], list[tuple]]:
    """(journey_assignments rows, profiles rows) for 24 people, changed in generation 2."""
    base = datetime(2026, 10, 30, 8, 0)
    assignments, profiles = [], []
    ids = range(1, 25) if generation == 1 else [*range(7, 25), *range(41, 47)]
    for i in ids:
        pid = f"per_{i:03d}"
        journey = JOURNEYS[i % 4]
        if generation == 2 and 11 <= i <= 15:
            journey = "vip_loyalty"  # moved to another journey
        email = f"person{i}@example.com"
        if generation == 2 and 16 <= i <= 18:
            email = f"person{i}.new@example.com"  # a changed attribute
        channel = "sms" if i % 6 == 0 else "email"
        holdout = i in (5, 10)
        if i == 9:
            channel = None  # no reachable channel
        entered = base + timedelta(hours=i)
        assignments.append(
            (
                pid,
                journey,
                entered,
                entered + timedelta(days=14),
                None if holdout else channel,
                holdout,
                f"ctx{i}",
                f'{{"item": "ctx{i}", "n": {i}}}',
            )
        )
        profiles.append(
            (pid, f"u{i}", email, True, f"+1555010{i:04d}", i % 6 == 0, "en-US", "America/New_York", True, i % 6 == 0)
        )
    return assignments, profiles


def _write_marts(db: Path, generation: int) -> None:
    assignments, profiles = _assignments(generation)
    with duckdb.connect(str(db)) as con:
        for stmt in create_raw_tables_sql():
            con.execute(stmt)
        con.execute(
            "create or replace table main.journey_assignments (person_id varchar, journey_id varchar, "
            "entered_at timestamp, expected_end_at timestamp, channel varchar, is_holdout boolean, "
            "context_key varchar, context varchar)"
        )
        con.executemany("insert into main.journey_assignments values (?, ?, ?, ?, ?, ?, ?, ?)", assignments)
        con.execute(
            "create or replace table main.profiles (person_id varchar, primary_user_id varchar, email varchar, "
            "has_valid_email boolean, phone_e164 varchar, has_valid_phone boolean, locale varchar, "
            "timezone varchar, is_email_reachable boolean, is_sms_reachable boolean, "
            "is_push_reachable boolean, is_whatsapp_reachable boolean)"
        )
        con.executemany(
            "insert into main.profiles values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, false, false)",
            profiles,
        )
        # The guardrails' verdict on each step: the control group and the unreachable are dropped,
        # every third person is deferred to the next morning, the rest are sent.
        decisions = []
        for pid, journey, entered, _end, channel, holdout, _key, _ctx in assignments:
            n = int(pid.rsplit("_", 1)[1])
            if holdout or channel is None:
                decisions.append((pid, journey, f"k-{pid}", None, "drop", "holdout" if holdout else "no_consent", None))
            elif n % 3 == 0:
                morning = entered + timedelta(days=1)
                decisions.append((pid, journey, f"k-{pid}", channel, "defer", "quiet_hours", morning))
            else:
                decisions.append((pid, journey, f"k-{pid}", channel, "send", "ok", None))
        con.execute(
            "create or replace table main.guardrail_decisions (person_id varchar, journey_id varchar, "
            "idempotency_key varchar, channel varchar, decision varchar, reason_code varchar, "
            "next_eligible_at timestamp)"
        )
        con.executemany("insert into main.guardrail_decisions values (?, ?, ?, ?, ?, ?, ?)", decisions)
        con.execute(
            "create or replace table main.guardrail_decision_log (idempotency_key varchar, channel varchar, "
            "decision varchar, decided_at timestamp)"
        )
        con.execute("create or replace table main.journeys (journey_id varchar, journey_name varchar)")
        con.executemany("insert into main.journeys values (?, ?)", [(j, j.replace("_", " ").title()) for j in JOURNEYS])


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sync-e2e")
    v1, v2 = root / "g1" / "wh.duckdb", root / "g2" / "wh.duckdb"
    for generation, db in ((1, v1), (2, v2)):
        db.parent.mkdir()
        _write_marts(db, generation)
    run_dbt(["run", "--select", "tag:activation"], db_path=v1, work_dir=root / "dbt")
    # Generation 2 runs the very SQL dbt compiled for generation 1 (same file name, so the same
    # catalog in every reference): one dbt parse instead of two.
    compiled = root / "dbt" / "target" / "compiled" / "journey_atc" / "dbt_project" / "models" / "activation"
    models = sorted(compiled.glob("*.sql"), key=lambda path: (path.stem.startswith("sync_"), path.stem))
    assert [m.stem for m in models][:1] == ["int_sync__assignments"] and len(models) == 9
    with duckdb.connect(str(v2)) as con:
        for model in models:
            con.execute(f"create or replace table main.{model.stem} as {model.read_text()}")
    return {"v1": v1, "v2": v2}


@pytest.fixture
def config(tmp_path, request) -> Path:
    """syncs.yml with short retries and generous pacing, so faults cost little time."""
    data = yaml.safe_load((PROJECT_DIR / "syncs.yml").read_text())
    timeout = {"timeout": 0.4, "retry_attempts": 2} if "timeouts" in request.node.name else {}
    for sync in data["syncs"].values():
        sync["settings"] = {**sync.get("settings", {}), **FAST, **timeout}
        sync["rate_limit"] = {"requests_per_second": 500, "burst": 500}
    path = tmp_path / "syncs.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def warehouse(built, tmp_path) -> Path:
    db = tmp_path / "wh.duckdb"
    shutil.copy(built["v1"], db)
    return db


def _next_generation(db: Path, built: dict[str, Path]) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(f"attach '{built['v2']}' as v2 (read_only)")
        for (table,) in con.execute(
            "select table_name from information_schema.tables "
            "where table_catalog = 'v2' and table_schema = 'main' and table_name like 'sync_%'"
        ).fetchall():
            con.execute(f"create or replace table main.{table} as select * from v2.main.{table}")
        con.execute("detach v2")


@pytest.fixture
def sandbox(monkeypatch):
    with SandboxServer(faults={"vendors": {"*": {"rate_limit": None}}}) as server:
        monkeypatch.setenv("ATC_SANDBOX_PORT", str(server.port))
        yield server


# -- helpers ----------------------------------------------------------------------------


def _run_all(db: Path, config: Path) -> dict:
    return {name: run_sync(name, db, config) for name in load_config(config)}


def _settle(db: Path, config: Path) -> list[dict]:
    """Run every sync again until none has anything left to send (what a schedule does)."""
    runs = []
    for _ in range(SETTLE_RUNS):
        results = _run_all(db, config)
        runs.append(results)
        if all(r.status == "ok" and r.added + r.changed + r.removed == 0 for r in results.values()):
            return runs
    pytest.fail(f"the syncs did not settle in {SETTLE_RUNS} runs: {runs[-1]}")


def _rows(db: Path, model: str) -> list[dict]:
    with duckdb.connect(str(db), read_only=True) as con:
        cur = con.execute(f"select * from main.{model}")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def assert_tools_hold_the_sync_models(sandbox: SandboxServer, db: Path, config: Path) -> None:
    state = sandbox.state()
    for name, sync in load_config(config).items():
        rows = _rows(db, sync.model)
        keys = {r[sync.primary_key] for r in rows}
        assert keys, name
        if sync.mode == "audience":
            for journey in JOURNEYS:
                expected = {r[sync.primary_key] for r in rows if r["journey_id"] == journey}
                assert sandbox.members(sync.destination, journey) == expected, (name, journey)
            continue
        journey_of = {r[sync.primary_key]: r["journey_id"] for r in rows}
        email_of = {r[sync.primary_key]: r.get("email") for r in rows}
        if sync.destination == "webhook":
            held = state["webhook"]["members"].get(sync.object, {})
        else:
            held = sandbox.profiles(sync.destination)
        held = {k: v for k, v in held.items() if v.get("journey_id") is not None}
        if sync.mode == "mirror":
            assert set(held) == keys, name  # removed keys are gone (their journey fields cleared)
        else:
            assert keys <= set(held), name  # upsert never removes
        for key in keys:
            assert held[key]["journey_id"] == journey_of[key], (name, key)
            if "email" in held[key]:
                assert held[key]["email"] == email_of[key], (name, key)
    with duckdb.connect(str(db), read_only=True) as con:
        # Every acknowledged state has its acknowledgement from the same run, whatever happened.
        orphans = con.execute(
            "select count(*) from atc_sync.sync_state as s left join atc_sync.sync_acknowledgements as a "
            "on s.sync_name = a.sync_name and s.audience_id = a.audience_id and s.record_key = a.record_key "
            "and s.run_id = a.run_id and s.idempotency_key = a.idempotency_key where a.acknowledgement_id is null"
        ).fetchone()[0]
    assert orphans == 0
    if "webhook_journey_assignments" in load_config(config):
        # Each transition was delivered once: as many deliveries as acknowledged changes.
        deliveries = state["webhook"]["deliveries"]
        with duckdb.connect(str(db), read_only=True) as con:
            acknowledged = con.execute(
                "select sum(acknowledged) from atc_sync.sync_runs where sync_name = 'webhook_journey_assignments'"
            ).fetchone()[0]
        assert len(deliveries) == len({d["id"] for d in deliveries}) == acknowledged


# -- tests ------------------------------------------------------------------------------


def test_the_default_config_needs_nothing_configured_and_a_second_run_sends_nothing(warehouse, sandbox):
    results = _run_all(warehouse, PROJECT_DIR / "syncs.yml")
    assert {r.status for r in results.values()} == {"ok"}
    assert all(r.added > 0 and r.acknowledged == r.added for r in results.values())
    assert_tools_hold_the_sync_models(sandbox, warehouse, PROJECT_DIR / "syncs.yml")

    requests_before = {v: s.get("stats", {}).get("requests") for v, s in sandbox.state().items() if v != "faults"}
    again = _run_all(warehouse, PROJECT_DIR / "syncs.yml")
    assert all(r.added + r.changed + r.removed == 0 and r.batches == 0 for r in again.values())
    requests_after = {v: s.get("stats", {}).get("requests") for v, s in sandbox.state().items() if v != "faults"}
    assert requests_after == requests_before

    with duckdb.connect(str(warehouse), read_only=True) as con:
        for (table,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'atc_sync'"
        ).fetchall():
            dump = repr(con.execute(f"select * from atc_sync.{table}").fetchall())
            assert not any(secret in dump for secret in SANDBOX_DEFAULTS.values()), table

    # Every sync with a ledger mapping recorded each send it delivered, under the decision's key.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        sends = set(con.execute("select person_id, channel, send_key from main.int_sync__assignments").fetchall())
        assert any(k is None for _, _, k in sends) and any(k for _, _, k in sends)  # deferrals and sends
        for name, sync in load_config(PROJECT_DIR / "syncs.yml").items():
            acknowledged = set(
                con.execute(
                    "select person_id, channel, message_key from atc_sync.sync_acknowledgements "
                    "where sync_name = ? and message_key is not null",
                    [name],
                ).fetchall()
            )
            expected = {s for s in sends if s[2] is not None} if sync.ledger else set()
            assert acknowledged == expected, name


def test_changes_removals_and_journey_moves_reach_every_tool(warehouse, sandbox, built, config):
    _settle(warehouse, config)
    _next_generation(warehouse, built)
    runs = _settle(warehouse, config)
    first = runs[0]
    # per_001..per_006 left (per_005, in the control group, was never sent); per_041..per_046
    # arrived; per_011..per_015 moved to vip_loyalty; per_016..per_018 changed their email.
    braze = first["braze_users"]
    assert (braze.added, braze.changed, braze.removed) == (6, 8, 5)
    iterable_users = first["iterable_users"]
    assert (iterable_users.added, iterable_users.changed, iterable_users.removed) == (6, 8, 0)  # upsert
    # Audience members are keyed by (journey, person): a move leaves one list and joins another.
    lists = first["iterable_journey_lists"]
    assert (lists.added, lists.changed, lists.removed) == (11, 3, 10)
    webhook = first["webhook_journey_assignments"]
    assert (webhook.added, webhook.changed, webhook.removed) == (6, 5, 5)  # the email is not in its payload
    assert_tools_hold_the_sync_models(sandbox, warehouse, config)


def _lists_exist(sandbox: SandboxServer) -> None:
    """The journey lists exist in Iterable and Klaviyo, as a marketer would have set them up.

    Creating a list is not idempotent at either vendor: a creation whose answer is lost
    and is retried makes a second list of the same name. The fault matrix is about the
    sync's records, so the lists are made before any fault is switched on.
    """
    for vendor in ("iterable", "klaviyo"):
        destination = build_destination(vendor, {**sandbox_settings(vendor, sandbox.url), **FAST}, {})
        for journey in JOURNEYS:
            destination._list_id(journey)


FAULTS = {
    "a_429_storm": ({"throttle_rate": 0.5, "retry_after": 0}, True),
    "server_errors": ({"error_rate": 0.35, "error_status": 503}, True),
    "connection_resets": ({"drop_rate": 0.3}, True),
    "lost_answers": ({"lose_rate": 0.3}, True),
    "timeouts": ({"latency_ms": 900}, False),
    "an_outage": ({"outage": True}, False),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_under_faults_the_tools_end_up_holding_exactly_the_sync_models(warehouse, sandbox, built, config, fault):
    settings, lasting = FAULTS[fault]
    _lists_exist(sandbox)
    faults = {"seed": 11, "vendors": {"*": {**settings, "rate_limit": None}}}
    for generation in (1, 2):
        if generation == 2:
            _next_generation(warehouse, built)
        sandbox.set_faults(faults)
        under_fault = _run_all(warehouse, config)
        if fault != "timeouts":  # a slow answer is not counted as an injected fault
            injected = requests.get(f"{sandbox.url}/_sandbox/state", timeout=10).json()["faults"]
            assert sum(sum(v.values()) for v in injected.values()) > 0
        if not lasting:
            # Nothing gets through a dead or slow service; nothing is recorded as sent either.
            assert all(
                r.status != "ok" and r.acknowledged == 0
                for r in under_fault.values()
                if r.added + r.changed + r.removed
            )
            sandbox.set_faults({"vendors": {"*": {"rate_limit": None}}})
        _settle(warehouse, config)
        assert_tools_hold_the_sync_models(sandbox, warehouse, config)


def test_records_a_tool_refuses_are_recorded_with_its_words_and_land_once_it_accepts_them(warehouse, sandbox, config):
    # Segment answers 200 and drops refused messages silently, so no sender can see them;
    # every other tool names the records it refused.
    refusing = {v: {"reject_pattern": r"person1\d@"} for v in ("braze", "iterable", "customerio", "klaviyo")}
    sandbox.set_faults({"seed": 3, "vendors": {"*": {"rate_limit": None}, **refusing}})
    results = _run_all(warehouse, config)
    braze = results["braze_users"]
    assert braze.rejected == 9 and braze.status == "partial"  # person11..person19 (person10 is a holdout)
    assert braze.acknowledged == braze.added - 9
    with duckdb.connect(str(warehouse), read_only=True) as con:
        messages = con.execute(
            "select record_key, message from atc_sync.sync_rejections where sync_name = 'braze_users' "
            "order by record_key"
        ).fetchall()
    assert len(messages) == 9
    assert all("Invalid email address" in m or "blocked" in m for _, m in messages)

    sandbox.set_faults({"vendors": {"*": {"rate_limit": None}}})
    retried = _run_all(warehouse, config)
    assert retried["braze_users"].acknowledged == 9 and retried["braze_users"].retries >= 9
    _settle(warehouse, config)
    assert_tools_hold_the_sync_models(sandbox, warehouse, config)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from atc_sync.sync_rejections where resolved_at is null").fetchone() == (0,)


def _atc(*args: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR), "ATC_SANDBOX_PORT": str(port)}
    return subprocess.Popen(
        [sys.executable, "-m", "journey_atc.cli", *args],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_a_sync_process_killed_mid_run_then_run_again_loses_and_duplicates_nothing(warehouse, sandbox, config):
    # Slow deliveries so the kill lands while the webhook sync is sending.
    sandbox.set_faults({"vendors": {"*": {"rate_limit": None}, "webhook": {"latency_ms": 150}}})
    names = ["braze_users", "webhook_journey_assignments"]
    proc = _atc("sync", "run", *names, "--db", str(warehouse), "--config", str(config), port=sandbox.port)
    deadline = time.monotonic() + 120
    while len(sandbox.state()["webhook"]["deliveries"]) < 6:
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "the sync never started delivering"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    delivered = len(sandbox.state()["webhook"]["deliveries"])
    expected = len(_rows(warehouse, "sync_webhook__journey_assignments"))
    assert delivered < expected  # it really died mid-run

    sandbox.set_faults({"vendors": {"*": {"rate_limit": None}}})
    rerun = _atc("sync", "run", *names, "--db", str(warehouse), "--config", str(config), port=sandbox.port)
    output, _ = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, output
    assert "Sync runs" in output

    state = sandbox.state()["webhook"]
    assert len(state["deliveries"]) == len({d["id"] for d in state["deliveries"]}) == expected
    members = state["members"]["journey_assignment"]
    assert set(members) == {r["person_id"] for r in _rows(warehouse, "sync_webhook__journey_assignments")}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        statuses = con.execute(
            "select status, count(*) from atc_sync.sync_runs where sync_name = ? group by 1 order by 1",
            ["webhook_journey_assignments"],
        ).fetchall()
    assert statuses == [("ok", 1), ("running", 1)]  # the killed run is visibly unfinished


def test_plan_shows_what_would_change_and_calls_nothing(warehouse, sandbox, built, config):
    from journey_atc.cli import main

    _settle(warehouse, config)
    _next_generation(warehouse, built)
    before = sandbox.state()["webhook"]["stats"].get("requests")
    result = CliRunner().invoke(
        main, ["sync", "plan", "webhook_journey_assignments", "--db", str(warehouse), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "webhook_journey_assignments -> webhook (mirror, journey_assignment): 6 added, 5 changed, 5 removed"
        in result.output
    )
    assert "removed per_001" in result.output or "removed per_002" in result.output
    assert sandbox.state()["webhook"]["stats"].get("requests") == before


def test_an_unknown_sync_and_a_refused_mode_are_reported_by_the_cli(warehouse, tmp_path):
    from journey_atc.cli import main

    runner = CliRunner()
    unknown = runner.invoke(main, ["sync", "run", "nope", "--db", str(warehouse)])
    assert unknown.exit_code == 2 and "No sync named nope" in unknown.output
    bad = tmp_path / "syncs.yml"
    bad.write_text(
        "version: 1\nsyncs:\n  lists:\n    model: sync_klaviyo__profiles\n    destination: klaviyo\n"
        "    object: profile\n    mode: mirror\n    primary_key: external_id\n    fields: {email: email}\n"
    )
    refused = runner.invoke(main, ["sync", "plan", "--all", "--db", str(warehouse), "--config", str(bad)])
    assert refused.exit_code == 2
    assert "sync 'lists': mode: klaviyo cannot honour mode 'mirror'" in refused.output


def test_last_runs_feed_the_summary(warehouse, sandbox, config):
    from activation.engine import last_runs

    _run_all(warehouse, config)
    runs = {r["sync_name"]: r for r in last_runs(warehouse)}
    assert set(runs) == set(load_config(config))
    assert all(r["status"] == "ok" and r["finished_at"] >= r["started_at"] for r in runs.values())
    assert isinstance(runs["braze_users"]["started_at"], datetime)
    assert runs["braze_users"]["started_at"] <= datetime.now(UTC).replace(tzinfo=None)


# -- the engine sending batches from several threads -------------------------------------------

CONCURRENT_ROWS = 400


def _people_model(tmp_path: Path, n: int, table: str = "sync_braze__users", start: int = 0) -> Path:
    db = tmp_path / "concurrent.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            f"create or replace table main.{table} as select 'per_' || lpad(cast(range as varchar), 4, '0') "
            "as external_id, 'p' || cast(range as varchar) || '@example.com' as email, "
            "case when range % 2 = 0 then 'welcome' else 'win_back' end as journey_id "
            f"from range({int(start)}, {int(start + n)})"
        )
    return db


def _braze_syncs(sandbox: SandboxServer, **extra) -> dict:
    from activation.config import parse_config

    body = {
        "model": "sync_braze__users",
        "destination": "braze",
        "object": "profile",
        "mode": "mirror",
        "primary_key": "external_id",
        "fields": {"email": "email", "journey_id": "journey_id"},
        "credentials": {"api_key": "ATC_SANDBOX_BRAZE_API_KEY"},
        "settings": {"base_url": sandbox.url_for("braze"), **FAST, **extra.pop("settings", {})},
        **extra,
    }
    return parse_config({"version": 1, "syncs": {"braze_users": body}})


def _state_keys(db: Path, sync: str = "braze_users") -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select record_key from atc_sync.sync_state where sync_name = ?", [sync]).fetchall()
    return {key for (key,) in rows}


def test_batches_sent_at_once_keep_the_vendor_rate_and_record_each_acknowledgement_once(tmp_path, sandbox):
    # The sync paces at 40 requests per second (burst 4); the vendor refuses anything faster than
    # 40 per second beyond a burst of 8 (room for the requests' jitter on the way) and answers
    # each request after 200 ms.
    pace = {"requests_per_second": 40, "burst": 4}
    vendor = {"rate_limit": {"requests_per_second": 40, "burst": 8}, "latency_ms": 200}
    sandbox.set_faults({"vendors": {"*": {"rate_limit": None}, "braze": vendor}})
    db = _people_model(tmp_path, CONCURRENT_ROWS)
    syncs = _braze_syncs(sandbox, batch_size=10, rate_limit=pace)
    started = time.monotonic()
    result = run_sync("braze_users", db, syncs=syncs)
    elapsed = time.monotonic() - started
    assert (result.status, result.acknowledged, result.batches) == ("ok", CONCURRENT_ROWS, 40)
    # Never faster than the vendor's rate (41 requests with the check) and never refused for it ...
    assert elapsed >= (41 - 4) / 40
    assert sandbox.sandbox.faults.describe()["injected"]["braze"].get("rate_limited", 0) == 0
    # ... yet far quicker than 40 answers of 200 ms one after the other: batches went out together.
    assert elapsed < 40 * 0.2
    assert len(sandbox.profiles("braze")) == CONCURRENT_ROWS
    with duckdb.connect(str(db), read_only=True) as con:
        acknowledged = con.execute(
            "select count(*), count(distinct record_key) from atc_sync.sync_acknowledgements"
        ).fetchone()
        runs = con.execute("select acknowledged, status from atc_sync.sync_runs").fetchall()
    assert acknowledged == (CONCURRENT_ROWS, CONCURRENT_ROWS)
    assert runs == [(CONCURRENT_ROWS, "ok")]
    assert _state_keys(db) == set(sandbox.profiles("braze"))


def test_batches_that_fail_while_others_succeed_leave_only_their_records_unacknowledged(tmp_path, sandbox):
    # A third of the requests fail and are not retried within the run: their batches are deferred.
    sandbox.set_faults({"seed": 5, "vendors": {"*": {"rate_limit": None}, "braze": {"error_rate": 0.3}}})
    db = _people_model(tmp_path, CONCURRENT_ROWS)
    syncs = _braze_syncs(sandbox, batch_size=10, settings={"retry_attempts": 1})
    first = run_sync("braze_users", db, syncs=syncs)
    held = set(sandbox.profiles("braze"))
    recorded = _state_keys(db)
    assert first.status == "partial" and 0 < first.acknowledged < CONCURRENT_ROWS
    assert recorded == held  # exactly what the tool holds: a 503 applied nothing, an answer recorded all
    assert len(recorded) == first.acknowledged
    sandbox.set_faults({"vendors": {"*": {"rate_limit": None}}})
    second = run_sync("braze_users", db, syncs=syncs)
    assert (second.status, second.added, second.acknowledged) == ("ok", CONCURRENT_ROWS - len(recorded), second.added)
    assert _state_keys(db) == set(sandbox.profiles("braze")) and len(_state_keys(db)) == CONCURRENT_ROWS


class _Timeline:
    """A destination that takes four batches at once and notes when each was sent and answered."""

    name = "timeline"
    limits = DestinationLimits(max_batch_size=5, extra={"max_concurrency": 4})
    supported_modes = frozenset({"mirror", "audience"})
    supported_objects = frozenset({"profile", "audience"})

    def __init__(self) -> None:
        self.events: list[tuple[float, float, str, list[str]]] = []

    def check(self) -> None:
        return None

    def write(self, batch: Batch) -> list[RecordResult]:
        started = time.monotonic()
        time.sleep(0.02)
        self.events.append((started, time.monotonic(), batch.records[0].change, [r.key for r in batch.records]))
        return [RecordResult(r.key, True) for r in batch.records]


@pytest.mark.parametrize("mode", ["mirror", "audience"])
def test_removals_are_answered_before_changes_and_changes_before_additions(tmp_path, mode):
    from activation.config import parse_config

    body = {
        "model": "sync_timeline__people",
        "destination": "timeline",
        "object": "audience" if mode == "audience" else "profile",
        "mode": mode,
        "primary_key": "external_id",
        "fields": {"email": "email"},
    }
    if mode == "audience":
        body["audience_field"] = "journey_id"
    syncs = parse_config({"version": 1, "syncs": {"people": body}}, registry={"timeline": _Timeline})
    db = _people_model(tmp_path, 40, table="sync_timeline__people")
    run_sync("people", db, syncs=syncs, destination=_Timeline(), registry={"timeline": _Timeline})
    # Next generation: 20 people leave, 20 arrive, and the 20 who stay change their address
    # (an audience member who changes is removed as last written, then added again).
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create or replace table main.sync_timeline__people as "
            "select external_id, replace(email, '@', '+new@') as email, journey_id "
            "from main.sync_timeline__people where external_id >= 'per_0020' "
            "union all select 'per_' || lpad(cast(range as varchar), 4, '0'), 'n' || cast(range as varchar) || "
            "'@example.com', 'welcome' from range(40, 60)"
        )
    timeline = _Timeline()
    result = run_sync("people", db, syncs=syncs, destination=timeline, registry={"timeline": _Timeline})
    assert result.status == "ok"
    phases = ["removed", "changed", "added"] if mode == "mirror" else ["removed", "added"]
    spans = {p: [(s, e) for s, e, change, _ in timeline.events if change == p] for p in phases}
    assert all(spans.values()), spans
    for earlier, later in zip(phases, phases[1:], strict=False):
        assert max(e for _, e in spans[earlier]) <= min(s for s, _ in spans[later]), (earlier, later)
    # And within a phase the batches did overlap: they were sent from several threads.
    starts = sorted(spans[phases[-1]])
    assert any(b[0] < a[1] for a, b in zip(starts, starts[1:], strict=False))


CRASHING_RUN = """
import os, sys, threading, time
import activation.engine as engine
from activation.config import parse_config
from activation.protocol import DestinationLimits, RecordResult

engine.GROUP_COMMIT_RECORDS = 30  # small groups, so the kill lands between two commits

class Dying:
    name = "dying"
    limits = DestinationLimits(max_batch_size=10, extra={"max_concurrency": 4})
    supported_modes = frozenset({"mirror"})
    supported_objects = frozenset({"profile"})
    lock = threading.Lock()
    calls = 0

    def check(self):
        return None

    def write(self, batch):
        with self.lock:
            Dying.calls += 1
            with open(sys.argv[2], "a") as applied:  # the tool applied it ...
                applied.write("".join(r.key + "\\n" for r in batch.records))
            if Dying.calls == 12:
                time.sleep(0.5)  # the engine commits the groups answered so far (no other batch gets in)
                os._exit(9)  # ... and the process dies before anything else happens
        time.sleep(0.01)
        return [RecordResult(r.key, True) for r in batch.records]

body = {"model": "sync_dying__people", "destination": "dying", "object": "profile", "mode": "mirror",
        "primary_key": "external_id", "fields": {"email": "email"}}
syncs = parse_config({"version": 1, "syncs": {"people": body}}, registry={"dying": Dying})
engine.run_sync("people", sys.argv[1], syncs=syncs, destination=Dying(), registry={"dying": Dying})
"""


def test_a_process_killed_between_group_commits_resends_what_it_had_not_committed(tmp_path):
    from activation.config import parse_config

    db = _people_model(tmp_path, 200, table="sync_dying__people")
    applied = tmp_path / "applied.txt"
    script = tmp_path / "crash.py"
    script.write_text(CRASHING_RUN)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    proc = subprocess.run([sys.executable, str(script), str(db), str(applied)], env=env, capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    sent = applied.read_text().split()
    committed = _state_keys(db, "people")
    # The state holds only records the tool acknowledged, in whole groups; the rest of what it
    # applied was acknowledged too late (or not at all) and is simply not recorded.
    assert committed <= set(sent)
    assert len(committed) % 10 == 0 and len(committed) >= 30
    assert len(set(sent) - committed) > 0
    with duckdb.connect(str(db), read_only=True) as con:
        run = con.execute("select status, acknowledged from atc_sync.sync_runs").fetchall()
        acks = con.execute("select count(*) from atc_sync.sync_acknowledgements").fetchone()[0]
    assert run == [("running", len(committed))] and acks == len(committed)  # committed with the state

    class Tool(_Timeline):
        name = "dying"
        limits = DestinationLimits(max_batch_size=10, extra={"max_concurrency": 4})
        supported_modes = frozenset({"mirror"})
        supported_objects = frozenset({"profile"})

    body = {
        "model": "sync_dying__people",
        "destination": "dying",
        "object": "profile",
        "mode": "mirror",
        "primary_key": "external_id",
        "fields": {"email": "email"},
    }
    syncs = parse_config({"version": 1, "syncs": {"people": body}}, registry={"dying": Tool})
    tool = Tool()
    rerun = run_sync("people", db, syncs=syncs, destination=tool, registry={"dying": Tool})
    resent = [k for *_, keys in tool.events for k in keys]
    # The rerun sends exactly what was not committed, the uncommitted-but-applied records included
    # (same idempotency keys: a deduplicating vendor applies them once), and nothing twice.
    assert rerun.status == "ok" and len(resent) == len(set(resent)) == 200 - len(committed)
    assert set(resent) == {f"per_{i:04d}" for i in range(200)} - committed
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "select count(*), count(distinct record_key) from atc_sync.sync_acknowledgements"
        ).fetchone() == (200, 200)


def _held(state: dict) -> dict:
    """What the tools hold, without the clock's values and the request counts; events in any order
    (batches are sent from several threads)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("timestamp", "received_at", "stats", "time")}
        if isinstance(value, list):
            return sorted((strip(v) for v in value), key=repr)
        return value

    vendors = ("braze", "customerio", "segment", "klaviyo")
    return {vendor: strip(held) for vendor, held in state.items() if vendor in vendors}


def test_entities_the_warehouse_writes_leave_the_tools_as_the_records_path_does(built, tmp_path, monkeypatch):
    """Braze, Customer.io and Klaviyo profiles and Segment audiences are written by DuckDB on the fast path;
    with ``render_in_warehouse: false`` every record goes through ``write``. Both end the same."""
    from activation.destinations.braze import BrazeDestination
    from activation.destinations.customerio import CustomerIoDestination
    from activation.destinations.klaviyo import KlaviyoDestination
    from activation.destinations.segment import SegmentDestination

    rendered: list[str] = []
    for cls in (BrazeDestination, CustomerIoDestination, SegmentDestination, KlaviyoDestination):

        def spy(self, batch, original=cls.write_rendered):
            rendered.append(self.name)
            return original(self, batch)

        monkeypatch.setattr(cls, "write_rendered", spy)
    names = ["braze_users", "customerio_customers", "segment_journey_audiences", "klaviyo_profiles"]
    held = []
    for render in (True, False):
        data = yaml.safe_load((PROJECT_DIR / "syncs.yml").read_text())
        data["syncs"] = {name: data["syncs"][name] for name in names}
        for sync in data["syncs"].values():
            sync["settings"] = {**sync.get("settings", {}), **FAST, "render_in_warehouse": render}
        config = tmp_path / f"syncs-{render}.yml"
        config.write_text(yaml.safe_dump(data))
        db = tmp_path / f"wh-{render}.duckdb"
        shutil.copy(built["v1"], db)
        with SandboxServer(faults={"vendors": {"*": {"rate_limit": None}}}) as server:
            monkeypatch.setenv("ATC_SANDBOX_PORT", str(server.port))
            first = _run_all(db, config)
            _next_generation(db, built)
            second = _run_all(db, config)
            held.append(_held(server.state()))
        assert all(r.status == "ok" for r in [*first.values(), *second.values()])
        assert all(r.acknowledged == r.added + r.changed + r.removed for r in first.values())
    assert set(rendered) == {"braze", "customerio", "segment", "klaviyo"}  # the fast path did run, with render on only
    assert held[0] == held[1]
    assert held[0]["braze"]["users"] and held[0]["customerio"] and held[0]["segment"]
