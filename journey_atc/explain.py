"""Why a person got the journey they got: the choice, the runner-up and every rejection.

`explain` resolves a person from a person_id or any identifier the identity graph
knows (`email:ada@example.com`, `user_id:u-1`, or a bare email / user id) and
reads `journey_candidates_scored`, which keeps every candidate of every person
in a queue or a journey, with its score and the reason it was not chosen (a
person in neither has no candidate: no journey). `render_explanation` draws it
as a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from activation.state import table_exists

IDENTIFIER_TYPES = ("user_id", "email", "phone", "anonymous_id", "device_id")

REASONS = {
    "journey_inactive": "the journey is switched off (no metadata or no active_from)",
    "outside_active_window": "the journey is outside its active dates",
    "reentry_cooldown": "left this journey too recently (re-entry cooldown)",
    "max_entries_reached": "already entered this journey as often as allowed",
    "overlap_suppressed": "blocked by an overlapping journey that suppresses this category",
    "no_reachable_channel": "no consented, reachable channel in the journey's preference",
    "not_enough_time": "the journey is longer than the time left before the event",
    "lower_score": "another journey scored higher",
    "not_interruptible": "scored higher, but may not interrupt the journey in progress",
    "holdout": "chosen, but in the control group: recorded, never messaged",
}

_COLUMNS = (
    "journey_id, journey_name, category, priority, score, rank, is_chosen, is_runner_up, "
    "is_holdout, rejection_reason, suppressed_by_journey_id, current_journey_id, channel, "
    "entry_reason, context_key, decided_at"
)


class PersonNotFound(LookupError):
    """No person matches the identifier."""


@dataclass
class Explanation:
    who: str
    person_id: str
    decided_at: object = None
    chosen: dict | None = None
    runner_up: dict | None = None
    rejected: list[dict] = field(default_factory=list)
    candidates: list[dict] = field(default_factory=list)
    assignment: dict | None = None


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> list[dict]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def resolve_person(con: duckdb.DuckDBPyConnection, who: str) -> str:
    """The person_id for a person_id, a `type:value` node, or a bare email / user id."""
    who = who.strip()
    known = table_exists(con, "main", "profiles")
    if known and con.execute("select 1 from profiles where person_id = ?", [who]).fetchone():
        return who
    if not table_exists(con, "main", "identity_person_map"):
        raise PersonNotFound(f"no person {who!r}: identity_person_map is not built")
    kind, sep, value = who.partition(":")
    if sep and kind in IDENTIFIER_TYPES:
        nodes = [f"{kind}:{value.lower() if kind == 'email' else value}"]
    else:
        nodes = [f"{kind}:{who.lower() if kind == 'email' else who}" for kind in IDENTIFIER_TYPES]
    placeholders = ", ".join("?" for _ in nodes)
    found = con.execute(
        f"select distinct person_id from identity_person_map where node in ({placeholders}) "
        "and person_id is not null order by person_id",
        nodes,
    ).fetchall()
    if not found:
        raise PersonNotFound(f"no person matches {who!r}")
    if len(found) > 1:
        ids = ", ".join(r[0] for r in found)
        raise PersonNotFound(f"{who!r} matches several people ({ids}); use type:value or a person_id")
    return found[0][0]


def explain(db_path: str | Path, who: str) -> Explanation:
    """Every candidate journey of one person, best first, with scores and reasons."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        person_id = resolve_person(con, who)
        if not table_exists(con, "main", "journey_candidates_scored"):
            raise PersonNotFound("journey_candidates_scored is not built; run `atc build` first")
        candidates = _rows(
            con,
            f"select {_COLUMNS} from journey_candidates_scored where person_id = ? order by rank, journey_id",
            [person_id],
        )
        assignment = None
        if table_exists(con, "main", "journey_assignments"):
            found = _rows(con, "select * from journey_assignments where person_id = ?", [person_id])
            assignment = found[0] if found else None
    finally:
        con.close()
    expl = Explanation(who=who, person_id=person_id, candidates=candidates, assignment=assignment)
    for c in candidates:
        expl.decided_at = c["decided_at"]
        if c["is_chosen"]:
            expl.chosen = c
        elif c["is_runner_up"]:
            expl.runner_up = c
        if not c["is_chosen"]:
            expl.rejected.append(c)
    return expl


def reason_text(candidate: dict) -> str:
    code = candidate.get("rejection_reason")
    if code is None:
        return "chosen"
    text = REASONS.get(code, code)
    if code == "overlap_suppressed" and candidate.get("suppressed_by_journey_id"):
        text += f" ({candidate['suppressed_by_journey_id']})"
    if code == "not_interruptible" and candidate.get("current_journey_id"):
        text += f" ({candidate['current_journey_id']})"
    return text


def render_explanation(expl: Explanation, console: Console | None = None) -> None:
    """Print the decision for one person as a table, best candidate first."""
    console = console or Console()
    chosen = expl.chosen["journey_id"] if expl.chosen else "nothing"
    console.rule(f"[bold]{expl.who}[/bold] (person {expl.person_id}): {chosen}")
    if expl.assignment:
        a = expl.assignment
        via = "control group, not messaged" if a["is_holdout"] else f"via {a['channel']}"
        console.print(f"In [bold]{a['journey_id']}[/bold] since {a['entered_at']} until {a['expected_end_at']}, {via}.")
        if a.get("entry_reason"):
            console.print(f"Why: {a['entry_reason']}")
    if not expl.candidates:
        console.print(
            "No candidates at the last decision: in no journey queue and in no journey, "
            "nothing to decide, so no journey (only people with a choice to make get candidates)."
        )
        return
    t = Table(title=f"Candidates (decided at {expl.decided_at})", title_justify="left")
    t.add_column("rank", justify="right")
    t.add_column("journey")
    t.add_column("category")
    t.add_column("priority", justify="right")
    t.add_column("score", justify="right")
    t.add_column("outcome")
    t.add_column("why")
    for c in expl.candidates:
        if c["is_chosen"]:
            outcome = "[green]chosen"
        elif c["is_runner_up"]:
            outcome = f"[yellow]runner-up ({c['rejection_reason']})"
        else:
            outcome = f"[red]{c['rejection_reason']}"
        why = reason_text(c) if c["rejection_reason"] else (c["entry_reason"] or "")
        t.add_row(
            str(c["rank"]),
            c["journey_id"],
            c["category"] or "",
            str(c["priority"]),
            f"{c['score']:.3f}" if c["score"] is not None else "",
            outcome,
            why,
        )
    console.print(t)
