"""The decision engine end to end: raw events in, one journey per person out.

Each test loads a few raw events (and catalog rows), builds the queues and the
decision engine at one or more as_of times, and reads what a marketer would
see: who is in which journey, on which channel, and why the others lost.
"""

from __future__ import annotations

import pytest
from rich.console import Console

from journey_atc.explain import explain, render_explanation
from journey_atc.summary import collect_summary

pytestmark = pytest.mark.slow

USA = {"location": {"country": "US"}, "locale": "en-US", "timezone": "America/New_York"}
ENGINE = ["path:dbt_project/models/journeys"]


def event(message_id: str, when: str, user_id: str, name: str | None = None, **properties) -> dict:
    return {
        "message_id": message_id,
        "type": "track",
        "event": name,
        "user_id": user_id,
        "timestamp": when,
        "received_at": when,
        "context": USA,
        "properties": properties,
    }


def identify(message_id: str, when: str, user_id: str, email: str) -> dict:
    return {
        "message_id": message_id,
        "type": "identify",
        "user_id": user_id,
        "timestamp": when,
        "received_at": when,
        "context": USA,
        "properties": {},
        "traits": {"email": email},
    }


def add_show(warehouse, show_id: str, starts_at: str) -> None:
    warehouse.insert(
        "venues",
        [
            {
                "venue_id": f"v-{show_id}",
                "name": "Hall",
                "city": "New York",
                "country": "US",
                "timezone": "America/New_York",
                "capacity": 900,
            }
        ],
    )
    warehouse.insert(
        "shows",
        [
            {
                "show_id": show_id,
                "name": "The Band",
                "category": "concerts",
                "venue_id": f"v-{show_id}",
                "starts_at": starts_at,
                "on_sale_at": "2026-06-01T00:00:00Z",
            }
        ],
    )


def ticket_order(message_id: str, when: str, user_id: str, show_id: str) -> dict:
    return event(
        message_id,
        when,
        user_id,
        "Order Completed",
        order_id=f"o-{message_id}",
        show_id=show_id,
        venue_id=f"v-{show_id}",
        ticket_type="general",
        quantity=2,
        revenue=120,
        currency="USD",
        category="concerts",
        order_type="tickets",
    )


def seed(warehouse) -> None:
    warehouse.dbt("seed", dbt_vars={"atc__as_of": "2026-11-01 00:00:00"})


def decide(warehouse, as_of: str, **dbt_vars) -> None:
    """Build everything up to the decision engine at one as_of."""
    warehouse.dbt("run", "--select", "+int_journey_candidates", *ENGINE, dbt_vars={"atc__as_of": as_of, **dbt_vars})


def assignment_of(warehouse, user_id: str) -> dict | None:
    rows = warehouse.query_dicts(
        "select a.* from journey_assignments as a inner join identity_person_map as m "
        "on a.person_id = m.person_id where m.node = ?",
        [f"user_id:{user_id}"],
    )
    return rows[0] if rows else None


def candidates_of(warehouse, user_id: str) -> dict[str, dict]:
    rows = warehouse.query_dicts(
        "select c.* from journey_candidates_scored as c inner join identity_person_map as m "
        "on c.person_id = m.person_id where m.node = ?",
        [f"user_id:{user_id}"],
    )
    return {r["journey_id"]: r for r in rows}


def history_of(warehouse, user_id: str) -> list[tuple]:
    return warehouse.query(
        "select h.transitioned_at, h.journey_id, h.transition, h.reason_code "
        "from journey_assignment_history as h inner join identity_person_map as m "
        "on h.person_id = m.person_id where m.node = ? order by 1, 3, 2",
        [f"user_id:{user_id}"],
    )


def ticket_holder(warehouse) -> None:
    add_show(warehouse, "s-soon", "2026-11-04T02:00:00Z")
    warehouse.insert(
        "events",
        [
            identify("t1", "2026-10-20T10:00:00Z", "u-fan", "fan@example.com"),
            event("t2", "2026-10-25T10:00:00Z", "u-fan", "Show Viewed", show_id="s-soon", category="concerts"),
            ticket_order("t3", "2026-10-25T10:05:00Z", "u-fan", "s-soon"),
            # repeat views of an unrelated category: a browse-abandonment promotion
            event("t4", "2026-10-30T10:00:00Z", "u-fan", "Category Viewed", category="comedy"),
            event("t5", "2026-10-30T18:00:00Z", "u-fan", "Category Viewed", category="comedy"),
            event("t6", "2026-10-31T10:00:00Z", "u-fan", "Category Viewed", category="comedy"),
        ],
    )


def test_a_ticket_holder_three_days_before_the_show_is_excluded_from_promotions(warehouse):
    ticket_holder(warehouse)
    seed(warehouse)
    decide(warehouse, "2026-11-01 00:00:00")

    assert assignment_of(warehouse, "u-fan")["journey_id"] == "pre_show"
    promotions = [c for c in candidates_of(warehouse, "u-fan").values() if c["category"] == "promotional"]
    assert promotions, "the ticket holder should have queued for at least one promotion"
    for promo in promotions:
        assert not promo["is_chosen"], promo["journey_id"]
        assert promo["rejection_reason"] in ("overlap_suppressed", "not_enough_time"), promo["journey_id"]
    browse = candidates_of(warehouse, "u-fan")["browse_abandonment"]
    assert browse["rejection_reason"] == "overlap_suppressed"
    assert browse["suppressed_by_journey_id"] == "pre_show"


