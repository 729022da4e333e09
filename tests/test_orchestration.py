"""The Dagster code location: the graph an operator sees, and runs against a real warehouse and sandbox.

The dbt project is copied once for the module (so one test can break a seed the
way a bad deploy would) and built once; later tests reuse that warehouse.
"""

from __future__ import annotations

import copy
import csv
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import build_dbt_asset_selection

from journey_atc.cli import infer_as_of
from journey_atc.datagen import generate
from journey_atc.dbt import PROJECT_DIR
from orchestration import checks
from orchestration.assets.dbt import dbt_build_args, layer_of, owners_of
from orchestration.jobs import inbox_files_sensor
from orchestration.reports import markdown_table
from orchestration.resources import FULL_REFRESH_TAG, AtcResource, as_of_for_dbt, parse_as_of

PEOPLE = 300
LAYERS = {"raw", "staging", "identity", "profiles", "journeys", "guardrails", "activation"}
GATE_CHECKS = {
    ("identity_person_map", "identity_converged"),
    ("journey_assignments", "assignment_churn"),
    ("stg_segment__events", "raw_events_fresh"),
    ("guardrail_decisions", "guardrail_invariants"),
}


# ---------------------------------------------------------------- pure rules


def test_churn_above_the_threshold_blocks_until_an_operator_confirms():
    assert checks.churn_verdict(10, 100, 0.25, confirmed=False)[0] is True
    passed, text = checks.churn_verdict(60, 100, 0.25, confirmed=False)
    assert passed is False and "confirm_churn: true" in text and "60.0%" in text
    assert checks.churn_verdict(60, 100, 0.25, confirmed=True)[0] is True


def test_freshness_warns_first_then_errors():
    assert checks.freshness_severity(timedelta(minutes=30), 60, 1440) is None
    assert checks.freshness_severity(timedelta(hours=3), 60, 1440) == dg.AssetCheckSeverity.WARN
    assert checks.freshness_severity(timedelta(days=2), 60, 1440) == dg.AssetCheckSeverity.ERROR


def test_a_destination_refusing_many_records_is_unhealthy():
    assert checks.rejection_severity(0, 0, 0.01, 0.05) is None
    assert checks.rejection_severity(2, 100, 0.01, 0.05) == dg.AssetCheckSeverity.WARN
    assert checks.rejection_severity(10, 100, 0.01, 0.05) == dg.AssetCheckSeverity.ERROR


def test_the_gate_flags_a_synced_row_the_guardrails_dropped_or_moved_to_another_channel():
    con = duckdb.connect()
    con.execute(
        "create table guardrail_decisions as select * from (values"
        " ('p1', 'welcome', 'send', 'ok', 'email'),"
        " ('p2', 'welcome', 'drop', 'no_consent', null),"
        " ('p3', 'welcome', 'defer', 'quiet_hours', 'in_app'),"
        " ('p4', 'welcome', 'drop', 'duplicate', null))"
        " as t(person_id, journey_id, decision, reason_code, channel)"
    )
    con.execute(
        "create table int_sync__assignments as select * from (values"
        " ('p1', 'welcome', 'email'), ('p2', 'welcome', 'email'), ('p3', 'welcome', 'email'),"
        " ('p4', 'welcome', 'sms'), ('p5', 'welcome', 'email'))"
        " as t(person_id, journey_id, channel)"
    )
    [(name, sql)] = checks.SYNC_RULES
    flagged = {row[0] for row in con.execute(sql).fetchall()}
    # p2 was dropped, p3 is deferred to another channel, p5 has no decision at all
    assert (name, flagged) == ("synced_as_decided", {"p2", "p3", "p5"})


def test_a_dbt_node_is_grouped_by_its_layer_folder_and_owned_by_its_meta_owner():
    assert layer_of({"fqn": ["journey_atc", "journeys", "queues", "queue_welcome"]}) == "journeys"
    assert layer_of({"fqn": ["journey_atc", "guardrails", "channel_policies"]}) == "guardrails"
    assert owners_of({"meta": {"owner": "lifecycle"}}) == ["team:lifecycle"]
    assert owners_of({"config": {"meta": {"owners": ["ana@example.com"]}}}) == ["ana@example.com"]
    assert owners_of({}) == ["team:analytics-engineering"]


