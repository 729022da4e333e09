"""The sync engine against a small scripted destination: diff, modes, failures, crashes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest

from activation.config import load_config, parse_config
from activation.engine import last_runs, plan_sync, run_sync
from activation.protocol import (
    Batch,
    BatchRejected,
    ConfigurationError,
    DestinationLimits,
    RecordResult,
    TransientError,
)

SECRET = "sk-live-51HxT0pSecretValue9z"


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class FakeTool:
    """What the channel tool holds: key -> payload (or list -> members), and every call it got."""

    def __init__(self) -> None:
        self.profiles: dict[str, dict] = {}
        self.lists: dict[str, dict[str, dict]] = {}
        self.seen_idempotency: set[str] = set()
        self.applied: list[tuple[str, str, str]] = []  # (key, change, idempotency_key) actually applied
        self.calls: list[Batch] = []

    def apply(self, batch: Batch) -> None:
        for r in batch.records:
            if r.idempotency_key in self.seen_idempotency:
                continue  # the vendor deduplicates
            self.seen_idempotency.add(r.idempotency_key)
            self.applied.append((r.key, r.change, r.idempotency_key))
            if batch.mode == "audience":
                members = self.lists.setdefault(batch.audience_id, {})
                if r.change == "removed":
                    members.pop(r.key, None)
                else:
                    members[r.key] = dict(r.payload)
            elif r.change == "removed":
                self.profiles.pop(r.key, None)
            else:
                self.profiles[r.key] = dict(r.payload)


class ScriptedDestination:
    """A destination whose answers a test scripts."""

    name: ClassVar[str] = "scripted"
    limits: ClassVar[DestinationLimits] = DestinationLimits(max_batch_size=3, max_batch_bytes=10_000)
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror", "add-only", "audience"})
    supported_objects: ClassVar[frozenset[str]] = frozenset({"profile", "audience"})

    def __init__(self, tool: FakeTool | None = None) -> None:
        self.tool = tool or FakeTool()
        self.reject_keys: dict[str, str] = {}  # key -> vendor message (per record)
        self.poison_keys: set[str] = set()  # any batch holding one is refused whole
        self.transient_calls: set[int] = set()  # call numbers (1-based) that fail transiently
        self.crash_after_batches: int | None = None  # apply this many + 1 batches, then die
        self.echo_secret = False
        self.calls = 0

    def check(self) -> None:
        return None

    def write(self, batch: Batch) -> list[RecordResult]:
        self.calls += 1
        self.tool.calls.append(batch)
        if self.calls in self.transient_calls:
            raise TransientError("503 Service Unavailable", status=503)
        if any(r.key in self.poison_keys for r in batch.records):
            suffix = f" (key {SECRET})" if self.echo_secret else ""
            raise BatchRejected(f"400 invalid request body{suffix}", status=400)
        good = type(batch)(
            sync_name=batch.sync_name,
            object=batch.object,
            mode=batch.mode,
            records=[r for r in batch.records if r.key not in self.reject_keys],
            audience_id=batch.audience_id,
        )
        self.tool.apply(good)
        if self.crash_after_batches is not None and self.calls > self.crash_after_batches:
            raise Crash()
        return [RecordResult(r.key, r.key not in self.reject_keys, self.reject_keys.get(r.key)) for r in batch.records]


class UpsertOnly(ScriptedDestination):
    name: ClassVar[str] = "upsert_only"
    supported_modes: ClassVar[frozenset[str]] = frozenset({"upsert"})


REGISTRY = {"scripted": ScriptedDestination, "upsert_only": UpsertOnly}


def make_syncs(mode: str = "upsert", **extra) -> dict:
    body = {
        "model": "sync_scripted__users",
        "destination": "scripted",
        "object": "audience" if mode == "audience" else "profile",
        "mode": mode,
        "primary_key": "person_id",
        "fields": {"email": "email", "journey": "journey_id"},
        "credentials": {"api_key": "ATC_TEST_API_KEY"},
        **extra,
    }
    if mode == "audience":
        body["audience_field"] = "journey_id"
        body["fields"] = {"email": "email"}
    return parse_config({"version": 1, "syncs": {"users": body}}, registry=REGISTRY)


@pytest.fixture
def env(monkeypatch) -> dict:
    monkeypatch.setenv("ATC_TEST_API_KEY", SECRET)
    return {"ATC_TEST_API_KEY": SECRET}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create table main.sync_scripted__users (person_id varchar, email varchar, journey_id varchar)")
    return path


def set_rows(db: Path, rows: list[tuple]) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute("delete from main.sync_scripted__users")
        if rows:
            con.executemany("insert into main.sync_scripted__users values (?, ?, ?)", rows)


def people(n: int, journey: str = "welcome", start: int = 1) -> list[tuple]:
    return [(f"p{i:03d}", f"p{i:03d}@example.com", journey) for i in range(start, start + n)]


def run(db, syncs, dest, env):
    return run_sync("users", db, syncs=syncs, destination=dest, registry=REGISTRY, env=env)


def expected_profiles(rows) -> dict:
    return {pid: {"email": email, "journey": journey} for pid, email, journey in rows}


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_upsert_sends_new_and_changed_rows_and_never_removes(db, env):
    syncs = make_syncs("upsert")
    dest = ScriptedDestination()
    set_rows(db, people(5))
    first = run(db, syncs, dest, env)
    assert (first.added, first.changed, first.removed, first.acknowledged) == (5, 0, 0, 5)
    assert first.batches == 2  # the destination takes three per batch

    rows = people(3) + [("p004", "new4@example.com", "welcome"), ("p006", "p006@example.com", "welcome")]
    set_rows(db, rows)
    second = run(db, syncs, dest, env)
    assert (second.added, second.changed, second.removed, second.unchanged) == (1, 1, 0, 3)
    assert dest.tool.profiles["p004"]["email"] == "new4@example.com"
    assert "p005" in dest.tool.profiles  # upsert never removes


def test_mirror_removes_with_the_payload_last_sent(db, env):
    syncs = make_syncs("mirror")
    dest = ScriptedDestination()
    set_rows(db, people(4))
    run(db, syncs, dest, env)
    set_rows(db, people(2))
    result = run(db, syncs, dest, env)
    assert (result.added, result.changed, result.removed, result.unchanged) == (0, 0, 2, 2)
    removals = [r for b in dest.tool.calls[-1:] for r in b.records]
    assert {r.key for r in removals} == {"p003", "p004"}
    assert all(r.change == "removed" for r in removals)
    assert removals[0].payload == {"email": "p003@example.com", "journey": "welcome"}
    assert dest.tool.profiles == expected_profiles(people(2))


def test_add_only_sends_new_keys_and_ignores_changes_and_removals(db, env):
    syncs = make_syncs("add-only")
    dest = ScriptedDestination()
    set_rows(db, people(3))
    run(db, syncs, dest, env)
    set_rows(db, [("p001", "changed@example.com", "welcome"), *people(1, start=9)])
    result = run(db, syncs, dest, env)
    assert (result.added, result.changed, result.removed) == (1, 0, 0)
    assert dest.tool.profiles["p001"]["email"] == "p001@example.com"
    assert set(dest.tool.profiles) == {"p001", "p002", "p003", "p009"}


def test_audience_mode_adds_and_removes_members_per_list(db, env):
    syncs = make_syncs("audience")
    dest = ScriptedDestination()
    set_rows(db, people(2, "welcome") + people(2, "win_back", start=3))
    run(db, syncs, dest, env)
    assert set(dest.tool.lists) == {"welcome", "win_back"}
    assert all(b.audience_id in {"welcome", "win_back"} for b in dest.tool.calls)

    # p001 moves from welcome to win_back; p003's address changes within win_back.
    set_rows(
        db,
        [
            ("p001", "p001@example.com", "win_back"),
            ("p002", "p002@example.com", "welcome"),
            ("p003", "p003-new@example.com", "win_back"),
            ("p004", "p004@example.com", "win_back"),
        ],
    )
    before = len(dest.tool.calls)
    result = run(db, syncs, dest, env)
    assert (result.added, result.changed, result.removed) == (1, 1, 1)
    assert set(dest.tool.lists["welcome"]) == {"p002"}
    assert dest.tool.lists["win_back"]["p003"] == {"email": "p003-new@example.com"}
    assert set(dest.tool.lists["win_back"]) == {"p001", "p003", "p004"}
    sent = [(b.audience_id, r.change, r.key, dict(r.payload)) for b in dest.tool.calls[before:] for r in b.records]
    # The changed member is removed as last written before it is added as it is now.
    old = sent.index(("win_back", "removed", "p003", {"email": "p003@example.com"}))
    new = sent.index(("win_back", "added", "p003", {"email": "p003-new@example.com"}))
    assert old < new


def test_a_second_run_with_no_data_change_sends_nothing(db, env):
    for mode in ("upsert", "mirror", "add-only", "audience"):
        with duckdb.connect(str(db)) as con:
            con.execute("drop schema if exists atc_sync cascade")
        syncs = make_syncs(mode)
        dest = ScriptedDestination()
        set_rows(db, people(7))
        run(db, syncs, dest, env)
        calls = dest.calls
        again = run(db, syncs, dest, env)
        assert dest.calls == calls, mode
        assert (again.added, again.changed, again.removed, again.unchanged) == (0, 0, 0, 7), mode
        assert again.status == "ok"


def test_plan_counts_changes_and_shows_samples_without_calling_the_destination(db, env):
    syncs = make_syncs("mirror")
    dest = ScriptedDestination()
    set_rows(db, people(3))
    run(db, syncs, dest, env)
    set_rows(db, [("p001", "x@example.com", "welcome"), ("p002", "p002@example.com", "welcome"), *people(2, start=5)])
    calls = dest.calls
    plan = plan_sync("users", db, syncs=syncs, registry=REGISTRY)
    assert dest.calls == calls
    assert plan.dry_run
    assert (plan.added, plan.changed, plan.removed, plan.unchanged) == (2, 1, 1, 1)
    changed = [s for s in plan.samples if s["change"] == "changed"][0]
    assert changed["payload"]["email"] == "x@example.com"
    assert changed["previous"]["email"] == "p001@example.com"
    # A plan writes no run and advances nothing: the run afterwards sees the same diff.
    assert query(db, "select count(*) from atc_sync.sync_runs where run_id = 'plan'") == [(0,)]
    real = run(db, syncs, dest, env)
    assert (real.added, real.changed, real.removed) == (2, 1, 1)


def test_per_record_rejections_are_recorded_counted_and_retried_next_run(db, env):
    syncs = make_syncs("upsert")
    dest = ScriptedDestination()
    dest.reject_keys = {"p002": "invalid email address", "p005": "user is blocked"}
    set_rows(db, people(6))
    first = run(db, syncs, dest, env)
    assert (first.rejected, first.acknowledged, first.status) == (2, 4, "partial")
    assert set(dest.tool.profiles) == {"p001", "p003", "p004", "p006"}
    rows = query(db, "select record_key, message, resolved_at from atc_sync.sync_rejections order by record_key")
    assert rows == [("p002", "invalid email address", None), ("p005", "user is blocked", None)]

    dest.reject_keys = {}
    second = run(db, syncs, dest, env)
    assert (second.added, second.rejected, second.acknowledged, second.retries) == (2, 0, 2, 2)
    assert dest.tool.profiles == expected_profiles(people(6))
    assert query(db, "select count(*) from atc_sync.sync_rejections where resolved_at is null") == [(0,)]
    runs = query(db, "select rejected, acknowledged, status from atc_sync.sync_runs order by started_at")
    assert runs == [(2, 4, "partial"), (0, 2, "ok")]


def test_invalid_rows_are_counted_apart_and_never_sent_or_removed(db, env):
    syncs = make_syncs("mirror")
    dest = ScriptedDestination()
    set_rows(db, people(3))
    run(db, syncs, dest, env)
    # p002 is now duplicated and one row has no key: neither may be sent, and
    # p002 must not be removed just because its rows are invalid today.
    set_rows(
        db,
        [*people(3), ("p002", "other@example.com", "welcome"), (None, "nokey@example.com", "welcome")],
    )
    calls = dest.calls
    result = run(db, syncs, dest, env)
    assert (result.invalid, result.rejected, result.removed, result.added) == (3, 0, 0, 0)
    assert dest.calls == calls
    assert "p002" in dest.tool.profiles
    invalid = query(
        db, "select reason_code, record_key, row_count from atc_sync.sync_invalid_rows order by reason_code"
    )
    assert invalid == [("duplicate_key", "p002", 2), ("null_key", None, 1)]
    assert query(db, "select count(*) from atc_sync.sync_rejections") == [(0,)]


def test_a_batch_refused_as_a_whole_is_halved_until_the_bad_record_is_isolated(db, env):
    syncs = make_syncs("upsert", batch_size=8)
    dest = ScriptedDestination()
    dest.poison_keys = {"p003"}
    set_rows(db, people(3))
    result = run(db, syncs, dest, env)
    assert result.rejected == 1
    assert result.acknowledged == 2
    assert set(dest.tool.profiles) == {"p001", "p002"}
    assert result.retries >= 2
    assert max(len(b.records) for b in dest.tool.calls) == 3
    assert query(db, "select record_key, message from atc_sync.sync_rejections") == [
        ("p003", "400 invalid request body")
    ]


def test_transient_failures_leave_the_batch_for_the_next_run(db, env):
    syncs = make_syncs("upsert")
    dest = ScriptedDestination()
    dest.transient_calls = {2}
    set_rows(db, people(9))
    first = run(db, syncs, dest, env)
    assert (first.acknowledged, first.status) == (6, "partial")
    assert "deferred" in first.error
    second = run(db, syncs, dest, env)
    assert (second.added, second.acknowledged, second.status) == (3, 3, "ok")
    assert dest.tool.profiles == expected_profiles(people(9))


def test_an_outage_stops_the_run_after_a_few_failed_batches(db, env):
    syncs = make_syncs("upsert")
    dest = ScriptedDestination()
    dest.transient_calls = set(range(1, 100))
    set_rows(db, people(30))
    result = run(db, syncs, dest, env)
    assert dest.calls == 3
    assert result.acknowledged == 0
    assert result.status == "partial"
    assert query(db, "select deferred from atc_sync.sync_runs") == [(30,)]


@pytest.mark.parametrize("crash_after", [0, 1, 3])
def test_a_crash_after_some_batches_then_a_rerun_loses_and_duplicates_nothing(db, env, crash_after):
    syncs = make_syncs("mirror")
    tool = FakeTool()
    set_rows(db, people(5))
    run(db, syncs, ScriptedDestination(tool), env)
    rows = [("p001", "changed@example.com", "welcome"), *people(3, start=2), *people(8, start=20)]
    set_rows(db, rows)  # 1 changed, 1 removed, 8 added: 4 batches

    dying = ScriptedDestination(tool)
    dying.crash_after_batches = crash_after
    with pytest.raises(Crash):
        run(db, syncs, dying, env)
    # State holds the batches acknowledged before the crash, not the one the
    # tool applied just before the process died.
    dying_batches = tool.calls[-(crash_after + 1) :]
    recorded = query(
        db,
        "select count(*) from atc_sync.sync_state where run_id in "
        "(select run_id from atc_sync.sync_runs where status = 'running')",
    )[0][0]
    assert recorded == sum(len(b.records) for b in dying_batches[:crash_after])

    rerun = run(db, syncs, ScriptedDestination(tool), env)
    assert rerun.status == "ok"
    assert tool.profiles == expected_profiles(rows)
    # Every change was applied exactly once: the re-sent batch carried the same
    # idempotency keys, and nothing acknowledged before the crash was sent again.
    applied = [(key, change) for key, change, _ in tool.applied]
    assert len(applied) == len(set(applied))
    assert set(applied) == (
        {(f"p{i:03d}", "added") for i in range(1, 6)}
        | {("p001", "changed"), ("p005", "removed")}
        | {(f"p{i:03d}", "added") for i in range(20, 28)}
    )
    resent = {r.key for b in tool.calls[-rerun.batches :] for r in b.records}
    assert resent.isdisjoint({r.key for b in dying_batches[:crash_after] for r in b.records})
    final = run(db, syncs, ScriptedDestination(tool), env)
    assert final.acknowledged == 0 and final.batches == 0


def test_a_mode_the_destination_cannot_honour_is_refused_when_the_config_loads(tmp_path):
    config = tmp_path / "syncs.yml"
    config.write_text(
        """