def test_a_person_in_welcome_is_not_interrupted_by_a_promotion_but_is_by_pre_show(warehouse):
    add_show(warehouse, "s-later", "2026-11-20T01:00:00Z")
    warehouse.insert(
        "events",
        [
            identify("w1", "2026-10-30T09:00:00Z", "u-new", "new@example.com"),
            ticket_order("w2", "2026-10-30T09:10:00Z", "u-new", "s-later"),
            event("w3", "2026-10-31T09:00:00Z", "u-new", "Signed Up", method="email"),
            event("w4", "2026-11-02T09:00:00Z", "u-new", "Product Viewed", product_id="p1", category="concerts"),
            event("w5", "2026-11-02T10:00:00Z", "u-new", "Product Viewed", product_id="p1", category="concerts"),
            event("w6", "2026-11-02T11:00:00Z", "u-new", "Product Viewed", product_id="p1", category="concerts"),
        ],
    )
    seed(warehouse)
    # a promotion that would outrank welcome on priority and score alike
    with warehouse.connect() as con:
        con.execute("update journeys set priority = 85 where journey_id = 'browse_abandonment'")

    decide(warehouse, "2026-11-01 00:00:00")
    assert assignment_of(warehouse, "u-new")["journey_id"] == "welcome"

    decide(warehouse, "2026-11-03 00:00:00")
    assert assignment_of(warehouse, "u-new")["journey_id"] == "welcome"
    candidates = candidates_of(warehouse, "u-new")
    assert candidates["browse_abandonment"]["rejection_reason"] == "not_interruptible"
    assert candidates["browse_abandonment"]["score"] > candidates["welcome"]["score"]

    decide(warehouse, "2026-11-07 00:00:00")
    assert assignment_of(warehouse, "u-new")["journey_id"] == "pre_show"
    history = [(str(at), j, t, r) for at, j, t, r in history_of(warehouse, "u-new")]
    assert history == [
        ("2026-11-01 00:00:00", "welcome", "entered", "chosen"),
        ("2026-11-03 00:00:00", "welcome", "stayed", "in_progress"),
        ("2026-11-07 00:00:00", "pre_show", "entered", "chosen"),
        ("2026-11-07 00:00:00", "welcome", "preempted", "preempted"),
    ]


def test_a_completed_journey_is_not_reentered_inside_its_cooldown(warehouse):
    def cart(message_id: str, when: str, cart_id: str) -> dict:
        return event(
            message_id,
            when,
            "u-cart",
            "Product Added",
            cart_id=cart_id,
            product_id="p-tee",
            category="apparel",
            price=30,
            quantity=1,
        )

    warehouse.insert(
        "events",
        [
            identify("c1", "2026-10-01T09:00:00Z", "u-cart", "cart@example.com"),
            cart("c2", "2026-10-31T09:00:00Z", "cart-1"),
            cart("c3", "2026-11-04T09:00:00Z", "cart-2"),
            cart("c4", "2026-11-12T09:00:00Z", "cart-3"),
        ],
    )
    seed(warehouse)
    decide(warehouse, "2026-11-01 00:00:00")
    assert assignment_of(warehouse, "u-cart")["journey_id"] == "abandoned_cart"

    # three days later the journey has run its length; a new cart is abandoned
    # but the seven-day cooldown keeps the person out
    decide(warehouse, "2026-11-05 00:00:00")
    assert (assignment_of(warehouse, "u-cart") or {}).get("journey_id") != "abandoned_cart"
    assert candidates_of(warehouse, "u-cart")["abandoned_cart"]["rejection_reason"] == "reentry_cooldown"

    # after the cooldown the next abandoned cart gets them back in
    decide(warehouse, "2026-11-13 00:00:00")
    assert assignment_of(warehouse, "u-cart")["journey_id"] == "abandoned_cart"
    transitions = [(j, t, r) for _, j, t, r in history_of(warehouse, "u-cart") if j == "abandoned_cart"]
    assert transitions == [
        ("abandoned_cart", "entered", "chosen"),
        ("abandoned_cart", "completed", "length_ended"),
        ("abandoned_cart", "entered", "chosen"),
    ]


def two_browsers(warehouse) -> None:
    warehouse.insert(
        "events",
        [
            identify("b1", "2026-10-01T09:00:00Z", "u-browser", "browser@example.com"),
            event("b0", "2026-10-30T08:00:00Z", "u-browser", "Signed Up", method="email"),
            event("b2", "2026-10-30T09:00:00Z", "u-browser", "Product Viewed", product_id="p1", category="theatre"),
            identify("n1", "2026-10-01T09:00:00Z", "u-newbie", "newbie@example.com"),
            event("n2", "2026-10-31T09:00:00Z", "u-newbie", "Signed Up", method="email"),
        ],
    )