def test_markdown_tables_escape_pipes_and_show_empty_tables():
    table = markdown_table(["journey", "people"], [["a|b", 1200]])
    assert "a\\|b" in table and "1,200" in table
    assert "(none)" in markdown_table(["journey", "people"], [])


def test_as_of_comes_from_config_then_the_run_tag_then_the_minute_the_run_was_created(tmp_path):
    seen = []

    @dg.asset
    def probe(context, atc: AtcResource) -> None:
        seen.append(atc.resolve_as_of(context))

    db = str(tmp_path / "w.duckdb")
    tag = {"journey_atc/as_of": "2026-11-01 10:05:00"}
    dg.materialize([probe], resources={"atc": AtcResource(db_path=db)}, tags=tag)
    dg.materialize([probe], resources={"atc": AtcResource(db_path=db, as_of="2026-10-31T08:00:00Z")}, tags=tag)
    before = datetime.now(UTC)
    dg.materialize([probe], resources={"atc": AtcResource(db_path=db)})
    assert [as_of_for_dbt(m) for m in seen[:2]] == ["2026-11-01 10:05:00", "2026-10-31 08:00:00"]
    assert seen[2].second == 0 and timedelta(0) <= before - seen[2] < timedelta(minutes=2)


# ---------------------------------------------------------------- the graph


@pytest.fixture(scope="module")
def defs():
    from orchestration.definitions import defs as loaded

    return loaded


def test_the_definitions_load(defs):
    dg.Definitions.validate_loadable(defs)


def test_every_layer_is_a_group_and_every_sync_sits_in_activation(defs):
    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == LAYERS
    syncs = [k for k in graph.get_all_asset_keys() if k.path[0] == "sync"]
    assert len(syncs) >= 6, "one asset per sync in syncs.yml"
    for key in syncs:
        node = graph.get(key)
        assert node.group_name == "activation"
        parents = {p.path[-1] for p in node.parent_keys}
        assert any(p.startswith("sync_") for p in parents), f"{key} is not downstream of its sync_* model"
        # every asset a blocking gate guards is a direct parent, which is how Dagster gates the sync
        assert {a for a, _ in GATE_CHECKS} <= parents


def test_the_gates_are_blocking_checks_and_dbt_tests_are_checks_too(defs):
    graph = defs.resolve_asset_graph()
    keys = {(k.asset_key.path[-1], k.name) for k in graph.asset_check_keys}
    assert GATE_CHECKS <= keys
    specs = {
        (spec.asset_key.path[-1], spec.name): spec
        for assets_def in graph.assets_defs
        for spec in assets_def.check_specs
    }
    for gate in GATE_CHECKS:
        assert specs[gate].blocking, f"{gate} must stop the syncs"
    assert any(name.startswith("unique_") for _, name in keys), "dbt tests are loaded as asset checks"
    assert sum(1 for _, name in keys if name == "destination_health") >= 6


