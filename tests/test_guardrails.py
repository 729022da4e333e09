"""Guardrails: send, defer or drop for every person in a journey, with a reason.

Most tests skip the layers before guardrails: they write the few upstream
relations the guardrails read (profiles, journey_assignments, the stitched
message and product events, the identity map) as plain tables with
hand-made rows, load the seeds, and build only the guardrails models.
Scenarios that share a moment share one world (one person per scenario) and
one dbt run, because a dbt invocation costs far more than a person. The unsubscribe scenario goes
through the whole pipeline from raw rows, because the point there is that a
raw unsubscribe reaches the guardrails on the very next run.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.slow

# The columns of each upstream relation the guardrails read, with types.
UPSTREAM: dict[str, dict[str, str]] = {
    "profiles": {
        "person_id": "varchar",
        "email": "varchar",
        "email_status": "varchar",
        "has_valid_email": "boolean",
        "phone_e164": "varchar",
        "phone_status": "varchar",
        "has_valid_phone": "boolean",
        "timezone": "varchar",
        "region": "varchar",
        "has_app_device": "boolean",
        "last_engaged_at": "timestamp",
        "has_email_consent": "boolean",
        "has_sms_consent": "boolean",
        "has_push_consent": "boolean",
        "has_whatsapp_consent": "boolean",
    },
    "journey_assignments": {
        "person_id": "varchar",
        "journey_id": "varchar",
        "entered_at": "timestamp",
        "expected_end_at": "timestamp",
        "score": "double",
        "channel": "varchar",
        "is_holdout": "boolean",
    },
    "int_message_events_stitched": {
        "message_event_id": "varchar",
        "message_id": "varchar",
        "channel": "varchar",
        "journey_id": "varchar",
        "event_type": "varchar",
        "occurred_at": "timestamp",
        "person_id": "varchar",
    },
    "int_events_stitched": {
        "event_id": "varchar",
        "person_id": "varchar",
        "event_name": "varchar",
        "occurred_at": "timestamp",
    },
    "identity_person_map": {"node": "varchar", "person_id": "varchar"},
}

GUARDRAIL_SEEDS = ["journeys", "iana_timezones", "channel_policies", "category_caps", "holidays"]
GUARDRAIL_SEEDS += ["volume_ramp", "suppression_list"]


def person(person_id: str, **overrides) -> dict:
    """A profile reachable everywhere (valid email and phone, the app, every consent) unless overridden."""
    row = {
        "person_id": person_id,
        "email": f"{person_id}@example.com",
        "email_status": "valid",
        "has_valid_email": True,
        "phone_e164": "+12025550100",
        "phone_status": "valid",
        "has_valid_phone": True,
        "timezone": "America/New_York",
        "region": "US",
        "has_app_device": True,
        "last_engaged_at": "2026-10-30 12:00:00",
        "has_email_consent": True,
        "has_sms_consent": True,
        "has_push_consent": True,
        "has_whatsapp_consent": True,
    }
    row.update(overrides)
    return row


def assignment(
    person_id: str,
    journey_id: str,
    channel: str | None,
    entered_at: str = "2026-11-01 00:00:00",
    *,
    is_holdout: bool = False,
    score: float = 1.0,
) -> dict:
    return {
        "person_id": person_id,
        "journey_id": journey_id,
        "entered_at": entered_at,
        "expected_end_at": "2026-12-31 00:00:00",
        "score": score,
        "channel": channel,
        "is_holdout": is_holdout,
    }


def sent(event_id: str, person_id: str, channel: str, at: str, journey_id: str | None = "pre_show") -> dict:
    """A message a channel tool reported as sent."""
    return {
        "message_event_id": event_id,
        "message_id": f"msg-{event_id}",
        "channel": channel,
        "journey_id": journey_id,
        "event_type": "sent",
        "occurred_at": at,
        "person_id": person_id,
    }


class Guardrails:
    """Hand-made upstream tables in a warehouse, and the guardrails built on them."""

    def __init__(self, warehouse):
        self.warehouse = warehouse
        with warehouse.connect() as con:
            for table, columns in UPSTREAM.items():
                cols = ", ".join(f"{name} {kind}" for name, kind in columns.items())
                con.execute(f"create or replace table main.{table} ({cols})")
        warehouse.dbt("seed", "--select", *GUARDRAIL_SEEDS)

    def add(self, table: str, rows: list[dict]) -> None:
        columns = list(UPSTREAM[table])
        if not rows:
            return
        with self.warehouse.connect() as con:
            con.executemany(
                f"insert into main.{table} ({', '.join(columns)}) values ({', '.join('?' for _ in columns)})",
                [[row.get(c) for c in columns] for row in rows],
            )

    def execute(self, sql: str) -> None:
        with self.warehouse.connect() as con:
            con.execute(sql)

    def decide(self, as_of: str, *, test: bool = False, **dbt_vars) -> None:
        """Build the guardrails at as_of (and run their data and unit tests when asked)."""
        command = "build" if test else "run"
        args = [command, "--select", "guardrails"]
        if test:
            args += ["--exclude-resource-type", "seed"]
        self.warehouse.dbt(*args, dbt_vars={"atc__as_of": as_of, **dbt_vars})

    def decisions(self) -> dict[str, dict]:
        rows = self.warehouse.query_dicts("select * from guardrail_decisions order by person_id")
        return {r["person_id"]: r for r in rows}

    def log(self, person_id: str) -> list[dict]:
        return self.warehouse.query_dicts(
            "select * from guardrail_decision_log where person_id = ? order by decided_at, decision_id", [person_id]
        )


@pytest.fixture
def guardrails(warehouse) -> Guardrails:
    return Guardrails(warehouse)


def new_world(tmp_path_factory, name: str) -> Guardrails:
    from conftest import Warehouse

    return Guardrails(Warehouse(Path(tmp_path_factory.mktemp(name))))


def local(ts: datetime, zone: str) -> datetime:
    return ts.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(zone)).replace(tzinfo=None)


# One afternoon: 16:00 UTC on Monday 2 November 2026 is 11:00 in New York.
AFTERNOON = "2026-11-02 16:00:00"
EMAIL_PROBLEMS = {
    "typo": ({"email_status": "typo_domain", "has_valid_email": False}, "invalid_address"),
    "disposable": ({"email_status": "disposable", "has_valid_email": False}, "invalid_address"),
    "role": ({"email_status": "role_account", "has_valid_email": False}, "invalid_address"),
    "bounced": ({"email_status": "bounced", "has_valid_email": False}, "suppressed"),
    "complained": ({"email_status": "complained", "has_valid_email": False}, "suppressed"),
    "unconsented": ({"has_email_consent": False}, "no_consent"),
}


@pytest.fixture(scope="module")
def afternoon(tmp_path_factory) -> dict[str, dict]:
    """One run with a person per scenario; the build also runs the guardrails' data and unit tests."""
    g = new_world(tmp_path_factory, "afternoon")
    no_email = {"has_valid_email": False, "email_status": "invalid_syntax"}
    people = [
        person("push4", **no_email),
        person("push2", **no_email),
        person("promo"),
        person("ticket"),
        person("silent", has_email_consent=False, has_app_device=False, has_valid_phone=False, phone_status=None),
        person(
            "badphone",
            has_valid_phone=False,
            phone_status="invalid_format",
            has_valid_email=False,
            email_status=None,
            has_app_device=False,
        ),
        person("listed", email="abuse@example.com", has_app_device=False, has_valid_phone=False),
        person("no_email_please"),
        person("holdout"),
        person("goal"),
    ]
    people += [person(f"mail_{name}", has_app_device=False, **o) for name, (o, _) in EMAIL_PROBLEMS.items()]
    g.add("profiles", people)
    g.add(
        "journey_assignments",
        [
            # welcome prefers email, which they cannot receive, so it asks for push
            assignment("push4", "welcome", "push"),
            assignment("push2", "welcome", "push"),
            assignment("promo", "win_back", "email"),
            assignment("ticket", "pre_show", "email"),
            assignment("silent", "abandoned_cart", "email"),
            assignment("badphone", "win_back", "sms"),
            assignment("listed", "pre_show", "email"),
            assignment("no_email_please", "pre_show", "email"),
            assignment("holdout", "welcome", None, is_holdout=True),
            assignment("goal", "abandoned_cart", "email"),
            *[assignment(f"mail_{name}", "win_back", "email") for name in EMAIL_PROBLEMS],
        ],
    )
    g.add(
        "int_message_events_stitched",
        [
            # three pushes today, the last five hours ago
            sent("a1", "push4", "push", "2026-11-02 01:00:00"),
            sent("a2", "push4", "push", "2026-11-02 05:00:00"),
            sent("a3", "push4", "push", "2026-11-02 11:00:00"),
            sent("b1", "push2", "push", "2026-11-02 09:00:00"),
            # a promotional email this morning for each (promotional: one a day)
            sent("c1", "promo", "email", "2026-11-02 09:30:00", journey_id="browse_abandonment"),
            sent("c2", "ticket", "email", "2026-11-02 09:30:00", journey_id="browse_abandonment"),
        ],
    )
    g.add(
        "int_events_stitched",
        [
            {
                "event_id": "e1",
                "person_id": "goal",
                "event_name": "order_completed",
                "occurred_at": "2026-11-02 15:00:00",
            }
        ],
    )
    g.execute(
        "insert into suppression_list values "
        "('person_id', 'no_email_please', 'email', 'Asked by phone', '2026-11-01 00:00:00')"
    )
    g.decide(AFTERNOON, test=True)
    return g.decisions()


