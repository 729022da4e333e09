"""End-to-end behaviour of the profiles mart: raw rows in, one profile per person out.

Every test loads a handful of raw events, message events and consents, builds
everything `profiles` depends on, and reads the profile the way a marketer
would: can this person be emailed, texted, pushed; in which time zone; which
segment.
"""

from __future__ import annotations

import pytest

AS_OF = "2026-11-01 00:00:00"

pytestmark = pytest.mark.slow


def event(
    message_id: str,
    when: str,
    *,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    call: str = "track",
    name: str | None = None,
    context: dict | None = None,
    properties: dict | None = None,
    traits: dict | None = None,
) -> dict:
    """One raw Segment event; `when` is an ISO-8601 UTC time."""
    return {
        "message_id": message_id,
        "type": call,
        "event": name,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "timestamp": when,
        "received_at": when,
        "context": context or {},
        "properties": properties or {},
        "traits": traits,
    }


def identify(message_id: str, user_id: str, when: str, *, context: dict | None = None, **traits) -> dict:
    return event(message_id, when, user_id=user_id, call="identify", context=context, traits=traits)


def consent(
    consent_id: str,
    identifier_type: str,
    identifier: str,
    channel: str,
    *,
    granted: bool = True,
    region: str = "US",
    recorded_at: str = "2026-09-01T00:00:00Z",
    purpose: str = "marketing",
) -> dict:
    return {
        "consent_id": consent_id,
        "identifier_type": identifier_type,
        "identifier": identifier,
        "channel": channel,
        "purpose": purpose,
        "granted": "true" if granted else "false",
        "region": region,
        "recorded_at": recorded_at,
        "source": "signup_form",
    }


def message_event(event_id: str, event_type: str, when: str, *, channel: str = "email", **recipient) -> dict:
    properties = {}
    if "bounce_type" in recipient:
        properties["bounce_type"] = recipient.pop("bounce_type")
    return {
        "event_id": event_id,
        "message_id": f"msg-{event_id}",
        "channel": channel,
        "journey_id": "welcome",
        "event_type": event_type,
        "timestamp": when,
        "properties": properties,
        **recipient,
    }


def build_profiles(warehouse, **dbt_vars) -> None:
    warehouse.dbt(
        "build",
        "--select",
        "+profiles",
        "--resource-type",
        "seed",
        "--resource-type",
        "model",
        dbt_vars={"atc__as_of": AS_OF, **dbt_vars},
    )


def profile_of(warehouse, user_id: str) -> dict:
    rows = warehouse.query_dicts("select * from profiles where primary_user_id = ?", [user_id])
    assert len(rows) == 1, f"expected one profile for {user_id}, got {len(rows)}"
    return rows[0]


GERMANY = {"location": {"country": "DE"}, "locale": "de-DE", "timezone": "Europe/Berlin"}
USA = {"location": {"country": "US"}, "locale": "en-US", "timezone": "America/Chicago"}


def test_a_german_subscriber_with_no_consent_record_cannot_be_emailed(warehouse):
    warehouse.insert(
        "events",
        [
            identify("e1", "u-silent", "2026-10-01T09:00:00Z", context=GERMANY, email="lena@example.de"),
            event(
                "e2",
                "2026-10-01T09:01:00Z",
                user_id="u-silent",
                name="Newsletter Subscribed",
                context=GERMANY,
            ),
            identify("e3", "u-opted", "2026-10-01T09:00:00Z", context=GERMANY, email="jonas@example.de"),
        ],
    )
    warehouse.insert("consents", [consent("c1", "email", "jonas@example.de", "email", region="DE")])
    build_profiles(warehouse)

    silent = profile_of(warehouse, "u-silent")
    assert silent["region"] == "DE"
    assert silent["has_valid_email"] is True
    assert silent["has_email_consent"] is False
    assert silent["email_consent_basis"] == "no_record_opt_in_required"
    assert silent["is_email_reachable"] is False

    opted = profile_of(warehouse, "u-opted")
    assert opted["email_consent_basis"] == "explicit_opt_in"
    assert opted["is_email_reachable"] is True


def test_a_us_customer_with_no_record_gets_email_by_soft_opt_in_but_no_sms(warehouse):
    warehouse.insert(
        "events",
        [
            identify(
                "e1",
                "u-us",
                "2026-10-01T09:00:00Z",
                context=USA,
                email="sam@example.com",
                phone="+12025550143",
            ),
        ],
    )
    build_profiles(warehouse)

    sam = profile_of(warehouse, "u-us")
    assert sam["region"] == "US"
    assert (sam["email_consent_basis"], sam["is_email_reachable"]) == ("soft_opt_in", True)
    assert sam["has_valid_phone"] is True
    assert (sam["sms_consent_basis"], sam["is_sms_reachable"]) == (
        "no_record_opt_in_required",
        False,
    )
    assert sam["is_whatsapp_reachable"] is False
    assert sam["reachable_channel_count"] == 1