def test_the_schedules_sensor_and_jobs_an_operator_expects(defs):
    schedules = {s.name: s for s in defs.schedules}
    assert schedules["micro_batch_every_5_minutes"].cron_schedule == "*/5 * * * *"
    assert schedules["profile_refresh_hourly"].job_name == "profile_refresh"
    assert schedules["full_rebuild_nightly"].cron_schedule == "0 2 * * *"
    assert [s.name for s in defs.sensors] == ["inbox_files_sensor"]
    micro = defs.resolve_job_def("micro_batch")
    assert micro.tags["journey_atc/warehouse"] == "default"
    selected = {k.path[-1] for k in micro.asset_layer.executable_asset_keys}
    assert {"events", "journey_assignments", "guardrail_decisions"} <= selected
    gates = {(k.asset_key.path[-1], k.name) for k in micro.asset_layer.asset_graph.asset_check_keys}
    assert GATE_CHECKS <= gates, "the micro-batch runs every gate in front of its syncs"
    assert "profiles" not in selected, "profiles refresh hourly, not every five minutes"
    # the nightly rebuild is a full refresh; every other run is incremental
    assert defs.resolve_job_def("full_rebuild").tags[FULL_REFRESH_TAG] == "true"
    assert FULL_REFRESH_TAG not in micro.tags
    assert dbt_build_args("2026-11-01 00:05:00", micro.tags)[-1] != "--full-refresh"
    assert dbt_build_args("2026-11-01 00:05:00", defs.resolve_job_def("full_rebuild").tags)[-1] == "--full-refresh"
    assert dbt_build_args("2026-11-01 00:05:00", micro.tags, "the last build ended incomplete")[-1] == "--full-refresh"
    # unit tests (fixed rows, not data) run nightly, not every five minutes
    assert "unit_test" in dbt_build_args("2026-11-01 00:05:00", micro.tags)
    assert "unit_test" not in dbt_build_args("2026-11-01 00:05:00", defs.resolve_job_def("full_rebuild").tags)


def test_the_sensor_starts_the_micro_batch_once_per_new_file_and_never_while_a_run_is_active(tmp_path, defs):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    atc = AtcResource(db_path=str(tmp_path / "w.duckdb"), inbox_dir=str(inbox))
    instance = dg.DagsterInstance.ephemeral()
    ctx = dg.build_sensor_context(instance=instance, resources={"atc": atc})
    assert isinstance(inbox_files_sensor(ctx), dg.SkipReason)
    (inbox / "events-0001.jsonl").write_text('{"messageId": "m1", "type": "track"}\n')
    request = inbox_files_sensor(ctx)
    assert isinstance(request, dg.RunRequest)
    assert "journey_atc/as_of" in request.tags
    again = dg.build_sensor_context(instance=instance, resources={"atc": atc}, cursor=ctx.cursor)
    assert isinstance(inbox_files_sensor(again), dg.SkipReason), "the same files start one run, not two"
    (inbox / "events-0002.jsonl").write_text('{"messageId": "m2", "type": "track"}\n')
    instance.add_run(_active_run())
    busy = dg.build_sensor_context(instance=instance, resources={"atc": atc}, cursor=ctx.cursor)
    assert isinstance(inbox_files_sensor(busy), dg.SkipReason)


def test_a_schedule_skips_while_a_run_is_active_and_stamps_as_of_otherwise(defs):
    schedule = next(s for s in defs.schedules if s.name == "micro_batch_every_5_minutes")
    due = parse_as_of("2026-11-01 10:05:00")
    with dg.instance_for_test() as instance:
        request = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=due))
        assert isinstance(request, dg.RunRequest)
        assert request.tags["journey_atc/as_of"] == "2026-11-01 10:05:00"
        instance.add_run(_active_run())
        skipped = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=due))
        assert isinstance(skipped, dg.SkipReason)


def _active_run() -> dg.DagsterRun:
    return dg.DagsterRun(
        job_name="micro_batch",
        run_id="active",
        status=dg.DagsterRunStatus.STARTED,
        tags={"journey_atc/warehouse": "default"},
    )


# ---------------------------------------------------------------- runs


def _copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / name, dest / name)
    for folder in ("dbt_project", "seeds"):
        shutil.copytree(PROJECT_DIR / folder, dest / folder)
    return dest


def _sync_state(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select sync_name, audience_id, record_key, payload_hash, is_present from atc_sync.sync_state order by all"
        ).fetchall()


def _check_results(result) -> dict[str, dg.AssetCheckEvaluation]:
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            out[f"{data.asset_key.path[-1]}:{data.check_name}"] = data
    return out