def test_the_fourth_push_of_the_day_falls_back_to_the_inbox_message(afternoon):
    """With the shipped policy (three pushes a day) the push after the third goes to the in-app inbox."""
    d = afternoon["push4"]
    assert (d["decision"], d["channel"], d["is_fallback"]) == ("send", "in_app", True)
    assert d["reason_code"] == "daily_cap"
    assert d["requested_channel"] == "push"
    assert d["blocked_by"] == "1:push:daily_cap"


def test_a_push_under_the_daily_cap_is_sent_as_push(afternoon):
    d = afternoon["push2"]
    assert (d["decision"], d["channel"], d["reason_code"], d["is_fallback"]) == ("send", "push", "ok", False)


def test_a_promotion_over_its_category_cap_waits_while_a_transactional_message_goes(afternoon):
    promo, ticket = afternoon["promo"], afternoon["ticket"]
    assert (promo["decision"], promo["reason_code"]) == ("defer", "category_cap")
    # the morning email leaves the rolling day at 09:30 UTC tomorrow, which is 04:30 in
    # New York: the first moment every rule allows is the 09:00 window opening
    assert promo["next_eligible_at"] == datetime(2026, 11, 3, 14, 0)
    assert (ticket["decision"], ticket["reason_code"], ticket["is_exempt"]) == ("send", "ok", True)