def test_an_unsubscribe_after_opting_in_revokes_email_consent(warehouse):
    warehouse.insert(
        "events",
        [identify("e1", "u-gone", "2026-10-01T09:00:00Z", context=GERMANY, email="mia@example.de")],
    )
    warehouse.insert(
        "consents",
        [consent("c1", "user_id", "u-gone", "email", region="DE", recorded_at="2026-09-01T00:00:00Z")],
    )
    warehouse.insert(
        "message_events",
        [message_event("m1", "unsubscribed", "2026-10-15T12:00:00Z", email="mia@example.de")],
    )
    build_profiles(warehouse)

    mia = profile_of(warehouse, "u-gone")
    assert mia["has_email_consent"] is False
    assert mia["email_consent_basis"] == "unsubscribed"
    assert mia["is_email_reachable"] is False


def test_a_hard_bounce_makes_the_email_unreachable(warehouse):
    warehouse.insert(
        "events",
        [
            identify("e1", "u-hard", "2026-10-01T09:00:00Z", context=USA, email="gone@example.com"),
            identify("e2", "u-soft", "2026-10-01T09:00:00Z", context=USA, email="full@example.com"),
        ],
    )
    warehouse.insert(
        "message_events",
        [
            message_event(
                "m1",
                "bounced",
                "2026-10-10T00:00:00Z",
                email="gone@example.com",
                bounce_type="hard",
            ),
            message_event(
                "m2",
                "bounced",
                "2026-10-10T00:00:00Z",
                email="full@example.com",
                bounce_type="soft",
            ),
        ],
    )
    build_profiles(warehouse)

    hard = profile_of(warehouse, "u-hard")
    assert hard["email_status"] == "bounced"
    assert hard["has_valid_email"] is False
    assert hard["is_email_reachable"] is False

    soft = profile_of(warehouse, "u-soft")
    assert soft["email_status"] == "valid"
    assert soft["is_email_reachable"] is True


def test_a_typo_domain_email_is_not_valid(warehouse):
    warehouse.insert(
        "events",
        [identify("e1", "u-typo", "2026-10-01T09:00:00Z", context=USA, email="ana@gmial.com")],
    )
    warehouse.insert("consents", [consent("c1", "email", "ana@gmial.com", "email")])
    build_profiles(warehouse)

    ana = profile_of(warehouse, "u-typo")
    assert ana["email"] == "ana@gmial.com"
    assert ana["email_status"] == "typo_domain"
    assert ana["has_valid_email"] is False
    assert ana["has_email_consent"] is True
    assert ana["is_email_reachable"] is False


def test_a_valid_email_is_preferred_over_a_more_recent_disposable_one(warehouse):
    warehouse.insert(
        "events",
        [
            identify("e1", "u-two", "2026-09-01T09:00:00Z", context=USA, email="real@example.com"),
            identify("e2", "u-two", "2026-10-20T09:00:00Z", context=USA, email="burner@mailinator.com"),
        ],
    )
    build_profiles(warehouse)

    two = profile_of(warehouse, "u-two")
    assert two["email"] == "real@example.com"
    assert two["email_status"] == "valid"
    assert two["emails"] == "burner@mailinator.com,real@example.com"
    assert two["email_count"] == 2


def test_a_missing_time_zone_falls_back_to_the_country_then_the_default(warehouse):
    warehouse.insert(
        "events",
        [
            identify(
                "e1",
                "u-paris",
                "2026-10-01T09:00:00Z",
                context={"timezone": "Europe/Paris", "location": {"country": "FR"}},
            ),
            identify("e2", "u-london", "2026-10-01T09:00:00Z", context={"location": {"country": "GB"}}),
            identify(
                "e3",
                "u-berlin",
                "2026-10-01T09:00:00Z",
                context={"timezone": "Mars/Olympus_Mons", "location": {"country": "DE"}},
            ),
            identify("e4", "u-nowhere", "2026-10-01T09:00:00Z", context={}),
        ],
    )
    build_profiles(warehouse, atc__default_timezone="Pacific/Auckland", atc__default_region="NZ")

    def zone(user_id):
        p = profile_of(warehouse, user_id)
        return p["timezone"], p["timezone_source"]

    assert zone("u-paris") == ("Europe/Paris", "event")
    assert zone("u-london") == ("Europe/London", "country")
    assert zone("u-berlin") == ("Europe/Berlin", "country")
    assert zone("u-nowhere") == ("Pacific/Auckland", "default")
    assert profile_of(warehouse, "u-nowhere")["region"] == "NZ"