def _materialized(result) -> set[str]:
    return {"/".join(e.materialization.asset_key.path) for e in result.get_asset_materialization_events()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A sandbox, a copied project, a generated data set waiting in the inbox, and the code location on them."""
    from activation.sandbox import SANDBOX_DEFAULTS, SandboxServer
    from orchestration.definitions import build_definitions
    from orchestration.project import make_project

    root = tmp_path_factory.mktemp("orchestration")
    project_dir = _copy_project(root / "project")
    inbox = root / "inbox"
    generate(inbox, people=PEOPLE, seed=11)
    db = root / "warehouse.duckdb"
    saved = dict(os.environ)
    with SandboxServer() as sandbox:
        os.environ.update({**SANDBOX_DEFAULTS, "ATC_SANDBOX_PORT": str(sandbox.port)})
        project = make_project(project_dir)
        settings = {"db_path": str(db), "inbox_dir": str(inbox)}
        definitions = build_definitions(project=project, atc=AtcResource(**settings))
        everything = [*definitions.assets, *definitions.asset_checks]
        try:
            yield {
                "root": root,
                "db": db,
                "inbox": inbox,
                "sandbox": sandbox,
                "project_dir": project_dir,
                "defs": definitions,
                "assets": everything,
                "settings": settings,
                "state": {},
            }
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _materialize(run, selection=None, **config):
    resources = {**run["defs"].resources, "atc": AtcResource(**run["settings"], **config)}
    return dg.materialize(
        run["assets"],
        resources=resources,
        selection=selection,
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
    )


@pytest.fixture(scope="module")
def first_run(run):
    # as_of: the minute after the newest event the generator wrote (what the CLI infers).
    from journey_atc.loader import load_directory

    probe = run["root"] / "probe.duckdb"
    load_directory(probe, run["inbox"])
    as_of = infer_as_of(probe)
    result = _materialize(run, as_of=as_of_for_dbt(as_of))
    run["state"]["as_of"] = as_of
    return result


def test_a_full_materialization_loads_the_inbox_builds_checks_and_syncs(run, first_run):
    failures = [e.event_specific_data.error.message[:3000] for e in first_run.all_events if e.is_step_failure]
    assert first_run.success, failures
    done = _materialized(first_run)
    assert {"raw/events", "journey_assignments", "guardrail_decisions"} <= done
    assert any(k.startswith("sync/") for k in done)
    results = _check_results(first_run)
    for asset, name in GATE_CHECKS:
        assert results[f"{asset}:{name}"].passed, results[f"{asset}:{name}"].description
    # the inbox was emptied into loaded/
    assert not [p for p in run["inbox"].iterdir() if p.is_file()]
    assert (run["inbox"] / "loaded").is_dir()


def test_the_operator_reads_markdown_tables_and_a_chart(first_run):
    by_key = {
        e.materialization.asset_key.path[-1]: e.materialization for e in first_run.get_asset_materialization_events()
    }
    assignments = by_key["journey_assignments"].metadata
    assert "| journey | people |" in assignments["people_per_journey"].value
    assert assignments["journey_activity"].value.startswith("![journey activity](data:image/png;base64,")
    assert Path(assignments["journey_activity_png"].value).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| decision | reason code |" in by_key["guardrail_decisions"].metadata["decisions_by_reason_code"].value
    sync_meta = [m.metadata for k, m in by_key.items() if "sync_outcome" in m.metadata]
    assert sync_meta and all("| status | added | changed | removed |" in m["sync_outcome"].value for m in sync_meta)
    # where each run's seconds went, as numbers the UI plots run after run
    stages = ("diff_seconds", "sending_seconds", "finishing_seconds")
    assert all(m[k].value >= 0 for m in sync_meta for k in stages)


def test_the_sandbox_holds_exactly_the_synced_state(run, first_run):
    from activation.engine import load_config

    sandbox = run["sandbox"].sandbox
    syncs = load_config()
    with duckdb.connect(str(run["db"]), read_only=True) as con:
        for name, sync in syncs.items():
            runs = con.execute(
                "select rejected, invalid, status from atc_sync.sync_runs where sync_name = ?", [name]
            ).fetchall()
            assert runs and runs[-1][0] == 0 and runs[-1][2] == "ok", (name, runs)
            audience = sync.audience_field or "''"
            model_keys = {
                (str(a), str(k))
                for a, k in con.execute(
                    f"select {audience}, {sync.primary_key} from {sync.model} where {sync.primary_key} is not null"
                ).fetchall()
            }
            state_keys = {
                (a, k)
                for a, k in con.execute(
                    "select audience_id, record_key from atc_sync.sync_state where sync_name = ? and is_present",
                    [name],
                ).fetchall()
            }
            assert state_keys == model_keys, f"{name}: acknowledged state differs from the model"
            if sync.mode == "audience":
                for audience in {a for a, _ in state_keys}:
                    held = sandbox.members(sync.destination, audience)
                    assert held == {k for a, k in state_keys if a == audience}, f"{name}/{audience}"
            elif sync.object == "profile":
                held = set(sandbox.profiles(sync.destination))
                assert {k for _, k in state_keys} <= held, f"{name}: profiles missing at {sync.destination}"
    run["state"]["sandbox"] = copy.deepcopy(sandbox.state())
    run["state"]["sync_state"] = _sync_state(run["db"])


def _break_the_journeys_seed(project_dir: Path) -> None:
    """A bad deploy: every journey but the welcome series ends yesterday."""
    path = project_dir / "seeds" / "journeys" / "journeys.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["journey_id"] != "welcome":
            row["active_until"] = "2020-01-01"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def churned_run(run, first_run):
    assert "sandbox" in run["state"], "runs after the full materialization test"
    _break_the_journeys_seed(run["project_dir"])
    dbt_def = next(a for a in run["assets"] if a.node_def.name == "journey_atc_dbt")
    syncs = dg.AssetSelection.key_prefixes(["sync"])
    selection = build_dbt_asset_selection([dbt_def], dbt_select="journeys+") | syncs
    gates = [c for c in run["defs"].asset_checks if any(k.name != "destination_health" for k in c.check_keys)]
    selection = selection | dg.AssetSelection.checks(*gates)
    later = run["state"]["as_of"] + timedelta(minutes=30)
    run["state"]["later"] = later
    return _materialize(run, selection=selection, as_of=as_of_for_dbt(later))


def test_a_seed_that_moves_most_people_blocks_every_sync_and_leaves_the_sandbox_unchanged(run, churned_run):
    churn_events = _check_results(churned_run)
    assert "journey_assignments:assignment_churn" in churn_events, "the gate ran"
    assert not churned_run.success, churn_events["journey_assignments:assignment_churn"].description
    churn = _check_results(churned_run)["journey_assignments:assignment_churn"]
    assert churn.passed is False and churn.severity == dg.AssetCheckSeverity.ERROR
    assert "confirm_churn: true" in churn.description
    assert not [k for k in _materialized(churned_run) if k.startswith("sync/")]
    assert run["sandbox"].sandbox.state() == run["state"]["sandbox"]
    assert _sync_state(run["db"]) == run["state"]["sync_state"]


def test_an_operator_confirming_the_churn_lets_the_syncs_remove_the_people_who_left(run, churned_run):
    syncs = dg.AssetSelection.key_prefixes(["sync"])
    gate = dg.AssetSelection.checks(dg.AssetCheckKey(dg.AssetKey(["journey_assignments"]), "assignment_churn"))
    confirmed = _materialize(
        run, selection=syncs | gate, as_of=as_of_for_dbt(run["state"]["later"]), confirm_churn=True
    )
    assert confirmed.success
    assert _check_results(confirmed)["journey_assignments:assignment_churn"].passed
    removed = [
        e.materialization.metadata["removed"].value
        for e in confirmed.get_asset_materialization_events()
        if e.materialization.asset_key.path[0] == "sync"
    ]
    assert sum(removed) > 0
    assert run["sandbox"].sandbox.state() != run["state"]["sandbox"]