def test_when_every_channel_is_blocked_for_good_the_journey_goes_silent(afternoon):
    d = afternoon["silent"]
    assert (d["decision"], d["reason_code"], d["channel"], d["next_eligible_at"]) == (
        "drop",
        "silent_enrichment",
        None,
        None,
    )
    # every channel was tried, each with its reason
    assert d["blocked_by"] == "1:email:no_consent,2:push:invalid_address,3:sms:invalid_address,4:in_app:invalid_address"


@pytest.mark.parametrize("problem", sorted(EMAIL_PROBLEMS))
def test_an_email_that_cannot_be_used_falls_back_to_sms_and_says_why(afternoon, problem):
    d = afternoon[f"mail_{problem}"]
    # win_back prefers email, then sms
    assert (d["decision"], d["channel"], d["is_fallback"]) == ("send", "sms", True)
    assert d["reason_code"] == EMAIL_PROBLEMS[problem][1]


def test_a_phone_that_is_not_valid_e164_is_unreachable(afternoon):
    d = afternoon["badphone"]
    assert (d["decision"], d["reason_code"]) == ("drop", "silent_enrichment")
    assert d["blocked_by"].startswith("1:sms:invalid_address")


def test_people_and_addresses_on_the_suppression_list_are_never_messaged(afternoon):
    listed, ok = afternoon["listed"], afternoon["no_email_please"]
    # abuse@example.com is on the shipped list for every channel
    assert (listed["decision"], listed["reason_code"]) == ("drop", "silent_enrichment")
    assert listed["blocked_by"].startswith("1:email:suppressed")
    # suppressed for email only: the transactional pre_show goes by push instead
    assert (ok["decision"], ok["channel"], ok["reason_code"]) == ("send", "push", "suppressed")