def test_orders_refunds_and_rfm_segments_are_summarised_per_person(warehouse):
    order = {
        "order_type": "tickets",
        "show_id": "s1",
        "venue_id": "v1",
        "ticket_type": "vip",
        "category": "concerts",
        "currency": "USD",
    }
    warehouse.insert(
        "events",
        [
            identify("e0", "u-buyer", "2026-10-01T09:00:00Z", context=USA, email="buyer@example.com"),
            event(
                "e1",
                "2026-10-20T10:00:00Z",
                user_id="u-buyer",
                name="Order Completed",
                context=USA,
                properties={**order, "order_id": "o1", "revenue": 120.0},
            ),
            event(
                "e1b",
                "2026-10-19T10:00:00Z",
                user_id="u-buyer",
                name="Show Viewed",
                context=USA,
                properties={"show_id": "s1", "venue_id": "v1", "category": "concerts"},
            ),
            event(
                "e2",
                "2026-10-21T10:00:00Z",
                user_id="u-buyer",
                name="Purchase",
                context=USA,
                properties={
                    "order_id": "o2",
                    "order_type": "merchandise",
                    "revenue": 30.0,
                    "category": "apparel",
                    "currency": "USD",
                },
            ),
            event(
                "e3",
                "2026-10-22T10:00:00Z",
                user_id="u-buyer",
                name="Order Refunded",
                context=USA,
                properties={"order_id": "o2", "revenue": 30.0},
            ),
            identify("e4", "u-browser", "2026-10-01T09:00:00Z", context=USA, email="look@example.com"),
            event(
                "e5",
                "2026-10-02T09:00:00Z",
                user_id="u-browser",
                name="Product Viewed",
                context=USA,
                properties={"product_id": "p1", "category": "posters"},
            ),
        ],
    )
    build_profiles(warehouse)

    buyer = profile_of(warehouse, "u-buyer")
    assert buyer["order_count"] == 2
    assert buyer["ticket_order_count"] == 1
    assert buyer["merch_order_count"] == 1
    assert buyer["lifetime_value"] == pytest.approx(120.0)
    assert buyer["rfm_recency_days"] == 11
    assert buyer["rfm_segment"] != "prospect"
    assert buyer["top_category"] == "concerts"
    assert buyer["favourite_venue_id"] == "v1"

    browser = profile_of(warehouse, "u-browser")
    assert browser["order_count"] == 0
    assert browser["rfm_segment"] == "prospect"
    assert browser["top_categories"] == "posters"


def test_push_reaches_only_people_who_use_the_app_and_consented(warehouse):
    warehouse.insert(
        "events",
        [
            event(
                "e1",
                "2026-10-01T09:00:00Z",
                user_id="u-app",
                name="Application Opened",
                context={**USA, "device": {"id": "d-1", "type": "ios"}},
            ),
            event(
                "e2",
                "2026-10-01T09:00:00Z",
                user_id="u-web",
                name="Logged In",
                context={**USA, "device": {"type": "web"}},
            ),
        ],
    )
    warehouse.insert(
        "consents",
        [consent("c1", "user_id", "u-app", "push"), consent("c2", "user_id", "u-web", "push")],
    )
    build_profiles(warehouse)

    app = profile_of(warehouse, "u-app")
    assert (app["has_push_consent"], app["is_push_reachable"]) == (True, True)
    web = profile_of(warehouse, "u-web")
    assert (web["has_push_consent"], web["is_push_reachable"]) == (True, False)


def test_every_person_gets_exactly_one_profile(warehouse):
    warehouse.insert(
        "events",
        [
            event(
                "e1",
                "2026-10-01T09:00:00Z",
                anonymous_id="a-1",
                name="Product Viewed",
                context=USA,
                properties={"product_id": "p1"},
            ),
            identify("e2", "u-1", "2026-10-01T09:05:00Z", context=USA, email="one@example.com"),
            event(
                "e3",
                "2026-10-01T09:05:00Z",
                anonymous_id="a-1",
                user_id="u-1",
                name="Logged In",
                context=USA,
            ),
            identify("e4", "u-2", "2026-10-01T09:00:00Z", context=USA, email="two@example.com"),
        ],
    )
    build_profiles(warehouse)

    rows = warehouse.query("select person_id, user_ids, anonymous_ids from profiles order by user_ids")
    assert [(r[1], r[2]) for r in rows] == [("u-1", "a-1"), ("u-2", None)]
    assert len({r[0] for r in rows}) == 2
