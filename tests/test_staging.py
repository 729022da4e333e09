"""Staging: raw rows become clean, typed, deduplicated rows, or quarantined with a reason."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.slow

AS_OF = "2026-11-01 00:00:00"


def event(message_id: str, line: int, **overrides) -> dict:
    """A valid track event; keyword arguments replace or add raw columns."""
    row = {
        "message_id": message_id,
        "type": "track",
        "event": "Product Viewed",
        "user_id": "user-1",
        "timestamp": "2026-10-01T12:00:00Z",
        "received_at": "2026-10-01T12:00:05Z",
        "context": {"locale": "en-US", "device": {"id": "device-1", "type": "ios"}},
        "properties": {"product_id": "sku-1", "category": "apparel"},
        "_source_file": "events.jsonl",
        "_source_line": line,
    }
    row.update(overrides)
    return row


def build(warehouse) -> None:
    warehouse.dbt("build", "--select", "staging", dbt_vars={"atc__as_of": AS_OF})


def quarantined(warehouse, table: str) -> dict[int, dict]:
    rows = warehouse.query_dicts(f"select * from main.{table}")
    return {row["_source_line"]: row for row in rows}


def test_a_duplicated_event_counts_once(warehouse):
    warehouse.insert(
        "events",
        [
            event("m-1", 1, received_at="2026-10-01T12:10:00Z"),
            event("m-1", 2, received_at="2026-10-01T12:00:05Z"),
            event("m-1", 3, received_at="2026-10-01T12:00:05+00:00"),
            event("m-2", 4),
        ],
    )
    build(warehouse)

    clean = warehouse.query_dicts("select event_id, _source_line from main.stg_segment__events order by event_id")
    assert clean == [
        {"event_id": "m-1", "_source_line": 2},
        {"event_id": "m-2", "_source_line": 4},
    ]
    dropped = quarantined(warehouse, "stg_segment__events_quarantined")
    assert sorted(dropped) == [1, 3]
    assert {row["reason_code"] for row in dropped.values()} == {"duplicate_message_id"}
    assert all("m-1" in row["reason"] for row in dropped.values())


def test_an_event_with_no_identifier_is_quarantined_with_its_reason(warehouse):
    warehouse.insert(
        "events",
        [
            event("m-1", 1, user_id=None, context={"locale": "en-US"}),
            event("m-2", 2, user_id=None, anonymous_id="anon-1", context={}),
            event("m-3", 3, user_id=None, context={"traits": {"email": " Fan@Example.COM "}}),
        ],
    )
    build(warehouse)

    dropped = quarantined(warehouse, "stg_segment__events_quarantined")
    assert list(dropped) == [1]
    assert dropped[1]["reason_code"] == "no_identifier"
    assert dropped[1]["record_id"] == "m-1"
    assert "user_id" in dropped[1]["reason"] and "anonymous_id" in dropped[1]["reason"]
    emails = warehouse.query("select event_id, email from main.stg_segment__events order by 1")
    assert emails == [("m-2", None), ("m-3", "fan@example.com")]


def test_timestamps_with_offsets_become_utc(warehouse):
    warehouse.insert(
        "events",
        [
            event("z", 1, timestamp="2026-10-01T12:00:00Z"),
            event("plus", 2, timestamp="2026-10-01T14:00:00+02:00"),
            event("minus", 3, timestamp="2026-10-01 07:00:00.250-05:00"),
            event("compact", 4, timestamp="2026-10-01T17:30:00+0530"),
            event("naive", 5, timestamp="2026-10-01 12:00:00"),
            event("late", 6, timestamp="2026-10-01T12:00:00Z", received_at="2026-10-03T09:00:00+01:00"),
        ],
    )
    build(warehouse)

    rows = {
        r["event_id"]: r
        for r in warehouse.query_dicts(
            "select event_id, occurred_at, received_at, is_late_arriving from main.stg_segment__events"
        )
    }
    noon = dt.datetime(2026, 10, 1, 12, 0, 0)
    assert rows["z"]["occurred_at"] == noon
    assert rows["plus"]["occurred_at"] == noon
    assert rows["minus"]["occurred_at"] == noon + dt.timedelta(milliseconds=250)
    assert rows["compact"]["occurred_at"] == noon
    assert rows["naive"]["occurred_at"] == noon
    assert rows["late"]["received_at"] == dt.datetime(2026, 10, 3, 8, 0, 0)
    assert rows["late"]["is_late_arriving"] is True
    assert rows["z"]["is_late_arriving"] is False


def test_event_name_spellings_map_to_one_vocabulary(warehouse):
    warehouse.insert(
        "events",
        [
            event("a", 1, event="Add to Cart"),
            event("b", 2, event="add_to_cart"),
            event("c", 3, event="  PRODUCT ADDED "),
            event("d", 4, event="purchase"),
            event("e", 5, event="Checkout Completed"),
            event("f", 6, type="page", event=None),
            event("g", 7, type="identify", event=None, traits={"email": "a@b.co"}),
            event("h", 8, type="Screen", event="Home"),
        ],
    )
    build(warehouse)

    names = dict(warehouse.query("select event_id, event_name from main.stg_segment__events"))
    assert names == {
        "a": "product_added",
        "b": "product_added",
        "c": "product_added",
        "d": "order_completed",
        "e": "order_completed",
        "f": "page_viewed",
        "g": "identified",
        "h": "screen_viewed",
    }


def test_an_unknown_event_is_quarantined_naming_it(warehouse):
    warehouse.insert("events", [event("m-1", 1, event="Rocket Launched"), event("m-2", 2)])
    build(warehouse)

    dropped = quarantined(warehouse, "stg_segment__events_quarantined")
    assert dropped[1]["reason_code"] == "unknown_event"
    assert "Rocket Launched" in dropped[1]["reason"]
    assert list(dropped) == [1]


def test_broken_json_is_quarantined_naming_the_field(warehouse):
    warehouse.insert(
        "events",
        [
            event("m-1", 1, properties='{"product_id": "sku-1"'),
            event("m-2", 2, context="not json at all"),
            event("m-3", 3, type="identify", event=None, traits="{email: x}"),
            event("m-4", 4, properties=None, context=None),
        ],
    )
    build(warehouse)

    dropped = quarantined(warehouse, "stg_segment__events_quarantined")
    assert {line: row["reason_code"] for line, row in dropped.items()} == {
        1: "invalid_json",
        2: "invalid_json",
        3: "invalid_json",
    }
    assert dropped[1]["reason"].startswith("properties")
    assert dropped[2]["reason"].startswith("context")
    assert dropped[3]["reason"].startswith("traits")


def test_absurd_and_unparseable_timestamps_are_quarantined(warehouse):
    warehouse.insert(
        "events",
        [
            event("old", 1, timestamp="1970-01-01T00:00:00Z"),
            event("future", 2, timestamp="2031-06-01T00:00:00Z"),
            event("skewed", 3, timestamp="2026-11-01T20:00:00Z", received_at="2026-11-01T20:00:00Z"),
            event("junk", 4, timestamp="yesterday afternoon"),
            event("bad-date", 5, timestamp="2026-02-30T10:00:00Z"),
            event("bad-received", 6, received_at="soon"),
        ],
    )
    build(warehouse)

    dropped = quarantined(warehouse, "stg_segment__events_quarantined")
    codes = {line: row["reason_code"] for line, row in dropped.items()}
    assert codes == {
        1: "absurd_timestamp",
        2: "absurd_timestamp",
        4: "unparseable_timestamp",
        5: "unparseable_timestamp",
        6: "unparseable_timestamp",
    }
    assert "timestamp '1970-01-01T00:00:00Z'" in dropped[1]["reason"]
    assert "yesterday afternoon" in dropped[4]["reason"]
    assert dropped[6]["reason"].startswith("received_at")
    kept = [r[0] for r in warehouse.query("select event_id from main.stg_segment__events")]
    assert kept == ["skewed"]


def test_reasons_are_checked_in_contract_order(warehouse):
    warehouse.insert(
        "events",
        [
            # broken JSON and no identifier: invalid_json comes first
            event("m-1", 1, user_id=None, context="{", properties={}),
            # unknown type and bad timestamp: unknown_type comes first
            event("m-2", 2, type="launch", timestamp="never"),
            # missing id beats everything
            event(" ", 3, type="launch"),
        ],
    )
    build(warehouse)

    codes = {
        line: row["reason_code"] for line, row in quarantined(warehouse, "stg_segment__events_quarantined").items()
    }
    assert codes == {1: "invalid_json", 2: "unknown_type", 3: "missing_message_id"}


def test_phone_numbers_in_many_formats_become_e164(warehouse):
    cases = [
        ("+49 151 2345 6789", None, "+4915123456789"),
        ("0049 (0)30 1234567", None, "+49301234567"),
        ("030 1234567", "de-DE", "+49301234567"),
        ("(212) 555-0100", "en-US", "+12125550100"),
        ("1-212-555-0100", "en-US", "+12125550100"),
        ("212.555.0100", None, "+12125550100"),
        ("07700 900123", "en-GB", "+447700900123"),
        ("+44 (0)7700 900123", "fr-FR", "+447700900123"),
        ("06 12 34 56 78", "fr-FR", "+33612345678"),
        ("612 345 678", "es-ES", "+34612345678"),
        ("0412 345 678", "en-AU", "+61412345678"),
        ("087 123 4567", "en-IE", "+353871234567"),
        ("12345", "en-US", None),
        ("call me maybe", "en-US", None),
        ("+1 212 555", None, None),
        ("+12 3456 7890 1234 5678", None, None),
    ]
    rows = [
        event(
            f"p{i}",
            i,
            context={"locale": locale} if locale else {},
            traits={"phone": phone},
            type="identify",
            event=None,
        )
        for i, (phone, locale, _) in enumerate(cases, start=1)
    ]
    warehouse.insert("events", rows)
    build(warehouse)

    got = dict(warehouse.query("select phone_raw, phone_e164 from main.stg_segment__events"))
    assert got == {phone: expected for phone, _, expected in cases}


def test_country_comes_from_location_then_locale(warehouse):
    warehouse.insert(
        "events",
        [
            event("a", 1, context={"location": {"country": "ie"}, "locale": "en-GB"}),
            event("b", 2, context={"locale": "de_DE"}),
            event("c", 3, context={"locale": "fr"}),
        ],
    )
    build(warehouse)

    got = dict(warehouse.query("select event_id, country from main.stg_segment__events"))
    assert got == {"a": "IE", "b": "DE", "c": None}


def test_numbers_that_do_not_parse_become_null_and_the_event_is_kept(warehouse):
    warehouse.insert(
        "events",
        [
            event("a", 1, properties={"quantity": "two", "revenue": "n/a", "product_id": "sku-1"}),
            event("b", 2, properties={"quantity": "", "revenue": "12,50"}),
            event("c", 3, properties={"quantity": 2, "revenue": "19.5"}),
            # numbers both engines parse, but no count or amount
            event("d", 4, properties={"quantity": 3000000000, "revenue": "Infinity"}),
            event("e", 5, properties={"quantity": "NaN", "revenue": "nan"}),
        ],
    )
    build(warehouse)

    got = {
        row[0]: row[1:] for row in warehouse.query("select event_id, quantity, revenue from main.stg_segment__events")
    }
    assert got == {
        "a": (None, None),
        "b": (None, None),
        "c": (2, 19.5),
        "d": (None, None),
        "e": (None, None),
    }


def test_consents_granted_yes_or_maybe_are_quarantined(warehouse):
    base = {
        "identifier_type": "email",
        "identifier": " Fan@Example.com ",
        "channel": "email",
        "purpose": "marketing",
        "region": "de",
        "recorded_at": "2026-09-01T10:00:00+02:00",
        "source": "signup_form",
        "_source_file": "consents.csv",
    }
    warehouse.insert(
        "consents",
        [
            {**base, "consent_id": "c1", "granted": "TRUE", "_source_line": 1},
            {**base, "consent_id": "c2", "granted": "yes", "_source_line": 2},
            {**base, "consent_id": "c3", "granted": "maybe", "_source_line": 3},
            {
                **base,
                "consent_id": "c4",
                "granted": "false",
                "identifier_type": "phone",
                "identifier": "0151 23456789",
                "channel": "sms",
                "_source_line": 4,
            },
            {**base, "consent_id": "c5", "granted": "true", "channel": "pigeon", "_source_line": 5},
        ],
    )
    build(warehouse)

    clean = warehouse.query_dicts(
        "select consent_id, identifier, is_granted, recorded_at, region from main.stg_consents__consents order by 1"
    )
    assert clean == [
        {
            "consent_id": "c1",
            "identifier": "fan@example.com",
            "is_granted": True,
            "recorded_at": dt.datetime(2026, 9, 1, 8, 0),
            "region": "DE",
        },
        {
            "consent_id": "c4",
            "identifier": "+4915123456789",
            "is_granted": False,
            "recorded_at": dt.datetime(2026, 9, 1, 8, 0),
            "region": "DE",
        },
    ]
    dropped = quarantined(warehouse, "stg_consents__consents_quarantined")
    assert dropped[2]["reason_code"] == "unparseable_granted"
    assert dropped[3]["reason_code"] == "unparseable_granted"
    assert "granted 'maybe'" in dropped[3]["reason"]
    assert dropped[5]["reason_code"] == "unknown_channel"


def test_message_events_are_typed_and_bad_ones_quarantined(warehouse):
    base = {
        "message_id": "msg-1",
        "channel": "Email",
        "journey_id": "welcome",
        "event_type": "bounced",
        "email": "Fan@Example.com",
        "timestamp": "2026-10-02T09:00:00-04:00",
        "properties": {"bounce_type": "HARD"},
        "_source_file": "message_events.jsonl",
    }
    warehouse.insert(
        "message_events",
        [
            {**base, "event_id": "e1", "_source_line": 1},
            {**base, "event_id": "e1", "_source_line": 2, "timestamp": "2026-10-02T14:00:00Z"},
            {**base, "event_id": "e2", "_source_line": 3, "channel": "fax"},
            {**base, "event_id": "e3", "_source_line": 4, "event_type": "printed"},
            {**base, "event_id": "e4", "_source_line": 5, "email": "nobody", "phone": None},
            {
                **base,
                "event_id": "e5",
                "_source_line": 6,
                "event_type": "opened",
                "properties": None,
                "email": None,
                "phone": "(415) 555-0199",
            },
        ],
    )
    build(warehouse)

    clean = warehouse.query_dicts(
        "select message_event_id, channel, email, phone_e164, occurred_at, bounce_type"
        " from main.stg_channels__message_events order by 1"
    )
    assert clean == [
        {
            "message_event_id": "e1",
            "channel": "email",
            "email": "fan@example.com",
            "phone_e164": None,
            "occurred_at": dt.datetime(2026, 10, 2, 13, 0),
            "bounce_type": "hard",
        },
        {
            "message_event_id": "e5",
            "channel": "email",
            "email": None,
            "phone_e164": "+14155550199",
            "occurred_at": dt.datetime(2026, 10, 2, 13, 0),
            "bounce_type": None,
        },
    ]
    codes = {
        line: row["reason_code"]
        for line, row in quarantined(warehouse, "stg_channels__message_events_quarantined").items()
    }
    assert codes == {
        2: "duplicate_event_id",
        3: "unknown_channel",
        4: "unknown_event_type",
        5: "no_identifier",
    }


def test_every_raw_row_is_either_staged_or_quarantined(warehouse):
    warehouse.insert(
        "events",
        [
            event("m-1", 1),
            event("m-1", 2, received_at="2026-10-02T00:00:00Z"),
            event(None, 3),
            event("m-3", 4, type="bogus"),
            event("m-4", 5, event="Unheard Of"),
            event("m-5", 6, timestamp="garbage"),
            event("m-6", 7, type="alias", event=None, previous_id="anon-9"),
        ],
    )
    warehouse.insert(
        "message_events",
        [
            {
                "event_id": "e1",
                "channel": "sms",
                "event_type": "sent",
                "user_id": "u",
                "timestamp": "2026-10-01T00:00:00Z",
                "_source_line": 1,
            },
            {
                "event_id": None,
                "channel": "sms",
                "event_type": "sent",
                "user_id": "u",
                "timestamp": "2026-10-01T00:00:00Z",
                "_source_line": 2,
            },
        ],
    )
    warehouse.insert(
        "consents",
        [
            {
                "consent_id": "c1",
                "identifier_type": "user_id",
                "identifier": "u",
                "channel": "sms",
                "purpose": "marketing",
                "granted": "true",
                "recorded_at": "2026-10-01",
                "_source_line": 1,
            },
            {
                "consent_id": "c1",
                "identifier_type": "user_id",
                "identifier": "u",
                "channel": "sms",
                "purpose": "marketing",
                "granted": "true",
                "recorded_at": "2026-10-02",
                "_source_line": 2,
            },
            {
                "consent_id": "c2",
                "identifier_type": "fax",
                "identifier": "u",
                "channel": "sms",
                "granted": "true",
                "recorded_at": "2026-10-01",
                "_source_line": 3,
            },
        ],
    )
    build(warehouse)

    for raw, clean, dropped in [
        ("events", "stg_segment__events", "stg_segment__events_quarantined"),
        (
            "message_events",
            "stg_channels__message_events",
            "stg_channels__message_events_quarantined",
        ),
        ("consents", "stg_consents__consents", "stg_consents__consents_quarantined"),
    ]:
        [(n_raw,)] = warehouse.query(f"select count(*) from raw.{raw}")
        [(n_clean,)] = warehouse.query(f"select count(*) from main.{clean}")
        [(n_dropped,)] = warehouse.query(f"select count(*) from main.{dropped}")
        assert n_clean > 0 and n_dropped > 0
        assert n_raw == n_clean + n_dropped, raw

    union = warehouse.query("select source_table, count(*) from main.quarantined_rows group by 1 order by 1")
    assert union == [("raw.consents", 2), ("raw.events", 5), ("raw.message_events", 1)]


def test_show_start_times_become_utc(warehouse):
    warehouse.insert(
        "venues",
        [
            {
                "venue_id": "v1",
                "name": "Hall",
                "country": "de",
                "timezone": "Europe/Berlin",
                "capacity": 1200,
            }
        ],
    )
    warehouse.insert(
        "shows",
        [
            {
                "show_id": "s1",
                "name": "Gig",
                "category": "Concerts",
                "venue_id": "v1",
                "starts_at": "2026-11-20T20:00:00+01:00",
                "on_sale_at": "2026-09-01T10:00:00+02:00",
            }
        ],
    )
    warehouse.insert(
        "products",
        [
            {
                "product_id": "p1",
                "name": "Tee",
                "category": "apparel",
                "price": 25.0,
                "currency": "eur",
            }
        ],
    )
    build(warehouse)

    show = warehouse.query_dicts("select * from main.stg_catalog__shows")
    assert show == [
        {
            "show_id": "s1",
            "show_name": "Gig",
            "category": "concerts",
            "venue_id": "v1",
            "starts_at": dt.datetime(2026, 11, 20, 19, 0),
            "on_sale_at": dt.datetime(2026, 9, 1, 8, 0),
        }
    ]
    assert warehouse.query("select country from main.stg_catalog__venues") == [("DE",)]
    assert warehouse.query("select currency from main.stg_catalog__products") == [("EUR",)]