def test_a_control_group_member_is_never_sent(afternoon):
    d = afternoon["holdout"]
    assert (d["decision"], d["reason_code"], d["channel"], d["requested_channel"]) == (
        "drop",
        "holdout",
        None,
        "email",
    )


def test_a_person_who_reached_the_goal_is_not_messaged(afternoon):
    assert (afternoon["goal"]["decision"], afternoon["goal"]["reason_code"]) == ("drop", "goal_met")


# Evenings and holidays: three runs on one world.


@pytest.fixture(scope="module")
def evenings(tmp_path_factory) -> dict[str, dict[str, dict]]:
    g = new_world(tmp_path_factory, "evenings")
    g.add(
        "profiles",
        [
            person("ny"),
            person("ldn", timezone="Europe/London", region="GB"),
            person("nowhere", timezone=None),
            person("mars", timezone="Mars/Olympus"),
            person("us"),
            person("gb", timezone="Europe/London", region="GB"),
        ],
    )
    g.add(
        "journey_assignments",
        [
            assignment("ny", "welcome", "email"),
            assignment("ldn", "welcome", "email", "2026-03-28 00:00:00"),
            assignment("nowhere", "welcome", "email"),
            assignment("mars", "welcome", "email"),
            assignment("us", "win_back", "email", "2026-11-25 00:00:00"),
            assignment("gb", "win_back", "email", "2026-11-25 00:00:00"),
        ],
    )
    runs = {}
    for as_of in ("2026-11-03 03:30:00", "2026-03-28 22:30:00", "2026-11-26 16:00:00"):
        g.decide(as_of)
        runs[as_of] = g.decisions()
    return runs


def test_an_email_due_at_22_30_local_is_deferred_to_09_00_the_next_local_morning(evenings):
    ny = evenings["2026-11-03 03:30:00"]["ny"]  # 22:30 on 2 November in New York (EST)
    assert (ny["decision"], ny["channel"], ny["reason_code"]) == ("defer", "email", "quiet_hours")
    assert ny["next_eligible_at"] == datetime(2026, 11, 3, 14, 0)
    assert local(ny["next_eligible_at"], "America/New_York") == datetime(2026, 11, 3, 9, 0)

    # 22:30 GMT in London, the night British Summer Time starts
    ldn = evenings["2026-03-28 22:30:00"]["ldn"]
    assert (ldn["decision"], ldn["reason_code"]) == ("defer", "quiet_hours")
    # 09:00 on the first morning of summer time is 08:00 UTC, not 09:00
    assert ldn["next_eligible_at"] == datetime(2026, 3, 29, 8, 0)
    assert local(ldn["next_eligible_at"], "Europe/London") == datetime(2026, 3, 29, 9, 0)


def test_a_missing_or_unknown_time_zone_uses_the_default_zone_not_no_quiet_hours(evenings):
    for person_id in ("nowhere", "mars"):
        d = evenings["2026-11-03 03:30:00"][person_id]
        assert d["timezone"] == "America/New_York"
        assert (d["decision"], d["reason_code"]) == ("defer", "quiet_hours")
        # 09:00 in New York, not 09:00 UTC
        assert d["next_eligible_at"] == datetime(2026, 11, 3, 14, 0)


def test_no_promotion_is_sent_on_a_public_holiday_in_the_persons_region(evenings):
    run = evenings["2026-11-26 16:00:00"]  # Thanksgiving, 11:00 in New York
    us, gb = run["us"], run["gb"]
    assert (us["decision"], us["reason_code"]) == ("defer", "holiday")
    assert us["next_eligible_at"] == datetime(2026, 11, 27, 14, 0)
    assert (gb["decision"], gb["reason_code"]) == ("send", "ok")


