"""Identity resolution: identifiers seen together become one person, shared
identifiers link nobody, and a person_id survives runs unless a recorded merge
or split changes it."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest

pytestmark = pytest.mark.slow

AS_OF_1 = "2026-10-20 00:00:00"
AS_OF_2 = "2026-10-25 00:00:00"
AS_OF_3 = "2026-11-01 00:00:00"

_message_ids = itertools.count(1)


def event(
    *,
    type: str = "track",
    user_id: str | None = None,
    anonymous_id: str | None = None,
    previous_id: str | None = None,
    device_id: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    at: str = "2026-10-01T10:00:00Z",
) -> dict:
    """One raw Segment event carrying the given identifiers."""
    context: dict = {"locale": "en-US"}
    if device_id is not None:
        context["device"] = {"id": device_id, "type": "ios"}
    traits = {k: v for k, v in {"email": email, "phone": phone}.items() if v is not None}
    return {
        "message_id": f"msg-{next(_message_ids):07d}",
        "type": type,
        "event": {"track": "Product Viewed"}.get(type),
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "previous_id": previous_id,
        "timestamp": at,
        "received_at": at,
        "context": context,
        "properties": {},
        "traits": traits or ({} if type == "identify" else None),
    }


def build(warehouse, as_of: str = AS_OF_3, **dbt_vars):
    return warehouse.dbt(
        "build",
        "--select",
        "+int_events_stitched",
        "identity_merges",
        dbt_vars={"atc__as_of": as_of, **dbt_vars},
    )


def person_of(warehouse) -> dict[str, str]:
    """node -> person_id from the person map."""
    return dict(warehouse.query("select node, person_id from identity_person_map"))


def persons_of_events(warehouse) -> dict[str, str | None]:
    return dict(warehouse.query("select event_id, person_id from int_events_stitched"))


def test_three_anonymous_devices_and_a_later_login_become_one_person(warehouse):
    rows = []
    for n in (1, 2, 3):
        rows += [event(anonymous_id=f"anon-{n}", device_id=f"device-{n}") for _ in range(3)]
    warehouse.insert("events", rows)
    build(warehouse, as_of=AS_OF_1)
    assert len(set(persons_of_events(warehouse).values())) == 3

    logins = [
        event(type="identify", user_id="user-1", anonymous_id=f"anon-{n}", at="2026-10-21T09:00:00Z") for n in (1, 2, 3)
    ]
    warehouse.insert("events", logins)
    build(warehouse, as_of=AS_OF_2)

    stitched = warehouse.query_dicts("select * from int_events_stitched")
    assert len(stitched) == 12
    assert len({row["person_id"] for row in stitched}) == 1
    assert None not in {row["person_id"] for row in stitched}
    assert {row["stitched_via"] for row in stitched if row["user_id"]} == {"user_id"}
    nodes = person_of(warehouse)
    assert len({nodes[f"device_id:device-{n}"] for n in (1, 2, 3)} | {nodes["user_id:user-1"]}) == 1


def test_the_kiosk_device_does_not_merge_its_300_users(warehouse):
    rows = [event(user_id=f"fan-{n}", anonymous_id=f"fan-anon-{n}", device_id="box-office-kiosk") for n in range(300)]
    kiosk_only = event(anonymous_id=None, device_id="box-office-kiosk")
    kiosk_only["anonymous_id"] = None
    rows.append(kiosk_only)
    warehouse.insert("events", rows)
    build(warehouse)

    people = warehouse.query("select count(distinct person_id) from int_events_stitched where user_id like 'fan-%'")[0][
        0
    ]
    assert people == 300
    overlinked = warehouse.query_dicts("select * from identity_overlinked_identifiers")
    assert [row["node"] for row in overlinked] == ["device_id:box-office-kiosk"]
    assert overlinked[0]["linked_identifier_count"] == 600
    assert overlinked[0]["threshold"] == 25
    assert "box-office-kiosk" in overlinked[0]["reason"]
    assert "links nobody" in overlinked[0]["reason"]
    assert "device_id:box-office-kiosk" not in person_of(warehouse)
    assert persons_of_events(warehouse)[kiosk_only["message_id"]] is None


def test_a_junk_email_does_not_merge_strangers(warehouse):
    rows = []
    for n in range(30):
        rows.append(
            event(
                type="identify",
                user_id=f"stranger-{n}",
                anonymous_id=f"browser-{n}",
                email="test@test.com",
            )
        )
        rows.append(event(anonymous_id=f"browser-{n}", device_id=f"phone-{n}"))
    # two real people share nothing but their own addresses
    rows.append(event(type="identify", anonymous_id="browser-x", email="ada@example.com"))
    rows.append(event(type="identify", user_id="ada", email="ada@example.com"))
    warehouse.insert("events", rows)
    build(warehouse)

    assert [r[0] for r in warehouse.query("select node from identity_overlinked_identifiers")] == [
        "email:test@test.com"
    ]
    per_stranger = warehouse.query(
        """
        select count(distinct person_id), count(distinct anonymous_id)
        from int_events_stitched where anonymous_id like 'browser-%' and anonymous_id <> 'browser-x'
        """
    )[0]
    assert per_stranger == (30, 30)
    nodes = person_of(warehouse)
    assert nodes["anonymous_id:browser-x"] == nodes["user_id:ada"]
    assert nodes["user_id:stranger-0"] == nodes["device_id:phone-0"]
    assert nodes["user_id:stranger-0"] != nodes["user_id:stranger-1"]


def _graph_events(graph: nx.Graph, prefix: str) -> list[dict]:
    """Raw events realising graph: vertex v is anonymous id '<prefix>v'; an edge
    (u, v) is a device both anonymous ids were seen on (so paths double in length)."""
    rows = [event(anonymous_id=f"{prefix}{v}") for v in graph.nodes]
    for u, v in graph.edges:
        device = f"{prefix}dev-{min(u, v)}-{max(u, v)}"
        rows.append(event(anonymous_id=f"{prefix}{u}", device_id=device))
        rows.append(event(anonymous_id=f"{prefix}{v}", device_id=device))
    return rows


def _random_graphs() -> list[nx.Graph]:
    graphs = []
    for seed in (1, 2, 3):
        rng = random.Random(seed)
        graphs.append(nx.gnm_random_graph(150, 120, seed=seed))
        # two dense clusters that only meet through a long path of shuffled ids
        g = nx.union(
            nx.gnm_random_graph(20, 40, seed=seed),
            nx.gnm_random_graph(20, 40, seed=seed + 10),
            rename=("l", "r"),
        )
        path = [f"p{k}" for k in range(60)]
        rng.shuffle(path)
        nx.add_path(g, ["l0", *path, "r0"])
        graphs.append(nx.convert_node_labels_to_integers(g, first_label=rng.randint(0, 10)))
    # a chain of 300 vertices (599 nodes with the devices) in random id order
    chain = list(range(300))
    random.Random(7).shuffle(chain)
    g = nx.Graph()
    nx.add_path(g, chain)
    graphs.append(g)
    return graphs


def test_components_equal_networkx_on_random_graphs(warehouse):
    graphs = _random_graphs()
    rows = []
    for i, g in enumerate(graphs):
        rows += _graph_events(g, f"g{i}-")
    warehouse.insert("events", rows)
    build(warehouse, atc__max_identifier_links=1000)

    component_of = dict(warehouse.query("select node, component_id from int_identity__components"))
    person = person_of(warehouse)
    for i, g in enumerate(graphs):
        expected = {frozenset(f"anonymous_id:g{i}-{v}" for v in c) for c in nx.connected_components(g)}
        found: dict[str, set[str]] = {}
        for v in g.nodes:
            node = f"anonymous_id:g{i}-{v}"
            found.setdefault(component_of[node], set()).add(node)
        assert {frozenset(c) for c in found.values()} == expected, f"graph {i}"
        for c in expected:
            assert len({person[n] for n in c}) == 1
            # the component id is the smallest node of the component
            assert component_of[next(iter(c))] <= min(c)
    rounds = warehouse.query("select distinct iterations, is_converged from int_identity__components")
    assert len(rounds) == 1 and rounds[0][1] is True
    assert rounds[0][0] < 40


def test_person_id_survives_a_run_where_the_graph_only_grows(warehouse):
    warehouse.insert("events", [event(anonymous_id="anon-1", device_id="device-1")])
    build(warehouse, as_of=AS_OF_1)
    first = person_of(warehouse)["anonymous_id:anon-1"]

    warehouse.insert(
        "events",
        [
            event(type="identify", user_id="user-1", anonymous_id="anon-1", email="ada@example.com"),
            event(user_id="user-1", anonymous_id="anon-2", device_id="device-2"),
            event(anonymous_id="someone-else"),
        ],
    )
    build(warehouse, as_of=AS_OF_2)

    people = warehouse.query_dicts("select * from identity_person_map")
    ours = {row["person_id"] for row in people if row["node"] != "anonymous_id:someone-else"}
    assert ours == {first}
    created = {row["person_created_at"] for row in people if row["person_id"] == first}
    assert [str(c) for c in created] == [AS_OF_1]
    assert warehouse.query("select count(*) from identity_merges")[0][0] == 0


def test_a_merge_of_two_people_is_recorded(warehouse):
    warehouse.insert("events", [event(user_id="user-1", anonymous_id="laptop")])
    build(warehouse, as_of=AS_OF_1)
    warehouse.insert("events", [event(anonymous_id="phone", device_id="iphone")])
    build(warehouse, as_of=AS_OF_2)
    before = person_of(warehouse)
    older, younger = before["user_id:user-1"], before["anonymous_id:phone"]
    assert older != younger

    warehouse.insert("events", [event(type="identify", user_id="user-1", anonymous_id="phone")])
    build(warehouse, as_of=AS_OF_3)

    assert set(person_of(warehouse).values()) == {older}
    merges = warehouse.query_dicts("select * from identity_merges")
    assert len(merges) == 1
    assert merges[0]["merge_type"] == "merge"
    assert merges[0]["surviving_person_id"] == older
    assert merges[0]["absorbed_person_id"] == younger
    assert merges[0]["node_count"] == 2
    assert str(merges[0]["merged_at"]) == AS_OF_3
    assert set(persons_of_events(warehouse).values()) == {older}


def test_a_rerun_with_the_same_as_of_changes_nothing(warehouse):
    warehouse.insert("events", [event(user_id="user-1", anonymous_id="laptop")])
    build(warehouse, as_of=AS_OF_1)
    warehouse.insert(
        "events",
        [
            event(anonymous_id="phone", device_id="iphone"),
            event(type="identify", user_id="user-1", anonymous_id="phone"),
            event(anonymous_id="tablet"),
        ],
    )
    warehouse.insert("events", [event(anonymous_id="laptop", device_id="mac")])
    build(warehouse, as_of=AS_OF_2)
    snapshot = "select * from identity_person_map order by node"
    map_before = warehouse.query(snapshot)
    merges_before = warehouse.query("select * from identity_merges order by merge_id")
    events_before = warehouse.query("select event_id, person_id from int_events_stitched order by event_id")

    build(warehouse, as_of=AS_OF_2)

    assert warehouse.query(snapshot) == map_before
    assert warehouse.query("select * from identity_merges order by merge_id") == merges_before
    assert warehouse.query("select event_id, person_id from int_events_stitched order by event_id") == events_before
    assert len({person for _, person in events_before}) == 2


def test_identity_fails_loudly_when_it_does_not_converge(warehouse):
    chain = list(range(300))
    random.Random(11).shuffle(chain)
    g = nx.Graph()
    nx.add_path(g, chain)
    warehouse.insert("events", _graph_events(g, "chain-"))

    result = warehouse.dbt(
        "build",
        "--select",
        "+int_events_stitched",
        dbt_vars={"atc__as_of": AS_OF_3, "atc__max_identity_iterations": 1},
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Failure in test identity_components_converged" in output
    assert "did not converge" in output.lower()
    assert "atc__max_identity_iterations" in output
    assert warehouse.query("select count(*) from int_identity__components where is_converged")[0][0] == 0