version: 1
syncs:
  users_mirror:
    model: sync_upsert_only__users
    destination: upsert_only
    object: profile
    mode: mirror
    primary_key: person_id
    fields: {email: email}
"""
    )
    with pytest.raises(ConfigurationError, match=r"sync 'users_mirror': mode: upsert_only cannot honour mode 'mirror'"):
        load_config(config, registry=REGISTRY)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "sometimes"}, r"sync 'users': mode: Input should be"),
        ({"object": "ticket"}, r"sync 'users': object: scripted does not accept 'ticket'"),
        ({"destination": "fax"}, r"sync 'users': destination: unknown destination 'fax'"),
        ({"fields": {}}, r"sync 'users': fields:"),
        ({"credentials": {"api_key": SECRET}}, r"sync 'users': credentials: .*must name an environment variable"),
        ({"batch_size": 0}, r"sync 'users': batch_size:"),
        ({"mode": "audience"}, r"sync 'users': .*audience_field"),
        ({"colour": "blue"}, r"sync 'users': colour: Extra inputs are not permitted"),
    ],
)
def test_an_invalid_sync_is_refused_with_its_name_and_field(change, message):
    body = {
        "model": "sync_scripted__users",
        "destination": "scripted",
        "object": "profile",
        "mode": "upsert",
        "primary_key": "person_id",
        "fields": {"email": "email"},
        **change,
    }
    with pytest.raises(ConfigurationError, match=message) as info:
        parse_config({"syncs": {"users": body}}, registry=REGISTRY)
    assert SECRET not in str(info.value)


def test_a_missing_credential_is_a_configuration_error_naming_the_variable(db, monkeypatch):
    monkeypatch.delenv("ATC_TEST_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ATC_TEST_API_KEY is not set"):
        run_sync("users", db, syncs=make_syncs(), destination=ScriptedDestination(), registry=REGISTRY, env={})


def test_a_missing_model_column_is_named(db, env):
    syncs = make_syncs("upsert", fields={"phone": "phone_e164"})
    with pytest.raises(ConfigurationError, match=r"fields.phone: column 'phone_e164' is not in"):
        run(db, syncs, ScriptedDestination(), env)


def test_no_credential_value_reaches_logs_output_or_warehouse_tables(db, env, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    syncs = make_syncs("upsert")
    dest = ScriptedDestination()
    dest.echo_secret = True  # a careless vendor message quoting the key
    dest.poison_keys = {"p002"}
    dest.reject_keys = {"p004": f"bad record, key={SECRET}"}
    set_rows(db, people(6))
    result = run(db, syncs, dest, env)
    assert result.rejected == 2
    out = capsys.readouterr()
    assert SECRET not in caplog.text + out.out + out.err
    assert SECRET not in json.dumps(result.__dict__, default=str)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'atc_sync'"
        ).fetchall()
        assert len(tables) == 5
        for (table,) in tables:
            dump = repr(con.execute(f"select * from atc_sync.{table}").fetchall())
            assert SECRET not in dump, table
    messages = query(db, "select message from atc_sync.sync_rejections order by record_key")
    assert messages == [("400 invalid request body (key ***)",), ("bad record, key=***",)]


def test_last_runs_reports_the_latest_run_of_each_sync(db, env):
    syncs = make_syncs("upsert")
    dest = ScriptedDestination()
    assert last_runs(db) == []
    set_rows(db, people(2))
    run(db, syncs, dest, env)
    set_rows(db, people(3))
    run(db, syncs, dest, env)
    runs = last_runs(db)
    assert len(runs) == 1
    assert (runs[0]["sync_name"], runs[0]["added"], runs[0]["unchanged"], runs[0]["status"]) == ("users", 1, 2, "ok")


def test_an_unreachable_destination_fails_the_run_before_anything_is_sent(db, env):
    class Unreachable(ScriptedDestination):
        def check(self) -> None:
            raise TransientError("connection refused")

    set_rows(db, people(2))
    dest = Unreachable()
    result = run(db, make_syncs(), dest, env)
    assert (result.status, result.acknowledged, dest.calls) == ("failed", 0, 0)
    assert "unreachable" in result.error
    again = run(db, make_syncs(), ScriptedDestination(), env)
    assert again.added == 2 and again.acknowledged == 2


# -- acknowledgements: the audit trail and the guardrails' ledger ------------------------

LEDGER = {"person_id": "person_id", "journey_id": "journey_id", "channel": "channel", "message_key": "send_key"}


def set_sends(db: Path, rows: list[tuple]) -> None:
    """Rows of a message sync: (person_id, email, journey_id, channel, send_key)."""
    with duckdb.connect(str(db)) as con:
        con.execute(
            "create or replace table main.sync_scripted__sends "
            "(person_id varchar, email varchar, journey_id varchar, channel varchar, send_key varchar)"
        )
        if rows:
            con.executemany("insert into main.sync_scripted__sends values (?, ?, ?, ?, ?)", rows)


def sends(n: int, start: int = 1) -> list[tuple]:
    """Odd people are sent now (a send key); even ones are deferred (none)."""
    return [
        (f"p{i:03d}", f"p{i:03d}@example.com", "welcome", "email", f"key-{i}" if i % 2 else None)
        for i in range(start, start + n)
    ]


def send_syncs(mode: str = "mirror", ledger: dict | None = LEDGER) -> dict:
    extra = {"ledger": ledger} if ledger is not None else {}
    return make_syncs(mode, model="sync_scripted__sends", **extra)


def acknowledgements(db: Path) -> list[tuple]:
    return query(
        db,
        "select record_key, change_type, action, person_id, journey_id, channel, message_key "
        "from atc_sync.sync_acknowledgements order by acknowledged_at, record_key, action = 'added'",
    )


def test_each_acknowledged_record_is_written_once_with_its_ledger_columns(db, env):
    set_sends(db, sends(4))
    result = run(db, send_syncs(), ScriptedDestination(), env)
    assert result.acknowledged == 4
    assert acknowledgements(db) == [
        ("p001", "added", "added", "p001", "welcome", "email", "key-1"),
        ("p002", "added", "added", "p002", "welcome", "email", None),
        ("p003", "added", "added", "p003", "welcome", "email", "key-3"),
        ("p004", "added", "added", "p004", "welcome", "email", None),
    ]
    # Each acknowledgement matches the state it advanced, in the same run, with the same key.
    assert query(
        db,
        "select count(*) from atc_sync.sync_state as s inner join atc_sync.sync_acknowledgements as a "
        "on s.sync_name = a.sync_name and s.record_key = a.record_key and s.run_id = a.run_id "
        "and s.idempotency_key = a.idempotency_key and s.payload_hash = a.payload_hash",
    ) == [(4,)]

    # A second run with nothing changed acknowledges nothing; a removal carries no ledger values.
    run(db, send_syncs(), ScriptedDestination(), env)
    assert len(acknowledgements(db)) == 4
    set_sends(db, sends(3))
    run(db, send_syncs(), ScriptedDestination(), env)
    assert acknowledgements(db)[-1] == ("p004", "removed", "removed", None, None, None, None)


def test_a_sync_without_a_ledger_mapping_still_leaves_its_audit_trail(db, env):
    set_sends(db, sends(2))
    run(db, send_syncs(ledger=None), ScriptedDestination(), env)
    assert acknowledgements(db) == [
        ("p001", "added", "added", None, None, None, None),
        ("p002", "added", "added", None, None, None, None),
    ]


def test_refused_and_transiently_failed_records_are_not_acknowledged(db, env):
    set_sends(db, sends(7))
    dest = ScriptedDestination()
    dest.transient_calls = {1}  # p001..p003 fail transiently
    dest.reject_keys = {"p005": "invalid email"}
    result = run(db, send_syncs(), dest, env)
    assert (result.acknowledged, result.rejected) == (3, 1)
    assert [row[0] for row in acknowledgements(db)] == ["p004", "p006", "p007"]


@pytest.mark.parametrize("crash_after", [0, 1])
def test_a_batch_killed_before_its_acknowledgement_was_recorded_writes_none(db, env, crash_after):
    set_sends(db, sends(5))  # two batches of three and two
    tool = FakeTool()
    dying = ScriptedDestination(tool)
    dying.crash_after_batches = crash_after
    with pytest.raises(Crash):
        run(db, send_syncs(), dying, env)
    # The tool applied the batch the process died in; neither its state nor its acknowledgement was written.
    recorded = [row[0] for row in acknowledgements(db)]
    assert recorded == ["p001", "p002", "p003"][: 3 * crash_after]
    assert query(db, "select count(*) from atc_sync.sync_state") == [(len(recorded),)]

    run(db, send_syncs(), ScriptedDestination(tool), env)
    after = acknowledgements(db)
    assert sorted(row[0] for row in after) == [f"p{i:03d}" for i in range(1, 6)]  # each key exactly once
    assert {row[0]: row[6] for row in after} == {f"p{i:03d}": (f"key-{i}" if i % 2 else None) for i in range(1, 6)}


def test_an_audience_member_whose_fields_changed_is_acknowledged_as_a_removal_then_an_add(db, env):
    syncs = make_syncs("audience", model="sync_scripted__sends", ledger=LEDGER)
    set_sends(db, sends(1))
    run(db, syncs, ScriptedDestination(), env)
    set_sends(db, [("p001", "new@example.com", "welcome", "email", "key-1")])
    run(db, syncs, ScriptedDestination(), env)
    assert acknowledgements(db)[1:] == [
        ("p001", "changed", "removed", None, None, None, None),
        ("p001", "changed", "added", "p001", "welcome", "email", "key-1"),
    ]


@pytest.mark.parametrize(
    ("ledger", "message"),
    [
        (
            {**LEDGER, "campaign": "journey_id"},
            r"sync 'users': ledger: unknown ledger field\(s\) 'campaign' \(known: person_id, journey_id, channel, "
            r"message_key\)",
        ),
        ({"person_id": "person_id", "channel": "channel"}, r"sync 'users': ledger: .*message_key is missing"),
        ({**LEDGER, "channel": "Channel Name"}, r"sync 'users': ledger: ledger field 'channel' maps to 'Channel Name'"),
        (["person_id", "channel"], r"sync 'users': ledger: Input should be a valid dictionary"),
    ],
)
def test_a_bad_ledger_mapping_is_refused_when_the_config_loads(ledger, message):
    body = {
        "model": "sync_scripted__sends",
        "destination": "scripted",
        "object": "profile",
        "mode": "upsert",
        "primary_key": "person_id",
        "fields": {"email": "email"},
        "ledger": ledger,
    }
    with pytest.raises(ConfigurationError, match=message):
        parse_config({"syncs": {"users": body}}, registry=REGISTRY)


def test_a_ledger_column_missing_from_the_model_is_named_before_anything_is_sent(db, env):
    set_sends(db, sends(2))
    dest = ScriptedDestination()
    syncs = send_syncs(ledger={**LEDGER, "message_key": "idempotency_key"})
    with pytest.raises(
        ConfigurationError,
        match=r"sync 'users': ledger.message_key: column 'idempotency_key' is not in main.sync_scripted__sends",
    ):
        run(db, syncs, dest, env)
    assert dest.calls == 0


# -- entities written by the warehouse ---------------------------------------------------


class RenderingDestination(ScriptedDestination):
    """Also takes new profiles whose entities DuckDB wrote (``render_sql`` / ``write_rendered``)."""

    limits: ClassVar[DestinationLimits] = DestinationLimits(max_batch_size=3)

    def __init__(self, tool: FakeTool | None = None) -> None:
        super().__init__(tool)
        self.rendered_calls: list[list[dict]] = []

    def render_sql(self, object: str, mode: str, fields):
        from activation.protocol import RenderSpec

        return RenderSpec(
            entity={"added": "'{\"key\":' || cast(to_json(record_key) as varchar) || ',\"payload\":' || payload || '}'"}
        )

    def write_rendered(self, batch) -> dict[int, str]:
        self.calls += 1
        entities = json.loads("[" + batch.entities + "]")
        assert len(entities) == batch.count and batch.action == "added"
        self.rendered_calls.append(entities)
        if self.calls in self.transient_calls:
            raise TransientError("503 Service Unavailable", status=503)
        if any(e["key"] in self.poison_keys for e in entities):
            raise BatchRejected("400 invalid request body", status=400)
        for e in entities:
            if e["key"] not in self.reject_keys:
                self.tool.profiles[e["key"]] = e["payload"]
        return {i: self.reject_keys[e["key"]] for i, e in enumerate(entities) if e["key"] in self.reject_keys}


def test_new_records_go_as_entities_the_warehouse_wrote_and_are_acknowledged_once(db, env):
    syncs = make_syncs("mirror")
    dest = RenderingDestination()
    set_rows(db, people(7))
    result = run(db, syncs, dest, env)
    assert (result.status, result.added, result.acknowledged, result.batches) == ("ok", 7, 7, 3)
    assert [len(c) for c in dest.rendered_calls] == [3, 3, 1] and dest.tool.calls == []  # no Record built
    assert dest.tool.profiles == expected_profiles(people(7))
    assert query(db, "select count(*), count(distinct record_key) from atc_sync.sync_acknowledgements") == [(7, 7)]
    # Changes and removals are not rendered by this destination: they go through write.
    set_rows(db, [("p001", "new@example.com", "welcome"), *people(5, start=2)])
    again = run(db, syncs, dest, env)
    assert (again.changed, again.removed, again.acknowledged) == (1, 1, 2)
    assert dest.tool.profiles["p001"]["email"] == "new@example.com" and "p007" not in dest.tool.profiles


def test_a_refused_rendered_batch_is_split_and_only_the_bad_record_is_held_back(db, env):
    syncs = make_syncs("upsert")
    dest = RenderingDestination()
    dest.poison_keys = {"p002"}
    dest.reject_keys = {"p006": "invalid email"}
    set_rows(db, people(6))
    result = run(db, syncs, dest, env)
    assert (result.acknowledged, result.rejected, result.status) == (4, 2, "partial")
    assert set(dest.tool.profiles) == {"p001", "p003", "p004", "p005"}
    rejections = dict(query(db, "select record_key, message from atc_sync.sync_rejections"))
    assert set(rejections) == {"p002", "p006"}
    assert "400" in rejections["p002"] and rejections["p006"] == "invalid email"
    # The next run sends the two again, and nothing else.
    dest.poison_keys, dest.reject_keys = set(), {}
    again = run(db, syncs, dest, env)
    assert (again.added, again.acknowledged, again.status) == (2, 2, "ok")
    assert query(db, "select count(*) from atc_sync.sync_rejections where resolved_at is null") == [(0,)]


def test_a_rendered_batch_that_fails_transiently_is_left_for_the_next_run(db, env):
    syncs = make_syncs("upsert")
    dest = RenderingDestination()
    dest.transient_calls = {2}
    set_rows(db, people(7))
    result = run(db, syncs, dest, env)
    assert (result.acknowledged, result.status) == (4, "partial")
    again = run(db, syncs, dest, env)
    assert (again.added, again.acknowledged, again.status) == (3, 3, "ok")
    assert dest.tool.profiles == expected_profiles(people(7))


class RefusesItsRenderSetting(ScriptedDestination):
    """Offers warehouse rendering, but a setting it reads there is wrong (an unknown identifier)."""

    def render_sql(self, object, mode, fields):
        raise ConfigurationError(f"identifier 'phone' is not one of email, id (key {SECRET})")

    def write_rendered(self, batch):
        raise AssertionError("never reached")


def test_a_setting_the_rendering_refuses_ends_the_run_as_failed_not_running(db, env):
    set_rows(db, people(3))
    dest = RefusesItsRenderSetting()
    result = run(db, make_syncs("upsert"), dest, env)
    assert result.status == "failed"
    assert "configuration error" in result.error and "identifier 'phone'" in result.error
    assert SECRET not in result.error
    assert dest.calls == 0
    runs = query(db, "select status, error from atc_sync.sync_runs")
    assert [status for status, _ in runs] == ["failed"]
    assert SECRET not in runs[0][1]


class WatchesThreads(ScriptedDestination):
    """Notes DuckDB's threads setting, as another connection to the warehouse sees it, at each write."""

    def __init__(self, watcher: duckdb.DuckDBPyConnection) -> None:
        super().__init__()
        self.watcher = watcher
        self.threads_seen: list[int] = []

    def write(self, batch: Batch) -> list[RecordResult]:
        self.threads_seen.append(int(self.watcher.execute("select current_setting('threads')").fetchone()[0]))
        return super().write(batch)


