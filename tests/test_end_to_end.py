"""End to end: the main job (`atc demo`) on a small generated data set.

One build is shared by the module; each test reads what a user would look at.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from rich.console import Console

from journey_atc.dbt import PROJECT_DIR, run_dbt
from journey_atc.summary import collect_summary, render_summary

BIN = Path(sys.executable).parent
PEOPLE = 1_500


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("demo")
    db = root / "warehouse.duckdb"
    env = {
        **os.environ,
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_TARGET_PATH": str(root / "target"),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        [str(BIN / "atc"), "demo", "--people", str(PEOPLE), "--data-dir", str(root / "data"), "--db", str(db)],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-8000:]
    return {"root": root, "db": db, "stdout": proc.stdout, "env": env}


def _query(db: Path, sql: str):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _table_digest(db: Path, table: str, order_by: str) -> str:
    rows = _query(db, f"select * from {table} order by {order_by}")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_the_demo_prints_a_summary_of_rows_quarantine_identity_and_consent(demo):
    out = demo["stdout"]
    for heading in ("Rows in", "Quarantined rows by reason", "people found", "largest identity cluster"):
        assert heading in out
    assert "Profiles by consent and contactability" in out


def test_the_summary_counts_match_the_warehouse(demo):
    s = collect_summary(demo["db"])
    assert s.people == _query(demo["db"], "select count(*) from profiles")[0][0]
    assert s.people > PEOPLE * 0.5
    raw_events = _query(demo["db"], "select count(*) from raw.events")[0][0]
    assert s.rows_in["events"] == raw_events
    assert s.rows_staged["events"] + sum(s.quarantined["events"].values()) == raw_events
    assert s.identity_converged is True
    console = Console(record=True, width=120)
    render_summary(s, console)
    assert f"{s.people:,}" in console.export_text()


def test_the_messy_sample_exercises_every_quarantine_reason_for_events(demo):
    reasons = {r for (r,) in _query(demo["db"], "select distinct reason_code from quarantined_rows")}
    for expected in (
        "duplicate_message_id",
        "no_identifier",
        "unparseable_timestamp",
        "absurd_timestamp",
        "invalid_json",
    ):
        assert expected in reasons


def test_the_kiosks_and_junk_emails_of_the_sample_are_reported_not_merged(demo):
    overlinked = [n for (n,) in _query(demo["db"], "select node from identity_overlinked_identifiers")]
    assert any(n.startswith(("device_id:", "anonymous_id:")) for n in overlinked)
    # every account that used an over-linked identifier stays its own person
    rows = _query(
        demo["db"],
        """
        with links as (
            select o.node, case when e.node_a = o.node then e.node_b else e.node_a end as other
            from identity_overlinked_identifiers as o
            inner join int_identity__edges as e on o.node in (e.node_a, e.node_b)
        )
        select links.node, count(distinct links.other), count(distinct m.person_id)
        from links
        inner join identity_person_map as m on m.node = links.other
        where links.other like 'user_id:%'
        group by links.node
        """,
    )
    assert rows, "the sample has shared identifiers used by several accounts"
    for node, users, persons in rows:
        assert persons == users, f"{node} merged {users} accounts into {persons} people"


def test_every_model_and_column_is_documented(demo):
    run_dbt(["docs", "generate"], db_path=demo["db"], work_dir=demo["root"])
    manifest = json.loads((demo["root"] / "target" / "manifest.json").read_text())
    catalog = json.loads((demo["root"] / "target" / "catalog.json").read_text())
    missing = []
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] not in ("model", "seed") or node["package_name"] != "journey_atc":
            continue
        if not node.get("description", "").strip():
            missing.append(f"{node['name']}: no description")
        documented = {c.lower() for c, v in node["columns"].items() if v.get("description", "").strip()}
        built = catalog["nodes"].get(uid, {}).get("columns", {})
        for col in built:
            if col.lower() not in documented:
                missing.append(f"{node['name']}.{col}")
    assert not missing, "undocumented: " + ", ".join(missing)


def test_a_rebuild_with_the_same_inputs_and_as_of_changes_nothing(demo):
    db = demo["db"]
    tables = {
        "profiles": "person_id",
        "identity_person_map": "node",
        "identity_merges": "merge_id",
        "stg_segment__events": "event_id",
        "quarantined_rows": "quarantine_id",
    }
    before = {t: _table_digest(db, t, k) for t, k in tables.items()}
    run_dbt(["build"], db_path=db, work_dir=demo["root"], dbt_vars={"atc__as_of": "2026-11-01 00:00:00"})
    after = {t: _table_digest(db, t, k) for t, k in tables.items()}
    assert before == after
