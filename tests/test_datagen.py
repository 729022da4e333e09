"""The sample data generator: realistic, messy, deterministic, and loadable."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from journey_atc.datagen import generate
from journey_atc.loader import load_directory

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, object, list]:
    out = tmp_path_factory.mktemp("sample")
    calls: list = []
    report = generate(out, people=10_000, seed=11, as_of=AS_OF, progress=lambda *a: calls.append(a))
    return out, report, calls


@pytest.fixture(scope="module")
def con(sample):
    out, _, _ = sample
    c = duckdb.connect()
    c.execute("set timezone = 'UTC'")
    c.execute(f"create view events as select * from read_parquet('{out}/events/*.parquet')")
    for name in ("message_events", "consents", "venues", "shows", "products"):
        c.execute(f"create view {name} as select * from read_parquet('{out}/{name}.parquet')")
    # the same rows with unparseable JSON text blanked, for JSON path queries
    c.execute(
        "create temp table ev as select * replace ("
        "case when json_valid(context) then context end as context, "
        "case when json_valid(properties) then properties end as properties, "
        "case when json_valid(traits) then traits end as traits) from events"
    )
    c.execute(
        "create temp table me as select * replace ("
        "case when json_valid(properties) then properties end as properties) from message_events"
    )
    yield c
    c.close()


def one(con, sql: str):
    return con.execute(sql).fetchone()[0]


def digest(directory: Path) -> str:
    """A hash of every row of every output table, in file order."""
    c = duckdb.connect()
    h = hashlib.sha256()
    for path in sorted(directory.rglob("*.parquet")):
        for row in c.execute(f"select * from read_parquet('{path}')").fetchall():
            h.update(repr(row).encode())
    c.close()
    return h.hexdigest()


def test_the_same_seed_gives_identical_rows_and_another_seed_does_not(tmp_path):
    a = generate(tmp_path / "a", people=1_500, seed=3, as_of=AS_OF)
    b = generate(tmp_path / "b", people=1_500, seed=3, as_of=AS_OF)
    generate(tmp_path / "c", people=1_500, seed=4, as_of=AS_OF)

    assert a.rows == b.rows
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_about_thirty_events_per_person_and_sizes_scale(sample, tmp_path):
    _, report, _ = sample
    small = generate(tmp_path / "small", people=2_000, seed=11, as_of=AS_OF)

    assert 25 <= report.rows["events"] / 10_000 <= 35
    assert 4 <= report.rows["events"] / small.rows["events"] <= 6
    assert report.rows["message_events"] > 2 * small.rows["message_events"]
    assert report.rows["venues"] == 40


def test_the_report_lists_files_that_exist_and_progress_is_reported(sample):
    out, report, calls = sample
    assert all(p.exists() for paths in report.files.values() for p in paths)
    assert report.files["events"][0] == out / "events" / "part-00000.parquet"
    assert calls[-1] == ("people", 10_000, 10_000)


def test_columns_match_the_raw_contract(con):
    from journey_atc.raw_schema import RAW_TABLES

    for table in RAW_TABLES:
        expected = [c for c, _, _ in RAW_TABLES[table] if not c.startswith("_")]
        got = [r[0] for r in con.execute(f"describe {table}").fetchall()]
        assert got == expected, table


def test_events_span_about_four_hundred_days_before_as_of_in_mixed_offsets(con):
    ts = "try_cast(timestamp as timestamptz)"
    lo, hi = con.execute(
        f"select min({ts}), max({ts}) from events where {ts} between '2020-01-01' and '2030-01-01'"
    ).fetchone()
    assert (AS_OF - hi).days <= 1
    assert 380 <= (AS_OF - lo).days <= 401
    assert one(con, "select count(*) from events where timestamp like '%Z'") > 1000
    assert one(con, "select count(*) from events where regexp_matches(timestamp, '[+-]0[0-9]:00$')") > 1000
    assert one(con, "select count(*) from events where regexp_matches(timestamp, '-0[4-8]:00$')") > 100


def test_several_time_zones_locales_and_some_events_without_a_timezone(con):
    zones = one(con, "select count(distinct json_extract_string(context, '$.timezone')) from ev")
    locales = one(con, "select count(distinct json_extract_string(context, '$.locale')) from ev")
    assert zones >= 10
    assert locales == 8
    assert (
        one(
            con,
            "select count(*) from ev where context is not null and json_extract_string(context, '$.timezone') is null",
        )
        > 100
    )


def test_people_browse_anonymously_on_several_devices_before_logging_in(con):
    per_user = con.execute(
        "select count(distinct anonymous_id) from events "
        "where user_id is not null and anonymous_id not like 'kiosk-%' group by user_id"
    ).fetchall()
    assert max(n for (n,) in per_user) >= 3
    anonymous_only = one(
        con,
        "select count(*) from (select anonymous_id from events group by 1 having count(user_id) = 0 and count(*) > 5)",
    )
    assert anonymous_only > 100
    assert one(con, "select count(*) from events where type = 'identify' and traits is not null") > 1000
    assert one(con, "select count(*) from events where type = 'alias' and previous_id is not null") > 10


def test_kiosk_devices_are_shared_by_hundreds_of_logged_in_users(con):
    biggest = one(
        con,
        "select max(n) from (select count(distinct user_id) as n from ev "
        "where json_extract_string(context, '$.device.type') = 'kiosk' group by anonymous_id)",
    )
    assert biggest > 100


def test_junk_typo_disposable_and_role_emails_appear(con):
    emails = "select distinct user_id, json_extract_string(traits, '$.email') as email from ev where type = 'identify'"
    junk_users = one(con, f"select count(distinct user_id) from ({emails}) where email = 'test@test.com'")
    assert junk_users >= 10
    for pattern in ("%@gmial.com", "%@hotmial.com", "%@yaho.com", "%@mailinator.com", "info@%"):
        assert one(con, f"select count(*) from ({emails}) where email like '{pattern}'") > 0, pattern
    assert one(con, f"select count(*) from ({emails}) where email <> trim(email)") > 10
    assert one(con, f"select count(*) from ({emails}) where email <> lower(email)") > 10


def test_phones_come_in_many_formats_including_junk(con):
    phones = [
        r[0]
        for r in con.execute(
            "select distinct json_extract_string(traits, '$.phone') from ev where type = 'identify'"
        ).fetchall()
    ]
    assert any(p and p.startswith("+1 (") for p in phones)
    assert any(p and p.count(".") == 2 for p in phones)
    assert any(p and p.startswith("0044 ") for p in phones)
    assert any(p and p.startswith("020 ") for p in phones)
    assert any(p and p.startswith("+49 ") for p in phones)
    assert "12345" in phones


def test_duplicated_deliveries_and_late_arrivals_are_present(con):
    dups = one(
        con,
        "select count(*) from (select message_id from events where message_id is not null "
        "group by 1 having count(*) > 1 and count(distinct received_at) > 1)",
    )
    assert dups > 1000
    late = one(
        con,
        "select count(*) from events where try_cast(received_at as timestamptz) "
        "> try_cast(timestamp as timestamptz) + interval 1 day",
    )
    assert late > 1000


def test_every_kind_of_malformed_row_is_present_at_a_small_share(con):
    total = one(con, "select count(*) from events")
    checks = {
        "missing message_id": "message_id is null",
        "no identifier": "anonymous_id is null and user_id is null and type <> 'alias' "
        "and message_id in (select message_id from ev where context is not null "
        "and json_extract_string(context, '$.device.id') is null)",
        "unparseable timestamp": "timestamp in ('not-a-date', '32/13/2026')",
        "absurd timestamp": "timestamp like '1970%' or timestamp like '2099%'",
        "broken context": "not json_valid(context)",
        "broken properties": "not json_valid(properties)",
        "unknown type": "type not in ('track', 'identify', 'page', 'screen', 'alias')",
        "unknown event": "event in ('Button Clicked', 'Video Played', 'experiment_viewed')",
    }
    malformed = 0
    for name, where in checks.items():
        n = one(con, f"select count(*) from events where {where}")
        assert n > 5, name
        malformed += n
    assert 0.002 < malformed / total < 0.01


def test_events_use_the_vocabulary_and_catalog(con):
    spellings = {r[0] for r in con.execute("select distinct event from events").fetchall()}
    for name in (
        "Order Completed",
        "Purchase",
        "Add to Cart",
        "Ticket Scanned",
        "Newsletter Subscribed",
    ):
        assert name in spellings
    orders = con.execute(
        "select properties from ev where event = 'Order Completed' and properties is not null"
    ).fetchall()
    kinds = {json.loads(p)["order_type"] for (p,) in orders}
    assert kinds == {"tickets", "merchandise"}
    unknown_shows = one(
        con,
        "select count(*) from ev where json_extract_string(properties, '$.show_id') is not null "
        "and json_extract_string(properties, '$.show_id') not in (select show_id from shows)",
    )
    assert unknown_shows == 0
    assert one(con, "select count(distinct json_extract_string(properties, '$.ticket_type')) from ev") == 3


def test_some_carts_are_abandoned_and_some_are_bought(con):
    carts = con.execute(
        """
        select count(*) filter (where bought), count(*) filter (where not bought)
        from (
            select json_extract_string(properties, '$.cart_id') as cart,
                bool_or(event in ('Order Completed', 'Purchase', 'purchase', 'Checkout Completed'))
                    as bought
            from ev where json_extract_string(properties, '$.cart_id') is not null
            group by 1
        )
        """
    ).fetchone()
    assert carts[0] > 500 and carts[1] > 500


def test_message_events_cover_channels_journeys_bounces_in_the_last_sixty_days(con):
    assert {r[0] for r in con.execute("select distinct channel from message_events").fetchall()} >= {
        "email",
        "sms",
        "push",
        "whatsapp",
    }
    assert {r[0] for r in con.execute("select distinct journey_id from message_events").fetchall()} == {
        "welcome",
        "abandoned_cart",
        "pre_show",
        "win_back",
    }
    bounce = {
        r[0]
        for r in con.execute(
            "select distinct json_extract_string(properties, '$.bounce_type') from me where event_type = 'bounced'"
        ).fetchall()
    }
    assert bounce == {"hard", "soft"}
    oldest = one(con, "select min(try_cast(timestamp as timestamptz)) from message_events")
    assert (AS_OF - oldest).days <= 61
    assert one(con, "select count(*) from message_events where event_type = 'unsubscribed'") > 0


def test_consents_are_partial_overridden_and_sometimes_malformed(con):
    granted = {r[0] for r in con.execute("select distinct granted from consents").fetchall()}
    assert {"true", "false"} <= granted
    assert granted & {"yes", "maybe"}
    overridden = one(
        con,
        "select count(*) from (select identifier, channel from consents "
        "where identifier is not null group by all "
        "having count(*) > 1 and count(distinct granted) > 1)",
    )
    assert overridden > 100
    people_with_email_consent = one(con, "select count(distinct identifier) from consents where channel = 'email'")
    assert people_with_email_consent < 10_000 * 0.8
    assert one(con, "select count(*) from consents where region is null") == 0


def test_shows_start_with_their_venue_offset_past_and_future(con):
    rows = con.execute("select v.timezone, s.starts_at from shows s inner join venues v using (venue_id)").fetchall()
    sydney = [s for tz, s in rows if tz == "Australia/Sydney"]
    assert all(s.endswith(("+10:00", "+11:00")) for s in sydney)
    future = one(con, f"select count(*) from shows where starts_at::timestamptz > '{AS_OF.isoformat()}'")
    assert 0 < future < one(con, "select count(*) from shows")


def test_json_lines_output_nests_objects_and_loads_to_the_same_counts(tmp_path):
    report = generate(tmp_path / "j", people=300, seed=5, as_of=AS_OF, fmt="jsonl")
    first = json.loads((tmp_path / "j" / "events" / "part-00000.jsonl").open().readline())
    assert isinstance(first["context"], dict)

    loaded = load_directory(tmp_path / "w.duckdb", tmp_path / "j")

    assert loaded.rows == report.rows
    assert loaded.rejected_count == 0


def test_a_small_run_round_trips_through_the_loader(tmp_path):
    report = generate(tmp_path / "data", people=2_000, seed=9, as_of=AS_OF)
    db = tmp_path / "w.duckdb"

    loaded = load_directory(db, tmp_path / "data")

    assert loaded.rows == report.rows
    assert loaded.rejected_count == 0
    with duckdb.connect(str(db), read_only=True) as c:
        assert c.execute("select count(*) from raw.events").fetchone()[0] == report.rows["events"]
        assert c.execute("select min(_source_line) from raw.events").fetchone()[0] == 1