def test_the_third_push_of_the_day_falls_back_to_the_inbox_message_and_the_ramp_serves_the_engaged_first(
    tmp_path_factory,
):
    """A world with tighter policies: two pushes a day, and email warming up at two sends today."""
    g = new_world(tmp_path_factory, "tight")
    g.execute("update channel_policies set daily_cap = 2 where channel = 'push'")
    g.execute("insert into volume_ramp values ('email', '2026-11-02', 2)")
    warm = [person(f"warm{i}", last_engaged_at=f"2026-10-{10 + i:02d} 12:00:00") for i in range(5)]
    g.add("profiles", [person("pusher", has_valid_email=False, email_status="invalid_syntax"), *warm])
    g.add(
        "journey_assignments",
        [assignment("pusher", "welcome", "push"), *[assignment(p["person_id"], "welcome", "email") for p in warm]],
    )
    g.add(
        "int_message_events_stitched",
        [sent("t1", "pusher", "push", "2026-11-02 09:00:00"), sent("t2", "pusher", "push", "2026-11-02 11:00:00")],
    )

    g.decide(AFTERNOON)
    decisions = g.decisions()

    pusher = decisions["pusher"]
    assert (pusher["decision"], pusher["channel"], pusher["reason_code"]) == ("send", "in_app", "daily_cap")

    sent_now = sorted(p for p, d in decisions.items() if d["decision"] == "send" and d["channel"] == "email")
    assert sent_now == ["warm3", "warm4"], "the two most recently engaged go first"
    for p in ("warm0", "warm1", "warm2"):
        d = decisions[p]
        assert (d["decision"], d["reason_code"], d["channel"]) == ("defer", "ramp_limit", "email")
        # the next UTC day starts at 19:00 New York time, inside the email window
        assert d["next_eligible_at"] == datetime(2026, 11, 3, 0, 0)


def test_the_same_decision_re_run_ten_times_is_sent_once(guardrails):
    guardrails.add("profiles", [person("p")])
    guardrails.add("journey_assignments", [assignment("p", "welcome", "email")])

    # retries of the 10:00 New York run, then later runs of the same journey step
    runs = ["2026-11-02 15:00:00"] * 3 + ["2026-11-02 15:05:00"] * 2 + ["2026-11-02 15:30:00"] * 2
    runs += ["2026-11-02 16:00:00"] * 3
    keys = set()
    for as_of in runs:
        guardrails.decide(as_of)
        keys.add(guardrails.decisions()["p"]["idempotency_key"])

    log = guardrails.log("p")
    assert len(keys) == 1, "the idempotency key must not depend on as_of"
    assert [r["decision"] for r in log].count("send") == 1
    assert [(str(r["decided_at"]), r["reason_code"]) for r in log] == [
        ("2026-11-02 15:00:00", "ok"),
        ("2026-11-02 15:05:00", "duplicate"),
        ("2026-11-02 15:30:00", "duplicate"),
        ("2026-11-02 16:00:00", "duplicate"),
    ], "a re-run with the same as_of appends nothing"


def test_a_planned_send_counts_against_the_cap_until_the_channel_tool_reports_it(guardrails):
    # sms allows one a day; p can only be reached by sms (email bounced, no app)
    guardrails.add("profiles", [person("p", has_valid_email=False, email_status="bounced", has_app_device=False)])
    # vip_loyalty (email|sms|push), entered 23.5 hours before the first run: one step a day
    guardrails.add("journey_assignments", [assignment("p", "vip_loyalty", "sms", "2026-11-01 15:30:00")])

    guardrails.decide("2026-11-02 15:00:00")
    first = guardrails.decisions()["p"]
    assert (first["decision"], first["step_number"]) == ("send", 1)

    # an hour later the next step begins; the channel tool has not reported the sms yet
    guardrails.decide("2026-11-02 16:00:00")
    d = guardrails.decisions()["p"]
    assert d["step_number"] == 2
    assert (d["decision"], d["channel"], d["reason_code"]) == ("defer", "sms", "daily_cap")
    assert d["next_eligible_at"] == datetime(2026, 11, 3, 15, 0), "24 hours after the planned send"

    # once the tool reports it (with the idempotency key as message id) it counts once, from the report
    report = sent("r1", "p", "sms", "2026-11-02 15:01:00", journey_id="vip_loyalty")
    report["message_id"] = first["idempotency_key"]
    guardrails.add("int_message_events_stitched", [report])
    guardrails.decide("2026-11-02 16:10:00")
    ledger = guardrails.warehouse.query_dicts("select * from int_guardrails__ledger where person_id = 'p'")
    assert [(r["ledger_source"], r["sent_at"]) for r in ledger] == [("reported", datetime(2026, 11, 2, 15, 1))]
    assert guardrails.decisions()["p"]["next_eligible_at"] == datetime(2026, 11, 3, 15, 1)


