"""Who lands in which journey queue: raw Segment events in, queue rows out.

Every test loads a handful of raw events (and catalog rows), builds the
queues and everything they read, and checks the queue the way a marketer
would: is this person in the journey, with which cart, show, variant or
category, and why.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

AS_OF = "2026-11-01 12:00:00"
NOW = datetime.fromisoformat(AS_OF)

pytestmark = pytest.mark.slow


def at(**delta: float) -> str:
    """An ISO-8601 UTC time relative to as_of: at(hours=-2) is two hours before."""
    return (NOW + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def track(message_id: str, user_id: str, name: str, when: str, **properties) -> dict:
    """One raw Segment track call from a logged-in user."""
    return {
        "message_id": message_id,
        "type": "track",
        "event": name,
        "user_id": user_id,
        "timestamp": when,
        "received_at": when,
        "context": {"locale": "en-GB", "timezone": "Europe/London"},
        "properties": properties,
    }


def build_queues(warehouse) -> None:
    """Seed, build the queues and everything upstream, then run the queues' own tests.

    Upstream layers' tests have their own test modules; only the queue models'
    data and unit tests run here, which keeps each scenario to one build.
    """
    as_of = {"atc__as_of": AS_OF}
    warehouse.dbt("seed")
    warehouse.dbt("build", "--select", "+tag:journey_queue", "--resource-type", "model", dbt_vars=as_of)
    warehouse.dbt("test", "--select", "tag:journey_queue", dbt_vars=as_of)


def queue(warehouse, journey_id: str) -> dict[str, dict]:
    """The queue of one journey keyed by the person's user id, context parsed."""
    rows = warehouse.query_dicts(
        f"""
        select profiles.primary_user_id as user_id, queue.*
        from queue_{journey_id} as queue
        inner join profiles on queue.person_id = profiles.person_id
        """
    )
    for row in rows:
        row["context"] = json.loads(row["context"])
    return {row["user_id"]: row for row in rows}


def test_a_cart_abandoned_and_then_bought_gets_no_abandoned_cart_journey(warehouse):
    warehouse.insert(
        "events",
        [
            track("e1", "u-bought", "Product Added", at(hours=-5), cart_id="c-bought",
                  product_id="p-tee", price=25, quantity=1),
            track("e2", "u-bought", "Order Completed", at(hours=-4), order_id="o1",
                  cart_id="c-bought", order_type="merchandise", revenue=25, currency="GBP"),
            track("e3", "u-left", "Add to Cart", at(hours=-5), cart_id="c-left",
                  product_id="p-tee", price=25, quantity=1),
            # bought through another cart after adding: the purchase still counts
            track("e4", "u-elsewhere", "Product Added", at(hours=-6), cart_id="c-old",
                  product_id="p-tee", price=25),
            track("e5", "u-elsewhere", "Order Completed", at(hours=-3), order_id="o2",
                  cart_id="c-new", order_type="merchandise", revenue=25),
        ],
    )  # fmt: skip
    build_queues(warehouse)

    abandoned = queue(warehouse, "abandoned_cart")
    assert "u-bought" not in abandoned
    assert "u-elsewhere" not in abandoned
    assert abandoned["u-left"]["context_key"] == "c-left"