def test_a_run_reports_where_its_time_went_and_puts_duckdbs_threads_back(db, env):
    set_rows(db, people(7))
    # A connection open in the same process shares the database, and with it the threads setting.
    with duckdb.connect(str(db)) as watcher:
        watcher.execute("set threads = 3")
        dest = WatchesThreads(watcher)
        result = run(db, make_syncs("upsert"), dest, env)
        after = int(watcher.execute("select current_setting('threads')").fetchone()[0])
    assert result.status == "ok" and result.acknowledged == 7
    assert dest.threads_seen == [1, 1, 1]  # one DuckDB thread while the batches went out
    assert after == 3  # and the setting the run found, afterwards
    stages = result.stage_seconds
    assert list(stages) == ["diff", "sending", "finishing"]
    assert all(seconds >= 0 for seconds in stages.values())
    assert stages["diff"] > 0 and stages["sending"] > 0
    assert sum(stages.values()) == pytest.approx(result.seconds, abs=0.005)


def test_a_run_that_stops_or_has_nothing_to_send_leaves_duckdbs_threads_as_it_found_them(db, env):
    set_rows(db, people(7))
    with duckdb.connect(str(db)) as watcher:
        watcher.execute("set threads = 3")
        outage = WatchesThreads(watcher)
        outage.transient_calls = {1, 2, 3}  # an outage: the run stops, nothing acknowledged
        stopped = run(db, make_syncs("upsert"), outage, env)
        assert (stopped.status, stopped.acknowledged) == ("partial", 0)
        assert outage.threads_seen and set(outage.threads_seen) == {1}
        assert int(watcher.execute("select current_setting('threads')").fetchone()[0]) == 3

        dying = WatchesThreads(watcher)
        dying.crash_after_batches = 0  # an exception out of the sending
        with pytest.raises(Crash):
            run(db, make_syncs("upsert"), dying, env)
        assert dying.threads_seen == [1]
        assert int(watcher.execute("select current_setting('threads')").fetchone()[0]) == 3

        dest = WatchesThreads(watcher)
        run(db, make_syncs("upsert"), dest, env)
        again = run(db, make_syncs("upsert"), dest, env)  # nothing changed: nothing to send
        assert again.unchanged == 7 and again.acknowledged == 0
        assert int(watcher.execute("select current_setting('threads')").fetchone()[0]) == 3
    assert list(stopped.stage_seconds) == ["diff", "sending", "finishing"]
    assert plan_sync("users", db, syncs=make_syncs("upsert"), registry=REGISTRY).stage_seconds == {}


def test_the_cli_summary_shows_where_each_run_spent_its_seconds():
    from rich.console import Console

    from activation.protocol import SyncRunResult
    from journey_atc.cli_sync import _summary_table

    ran = SyncRunResult("users", "scripted", "r1", dry_run=False, seconds=3.4)
    ran.stage_seconds = {"diff": 0.64, "sending": 2.27, "finishing": 0.49}
    console = Console(width=220, record=True)
    console.print(_summary_table("Sync runs", [ran, SyncRunResult("other", "scripted", "r2", dry_run=False)]))
    text = console.export_text()
    assert "diff/send/finish s" in text
    assert "0.6 / 2.3 / 0.5" in text