def acknowledged(sync_name: str, person_id: str, channel: str, message_key: str, at: str) -> tuple:
    """A sync_acknowledgements row: a channel tool acknowledged a record asking it to send."""
    return (
        f"ack-{sync_name}-{person_id}-{at}",
        f"run-{at}",
        sync_name,
        sync_name.split("_", 1)[0],
        "",
        person_id,
        "added",
        "added",
        f"idem-{sync_name}-{person_id}",
        "hash",
        at,
        person_id,
        "vip_loyalty",
        channel,
        message_key,
    )


def test_a_send_a_tool_acknowledged_counts_after_the_reporting_delay_and_a_lost_one_stops_counting(guardrails):
    from activation.state import ensure_sync_tables

    # sms allows one a day; each person can only be reached by sms (email bounced, no app)
    sms_only = {"has_valid_email": False, "email_status": "bounced", "has_app_device": False}
    people = ["p_lost", "p_reported", "p_synced"]
    guardrails.add("profiles", [person(p, **sms_only) for p in people])
    # vip_loyalty (email|sms|push), entered 23.5 hours before the first run: one step a day
    guardrails.add("journey_assignments", [assignment(p, "vip_loyalty", "sms", "2026-11-01 15:30:00") for p in people])

    # The first run happens before the sync engine ever created its tables.
    guardrails.execute("drop schema if exists atc_sync cascade")
    guardrails.decide("2026-11-02 15:00:00")
    first = guardrails.decisions()
    assert {p: first[p]["decision"] for p in people} == dict.fromkeys(people, "send")
    key = {p: first[p]["idempotency_key"] for p in people}

    # The syncs deliver: two tools acknowledge p_synced's send (one message), one tool p_reported's,
    # which then reports it with the key as message id. p_lost's send never reaches a tool.
    with guardrails.warehouse.connect() as con:
        ensure_sync_tables(con)
        con.executemany(
            "insert into atc_sync.sync_acknowledgements values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                acknowledged("braze_users", "p_synced", "sms", key["p_synced"], "2026-11-02 15:02:00"),
                acknowledged("webhook_journey_assignments", "p_synced", "sms", key["p_synced"], "2026-11-02 15:04:00"),
                acknowledged("braze_users", "p_reported", "sms", key["p_reported"], "2026-11-02 15:02:00"),
            ],
        )
    report = sent("r1", "p_reported", "sms", "2026-11-02 15:05:00", journey_id="vip_loyalty")
    report["message_id"] = key["p_reported"]
    guardrails.add("int_message_events_stitched", [report])

    def ledger() -> dict[str, list[tuple]]:
        rows = guardrails.warehouse.query_dicts("select * from int_guardrails__ledger order by person_id, sent_at")
        out: dict[str, list[tuple]] = {p: [] for p in people}
        for r in rows:
            out[r["person_id"]].append((r["ledger_source"], r["message_key"], r["sent_at"]))
        return out

    # Inside the reporting delay each send counts once, from the best evidence there is.
    guardrails.decide("2026-11-02 16:00:00")
    assert ledger() == {
        "p_lost": [("planned", key["p_lost"], datetime(2026, 11, 2, 15, 0))],
        "p_reported": [("reported", key["p_reported"], datetime(2026, 11, 2, 15, 5))],
        "p_synced": [("synced", key["p_synced"], datetime(2026, 11, 2, 15, 2))],
    }

    # Seven hours later (the delay is six): the acknowledged send still holds the sms cap,
    # the send that never reached a tool no longer does.
    guardrails.decide("2026-11-02 22:00:00")
    assert ledger()["p_synced"] == [("synced", key["p_synced"], datetime(2026, 11, 2, 15, 2))]
    assert ledger()["p_lost"] == []
    d = guardrails.decisions()
    assert (d["p_synced"]["decision"], d["p_synced"]["reason_code"]) == ("defer", "daily_cap")
    assert d["p_synced"]["next_eligible_at"] == datetime(2026, 11, 3, 15, 2), "24 hours after the acknowledgement"
    assert (d["p_reported"]["decision"], d["p_reported"]["next_eligible_at"]) == ("defer", datetime(2026, 11, 3, 15, 5))
    assert (d["p_lost"]["decision"], d["p_lost"]["channel"], d["p_lost"]["step_number"]) == ("send", "sms", 2)