def test_an_abandoned_cart_enters_the_queue_with_its_items(warehouse):
    warehouse.insert(
        "products",
        [
            {"product_id": "p-tee", "name": "Tour T-shirt", "category": "apparel",
             "price": 25.0, "currency": "GBP"},
            {"product_id": "p-lp", "name": "Live LP", "category": "music",
             "price": 30.0, "currency": "GBP"},
            {"product_id": "p-cap", "name": "Cap", "category": "accessories",
             "price": 15.0, "currency": "GBP"},
        ],
    )  # fmt: skip
    warehouse.insert(
        "events",
        [
            track("e1", "u-cart", "Product Added", at(hours=-8), cart_id="c1",
                  product_id="p-tee", quantity=2),
            track("e2", "u-cart", "Product Added", at(hours=-7), cart_id="c1",
                  product_id="p-cap", quantity=1),
            track("e3", "u-cart", "Product Removed", at(hours=-6, minutes=-30), cart_id="c1",
                  product_id="p-cap"),
            # a price that is no number: the catalog's price is used
            track("e4", "u-cart", "Add to Cart", at(hours=-6), cart_id="c1",
                  product_id="p-lp", quantity=1, price="ask us"),
            # still shopping: the cart was touched ten minutes ago
            track("e5", "u-fresh", "Product Added", at(minutes=-10), cart_id="c2",
                  product_id="p-tee"),
            # too old to chase
            track("e6", "u-stale", "Product Added", at(days=-4), cart_id="c3",
                  product_id="p-tee"),
        ],
    )  # fmt: skip
    build_queues(warehouse)

    abandoned = queue(warehouse, "abandoned_cart")
    assert set(abandoned) == {"u-cart"}
    cart = abandoned["u-cart"]
    assert cart["context_key"] == "c1"
    assert cart["qualified_at"] == NOW - timedelta(hours=6)
    items = {item["product_id"]: item for item in cart["context"]["items"]}
    assert set(items) == {"p-tee", "p-lp"}
    assert (items["p-tee"]["name"], items["p-tee"]["price"], items["p-tee"]["quantity"]) == (
        "Tour T-shirt",
        25.0,
        2,
    )
    assert items["p-lp"]["name"] == "Live LP"
    assert cart["context"]["cart_value"] == 80.0
    assert 0 < cart["urgency_score"] < 1
    assert "80" in cart["entry_reason"]


def test_an_early_buyer_gets_the_preview_variant_and_a_last_minute_buyer_the_know_before_you_go(
    warehouse,
):
    starts = NOW + timedelta(days=5)
    warehouse.insert(
        "venues",
        [{"venue_id": "v-o2", "name": "The O2", "city": "London", "country": "GB",
          "timezone": "Europe/London", "capacity": 20000}],
    )  # fmt: skip
    warehouse.insert(
        "shows",
        [
            {"show_id": "s-gig", "name": "Big Gig", "category": "concerts", "venue_id": "v-o2",
             "starts_at": starts.strftime("%Y-%m-%dT%H:%M:%SZ"),
             "on_sale_at": "2026-06-01T09:00:00Z"},
            {"show_id": "s-later", "name": "Later Gig", "category": "concerts",
             "venue_id": "v-o2", "starts_at": at(days=40), "on_sale_at": "2026-06-01T09:00:00Z"},
        ],
    )  # fmt: skip
    warehouse.insert(
        "events",
        [
            track("e1", "u-early", "Order Completed", at(days=-45), order_id="o-early",
                  order_type="tickets", show_id="s-gig", venue_id="v-o2", ticket_type="vip",
                  quantity=2, revenue=300),
            track("e2", "u-late", "Purchase", at(days=-3), order_id="o-late",
                  order_type="tickets", show_id="s-gig", venue_id="v-o2",
                  ticket_type="general", quantity=1, revenue=60),
            track("e3", "u-far", "Order Completed", at(days=-2), order_id="o-far",
                  order_type="tickets", show_id="s-later", ticket_type="general", revenue=60),
        ],
    )  # fmt: skip
    build_queues(warehouse)

    pre_show = queue(warehouse, "pre_show")
    assert set(pre_show) == {"u-early", "u-late"}
    early, late = pre_show["u-early"], pre_show["u-late"]
    assert (early["context"]["variant"], early["context"]["offer"]) == (
        "early_buyer",
        "previews_and_upgrades",
    )
    assert (late["context"]["variant"], late["context"]["offer"]) == (
        "last_minute",
        "know_before_you_go",
    )
    for row in (early, late):
        assert row["event_at"] == starts
        assert row["context_key"] == "s-gig"
        assert row["context"]["venue_timezone"] == "Europe/London"
        assert row["context"]["venue_name"] == "The O2"
    assert early["context"]["ticket_type"] == "vip"
    assert late["context"]["ticket_type"] == "general"