def test_changing_a_journeys_priority_in_the_seed_changes_who_gets_it_and_nothing_else(warehouse):
    two_browsers(warehouse)
    seed(warehouse)
    decide(warehouse, "2026-11-01 00:00:00")
    before = {r["person_id"]: r for r in warehouse.query_dicts("select * from journey_assignments")}
    browser = assignment_of(warehouse, "u-browser")
    assert browser["journey_id"] == "welcome"
    assert "category_education" in candidates_of(warehouse, "u-browser")
    assert "category_education" not in candidates_of(warehouse, "u-newbie")

    with warehouse.connect() as con:
        con.execute("update journeys set priority = 100 where journey_id = 'category_education'")
    decide(warehouse, "2026-11-01 00:00:00")
    after = {r["person_id"]: r for r in warehouse.query_dicts("select * from journey_assignments")}

    assert assignment_of(warehouse, "u-browser")["journey_id"] == "category_education"
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed == {browser["person_id"]}


def test_two_runs_with_the_same_as_of_produce_identical_marts(warehouse):
    ticket_holder(warehouse)
    two_browsers(warehouse)
    seed(warehouse)

    def marts() -> tuple:
        return (
            warehouse.query("select * from journey_assignments order by person_id"),
            warehouse.query("select * from journey_candidates_scored order by candidate_id"),
            warehouse.query("select * from journey_assignment_history order by transition_id"),
        )

    decide(warehouse, "2026-11-01 00:00:00")
    decide(warehouse, "2026-11-02 00:00:00")
    first = marts()
    assert len(first[0]) == 3 and len(first[2]) >= 6
    decide(warehouse, "2026-11-02 00:00:00")
    assert marts() == first


def test_explain_shows_the_choice_the_runner_up_and_every_rejection(warehouse):
    ticket_holder(warehouse)
    seed(warehouse)
    decide(warehouse, "2026-11-01 00:00:00")

    expl = explain(warehouse.path, "fan@example.com")
    assert expl.person_id == assignment_of(warehouse, "u-fan")["person_id"]
    assert explain(warehouse.path, "user_id:u-fan").person_id == expl.person_id
    assert explain(warehouse.path, expl.person_id).person_id == expl.person_id
    assert expl.chosen["journey_id"] == "pre_show"
    assert expl.runner_up is not None and expl.runner_up["rejection_reason"] == "lower_score"
    candidates = candidates_of(warehouse, "u-fan")
    assert {c["journey_id"] for c in expl.rejected} == set(candidates) - {"pre_show"}
    assert all(c["rejection_reason"] for c in expl.rejected)

    console = Console(record=True, width=200)
    render_explanation(expl, console)
    text = console.export_text()
    for journey_id, candidate in candidates.items():
        assert journey_id in text
        if candidate["rejection_reason"]:
            assert candidate["rejection_reason"] in text
    assert "runner-up" in text


def test_people_in_no_queue_and_no_journey_have_no_candidate_and_a_journey_that_ends_still_does(warehouse):
    """Only people with a choice to make get candidates (the none option
    included): a person in a journey whose queue they left still gets none,
    chosen, and an exit; a person in neither has no row, and the summary and
    explain still count and show them as in no journey."""
    warehouse.insert(
        "events",
        [
            identify("q1", "2026-10-01T09:00:00Z", "u-quiet", "quiet@example.com"),
            identify("s1", "2026-10-30T09:00:00Z", "u-signup", "signup@example.com"),
            event("s2", "2026-10-31T09:00:00Z", "u-signup", "Signed Up", method="email"),
        ],
    )
    seed(warehouse)
    decide(warehouse, "2026-11-01 00:00:00")
    assert assignment_of(warehouse, "u-signup")["journey_id"] == "welcome"
    assert candidates_of(warehouse, "u-quiet") == {}

    # the welcome window (7 days) has passed, its length (14 days) has not:
    # the journey ends because the person left its queue
    decide(warehouse, "2026-11-09 00:00:00")
    signup = candidates_of(warehouse, "u-signup")
    assert set(signup) == {"none"} and signup["none"]["is_chosen"]
    assert assignment_of(warehouse, "u-signup") is None
    assert [(j, t, r) for _, j, t, r in history_of(warehouse, "u-signup")] == [
        ("welcome", "entered", "chosen"),
        ("welcome", "exited", "no_longer_qualified"),
    ]

    # a run later, in no queue and no journey: no candidate left
    decide(warehouse, "2026-11-10 00:00:00")
    assert candidates_of(warehouse, "u-signup") == {}
    assert len(history_of(warehouse, "u-signup")) == 2

    people = warehouse.query("select count(*) from profiles")[0][0]
    summary = collect_summary(warehouse.path)
    assert summary.journeys["none"]["people"] == people == 2

    expl = explain(warehouse.path, "quiet@example.com")
    assert expl.candidates == [] and expl.chosen is None
    console = Console(record=True, width=200)
    render_explanation(expl, console)
    assert "nothing to decide, so no journey" in console.export_text()