# The unsubscribe scenario, through the whole pipeline.


def _raw_event(message_id: str, when: str, user_id: str, call: str = "track", name: str | None = None, **extra):
    context = {"location": {"country": "US"}, "locale": "en-US", "timezone": "America/New_York"}
    return {
        "message_id": message_id,
        "type": call,
        "event": name,
        "user_id": user_id,
        "timestamp": when,
        "received_at": when,
        "context": context,
        "properties": extra.pop("properties", {}),
        "traits": extra.pop("traits", None),
    }


def test_a_person_who_unsubscribed_from_sms_at_10_00_gets_no_sms_on_the_10_05_run(warehouse):
    phone = "+12025550123"
    warehouse.insert(
        "events",
        [
            _raw_event("e1", "2026-01-10T15:00:00Z", "u-text", "identify", traits={"phone": phone}),
            _raw_event(
                "e2",
                "2026-01-10T15:05:00Z",
                "u-text",
                name="Order Completed",
                properties={"order_id": "o1", "revenue": 80, "currency": "USD", "order_type": "merchandise"},
            ),
        ],
    )
    warehouse.insert(
        "consents",
        [
            {
                "consent_id": "c1",
                "identifier_type": "phone",
                "identifier": phone,
                "channel": "sms",
                "purpose": "marketing",
                "granted": "true",
                "region": "US",
                "recorded_at": "2026-01-10T15:00:00Z",
                "source": "checkout",
            }
        ],
    )
    build = ["build", "--select", "+guardrail_decisions", "guardrail_decision_log", "--exclude-resource-type", "test"]
    build += ["--exclude-resource-type", "unit_test"]
    warehouse.dbt(*build, dbt_vars={"atc__as_of": "2026-11-02 15:00:00"})  # 10:00 in New York

    def sms_sends() -> list[dict]:
        return warehouse.query_dicts(
            "select g.* from guardrail_decisions as g inner join identity_person_map as m "
            "on g.person_id = m.person_id where m.node = 'user_id:u-text' and g.decision = 'send' "
            "and g.channel = 'sms'"
        )

    assert len(sms_sends()) == 1, "the win-back sms goes out at 10:00"

    warehouse.insert(
        "message_events",
        [
            {
                "event_id": "u1",
                "message_id": "msg-u1",
                "channel": "sms",
                "journey_id": "win_back",
                "event_type": "unsubscribed",
                "phone": phone,
                "timestamp": "2026-11-02T15:00:30Z",
                "properties": {},
            }
        ],
    )
    warehouse.dbt(*build, dbt_vars={"atc__as_of": "2026-11-02 15:05:00"})  # 10:05 in New York

    assert sms_sends() == []
    planned = warehouse.query(
        "select count(*) from guardrail_decision_log as g inner join identity_person_map as m "
        "on g.person_id = m.person_id where m.node = 'user_id:u-text' and g.decision = 'send'"
    )
    assert planned == [(1,)], "only the 10:00 sms was ever planned"