def test_crossing_the_vip_threshold_today_enters_vip_loyalty_today(warehouse):
    warehouse.insert(
        "events",
        [
            track("e1", "u-today", "Order Completed", at(days=-30), order_id="o1", revenue=300),
            track("e2", "u-today", "Order Completed", at(hours=-2), order_id="o2", revenue=250),
            track("e3", "u-earlier", "Order Completed", at(days=-7), order_id="o3", revenue=600),
            track("e4", "u-earlier", "Order Completed", at(hours=-3), order_id="o4", revenue=100),
            track("e5", "u-below", "Order Completed", at(hours=-1), order_id="o5", revenue=100),
            # crossed today, then refunded back below the threshold
            track("e6", "u-refunded", "Order Completed", at(days=-9), order_id="o6", revenue=450),
            track("e7", "u-refunded", "Order Completed", at(hours=-5), order_id="o7", revenue=100),
            track("e8", "u-refunded", "Order Refunded", at(hours=-4), order_id="o7", revenue=100),
        ],
    )
    build_queues(warehouse)

    vip = queue(warehouse, "vip_loyalty")
    assert set(vip) == {"u-today"}
    assert vip["u-today"]["qualified_at"] == NOW - timedelta(hours=2)
    assert vip["u-today"]["context_key"] == "o2"
    assert vip["u-today"]["context"]["lifetime_value"] == 550.0


def test_a_lapsed_customer_enters_win_back(warehouse):
    warehouse.insert(
        "events",
        [
            track("e1", "u-lapsed", "Order Completed", at(days=-200), order_id="o1", revenue=80),
            track("e2", "u-recent", "Order Completed", at(days=-30), order_id="o2", revenue=80),
            track("e3", "u-gone", "Order Completed", at(days=-700), order_id="o3", revenue=80),
            track("e4", "u-browser", "Product Viewed", at(days=-200), product_id="p1"),
        ],
    )
    build_queues(warehouse)

    win_back = queue(warehouse, "win_back")
    assert set(win_back) == {"u-lapsed"}
    assert win_back["u-lapsed"]["qualified_at"] == NOW - timedelta(days=80)
    assert win_back["u-lapsed"]["context"]["days_since_last_order"] == 200


def test_repeat_views_of_one_category_enter_browse_abandonment(warehouse):
    warehouse.insert(
        "shows",
        [{"show_id": "s-gig", "name": "Big Gig", "category": "concerts", "venue_id": "v1",
          "starts_at": at(days=30), "on_sale_at": "2026-06-01T09:00:00Z"}],
    )  # fmt: skip
    warehouse.insert(
        "events",
        [
            track("e1", "u-browser", "Category Viewed", at(days=-2), category="concerts"),
            track("e2", "u-browser", "Show Viewed", at(days=-1), show_id="s-gig"),
            track("e3", "u-browser", "Event Viewed", at(hours=-5), show_id="s-gig"),
            track("e4", "u-browser", "Category Viewed", at(hours=-4), category="comedy"),
            track("e5", "u-twice", "Category Viewed", at(days=-1), category="concerts"),
            track("e6", "u-twice", "Show Viewed", at(hours=-3), show_id="s-gig"),
            track("e7", "u-buyer", "Category Viewed", at(days=-2), category="concerts"),
            track("e8", "u-buyer", "Show Viewed", at(days=-1), show_id="s-gig"),
            track("e9", "u-buyer", "Show Viewed", at(hours=-6), show_id="s-gig"),
            track("e10", "u-buyer", "Order Completed", at(hours=-5), order_id="o1",
                  order_type="tickets", show_id="s-gig", ticket_type="general", revenue=60),
            track("e11", "u-old", "Category Viewed", at(days=-10), category="concerts"),
            track("e12", "u-old", "Category Viewed", at(days=-9), category="concerts"),
            track("e13", "u-old", "Category Viewed", at(days=-8), category="concerts"),
        ],
    )  # fmt: skip
    build_queues(warehouse)

    browse = queue(warehouse, "browse_abandonment")
    assert set(browse) == {"u-browser"}
    browser = browse["u-browser"]
    assert browser["context_key"] == "concerts"
    assert browser["context"]["view_count"] == 3
    assert browser["qualified_at"] == NOW - timedelta(hours=5)
    assert "concerts" in browser["entry_reason"]
