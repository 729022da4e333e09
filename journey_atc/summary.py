"""The run summary: what came in, what was quarantined and why, who was found.

`collect_summary` reads the warehouse after a build and returns plain data (also
written as JSON next to the warehouse); `render_summary` draws it for a terminal
with small bar charts, because a distribution is easier to see than to read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

CHANNELS = ("email", "sms", "push", "whatsapp")


@dataclass
class Summary:
    as_of: str | None = None
    rows_in: dict[str, int] = field(default_factory=dict)
    rows_staged: dict[str, int] = field(default_factory=dict)
    load_rejects: int = 0
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)
    people: int = 0
    identifiers: int = 0
    largest_cluster: dict[str, object] = field(default_factory=dict)
    overlinked_identifiers: list[dict[str, object]] = field(default_factory=list)
    merges: dict[str, int] = field(default_factory=dict)
    identity_iterations: int | None = None
    identity_converged: bool | None = None
    unattributed_events: int = 0
    consent: dict[str, dict[str, int]] = field(default_factory=dict)
    reachable_channels: dict[int, int] = field(default_factory=dict)
    rfm_segments: dict[str, int] = field(default_factory=dict)
    journeys: dict[str, dict[str, int]] = field(default_factory=dict)
    rejection_reasons: dict[str, int] = field(default_factory=dict)
    # guardrail decisions by channel (after fallback; "none" when nothing is sent), then
    # "decision:reason_code" -> count
    guardrail_decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    build_seconds: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def _scalar(con, sql: str, params: list | None = None):
    row = con.execute(sql, params or []).fetchone()
    return row[0] if row else None


def collect_summary(db_path: str | Path, schema: str = "main") -> Summary:
    """Read the built warehouse and gather the figures the summary shows."""
    s = Summary()
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for table in ("events", "message_events", "consents"):
            if _exists(con, "raw", table):
                s.rows_in[table] = _scalar(con, f"select count(*) from raw.{table}")
        if _exists(con, "raw", "load_rejects"):
            s.load_rejects = _scalar(con, "select count(*) from raw.load_rejects")
        staged = {
            "events": "stg_segment__events",
            "message_events": "stg_channels__message_events",
            "consents": "stg_consents__consents",
        }
        for table, model in staged.items():
            if _exists(con, schema, model):
                s.rows_staged[table] = _scalar(con, f"select count(*) from {schema}.{model}")
        if _exists(con, schema, "quarantined_rows"):
            for source_table, reason, n in con.execute(
                f"select source_table, reason_code, count(*) from {schema}.quarantined_rows "
                "group by all order by 1, 3 desc, 2"
            ).fetchall():
                table = source_table.removeprefix("raw.")
                s.quarantined.setdefault(table, {})[reason] = n
        if _exists(con, schema, "identity_person_map"):
            s.identifiers = _scalar(con, f"select count(*) from {schema}.identity_person_map")
            row = con.execute(
                f"select person_id, count(*) as n from {schema}.identity_person_map "
                "group by person_id order by n desc, person_id limit 1"
            ).fetchone()
            if row:
                s.largest_cluster = {"person_id": row[0], "identifiers": row[1]}
        if _exists(con, schema, "identity_overlinked_identifiers"):
            cur = con.execute(
                f"select node, linked_identifier_count from {schema}.identity_overlinked_identifiers "
                "order by linked_identifier_count desc, node limit 10"
            )
            s.overlinked_identifiers = [{"identifier": node, "linked": n} for node, n in cur.fetchall()]
        if _exists(con, schema, "identity_merges"):
            for kind, n in con.execute(
                f"select merge_type, count(*) from {schema}.identity_merges group by 1 order by 1"
            ).fetchall():
                s.merges[kind] = n
        if _exists(con, schema, "int_identity__components"):
            row = con.execute(
                f"select max(iterations), bool_and(is_converged) from {schema}.int_identity__components"
            ).fetchone()
            if row:
                s.identity_iterations, s.identity_converged = row
        if _exists(con, schema, "int_events_stitched"):
            s.unattributed_events = _scalar(
                con, f"select count(*) from {schema}.int_events_stitched where person_id is null"
            )
        has_profiles = _exists(con, schema, "profiles")
        if has_profiles:
            s.people = _scalar(con, f"select count(*) from {schema}.profiles")
            cols = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = 'profiles'",
                    [schema],
                ).fetchall()
            }
            for ch in CHANNELS:
                parts = []
                if f"has_{ch}_consent" in cols:
                    parts.append(f"count(*) filter (where has_{ch}_consent) as consented")
                if f"is_{ch}_reachable" in cols:
                    parts.append(f"count(*) filter (where is_{ch}_reachable) as reachable")
                if parts:
                    cur = con.execute(f"select {', '.join(parts)} from {schema}.profiles")
                    names = [d[0] for d in cur.description]
                    s.consent[ch] = dict(zip(names, cur.fetchone(), strict=True))
            if "reachable_channel_count" in cols:
                for n, c in con.execute(
                    f"select reachable_channel_count, count(*) from {schema}.profiles group by 1 order by 1"
                ).fetchall():
                    s.reachable_channels[int(n)] = c
            if "rfm_segment" in cols:
                for seg, c in con.execute(
                    f"select rfm_segment, count(*) from {schema}.profiles group by 1 order by 2 desc, 1"
                ).fetchall():
                    s.rfm_segments[str(seg)] = c
        if _exists(con, schema, "journey_candidates_scored"):
            for journey_id, people, holdout in con.execute(
                f"select journey_id, count(*), count(*) filter (where is_holdout) "
                f"from {schema}.journey_candidates_scored where is_chosen group by 1 order by 2 desc, 1"
            ).fetchall():
                s.journeys[journey_id] = {"people": people, "holdout": holdout}
            # people in no queue and no journey have no candidate row: no journey either
            # (max: profiles may have been rebuilt apart from the decisions)
            if has_profiles:
                in_journeys = sum(v["people"] for j, v in s.journeys.items() if j != "none")
                if s.people > in_journeys or "none" in s.journeys:
                    s.journeys["none"] = {"people": max(0, s.people - in_journeys), "holdout": 0}
                s.journeys = dict(sorted(s.journeys.items(), key=lambda kv: (-kv[1]["people"], kv[0])))
            for reason, n in con.execute(
                f"select rejection_reason, count(*) from {schema}.journey_candidates_scored "
                "where not is_chosen group by 1 order by 2 desc, 1 limit 10"
            ).fetchall():
                s.rejection_reasons[str(reason)] = n
        if _exists(con, schema, "guardrail_decisions"):
            for channel, decision, reason, n in con.execute(
                f"select coalesce(channel, 'none'), decision, reason_code, count(*) "
                f"from {schema}.guardrail_decisions group by all order by 1, 2, 4 desc, 3"
            ).fetchall():
                s.guardrail_decisions.setdefault(channel, {})[f"{decision}:{reason}"] = n
    finally:
        con.close()
    return s


def _bar(value: int, total: int, width: int = 28) -> str:
    if total <= 0:
        return ""
    filled = round(width * value / total)
    if value and not filled:
        return "▏"
    return "█" * filled


def _pct(value: int, total: int) -> str:
    return f"{100 * value / total:.1f}%" if total else "-"


def render_summary(s: Summary, console: Console | None = None) -> None:
    """Print the summary as tables with bar charts."""
    console = console or Console()
    title = "journey-atc run summary" + (f" (as_of {s.as_of})" if s.as_of else "")
    console.rule(f"[bold]{title}")

    t = Table(title="Rows in", title_justify="left")
    t.add_column("raw table")
    t.add_column("rows in", justify="right")
    t.add_column("staged", justify="right")
    t.add_column("quarantined", justify="right")
    for table, n in s.rows_in.items():
        q = sum(s.quarantined.get(table, {}).values())
        t.add_row(table, f"{n:,}", f"{s.rows_staged.get(table, 0):,}", f"{q:,} ({_pct(q, n)})")
    if s.load_rejects:
        t.add_row("rejected at load", f"{s.load_rejects:,}", "-", "see raw.load_rejects")
    console.print(t)

    if s.quarantined:
        t = Table(title="Quarantined rows by reason", title_justify="left")
        t.add_column("table")
        t.add_column("reason")
        t.add_column("rows", justify="right")
        t.add_column("")
        biggest = max(n for reasons in s.quarantined.values() for n in reasons.values())
        for table, reasons in s.quarantined.items():
            for reason, n in reasons.items():
                t.add_row(table, reason, f"{n:,}", f"[yellow]{_bar(n, biggest)}")
        console.print(t)

    t = Table(title="Identity", title_justify="left")
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_row("people found", f"{s.people:,}")
    t.add_row("identifiers stitched", f"{s.identifiers:,}")
    if s.largest_cluster:
        t.add_row(
            "largest identity cluster",
            f"{s.largest_cluster['identifiers']:,} identifiers ({s.largest_cluster['person_id']})",
        )
    t.add_row("over-linked identifiers (not used to link)", f"{len(s.overlinked_identifiers):,}")
    for o in s.overlinked_identifiers[:3]:
        t.add_row(f"  {o['identifier']}", f"linked to {o['linked']:,}")
    t.add_row("events with no person (only over-linked ids)", f"{s.unattributed_events:,}")
    for kind, n in s.merges.items():
        t.add_row(f"recorded {kind}s", f"{n:,}")
    if s.identity_iterations is not None:
        state = "converged" if s.identity_converged else "[red]DID NOT CONVERGE"
        t.add_row("label propagation", f"{s.identity_iterations} rounds, {state}")
    console.print(t)

    if s.consent:
        t = Table(title="Profiles by consent and contactability", title_justify="left")
        t.add_column("channel")
        t.add_column("consented", justify="right")
        t.add_column("reachable", justify="right")
        t.add_column("reachable share")
        for ch, v in s.consent.items():
            c, r = v.get("consented", 0), v.get("reachable", 0)
            t.add_row(
                ch,
                f"{c:,} ({_pct(c, s.people)})",
                f"{r:,} ({_pct(r, s.people)})",
                f"[green]{_bar(r, s.people)}",
            )
        console.print(t)
    if s.reachable_channels:
        t = Table(title="People by number of reachable channels", title_justify="left")
        t.add_column("channels")
        t.add_column("people", justify="right")
        t.add_column("")
        top = max(s.reachable_channels.values())
        for n, c in s.reachable_channels.items():
            t.add_row(str(n), f"{c:,}", f"[cyan]{_bar(c, top)}")
        console.print(t)
    if s.rfm_segments:
        t = Table(title="RFM segments", title_justify="left")
        t.add_column("segment")
        t.add_column("people", justify="right")
        t.add_column("")
        top = max(s.rfm_segments.values())
        for seg, c in s.rfm_segments.items():
            t.add_row(seg, f"{c:,}", f"[magenta]{_bar(c, top)}")
        console.print(t)
    if s.journeys:
        t = Table(title="People per chosen journey", title_justify="left")
        t.add_column("journey")
        t.add_column("people", justify="right")
        t.add_column("of which holdout", justify="right")
        t.add_column("")
        top = max(v["people"] for v in s.journeys.values())
        for journey_id, v in s.journeys.items():
            t.add_row(journey_id, f"{v['people']:,}", f"{v['holdout']:,}", f"[blue]{_bar(v['people'], top)}")
        console.print(t)
    if s.rejection_reasons:
        t = Table(title="Top reasons a candidate journey was not chosen", title_justify="left")
        t.add_column("reason")
        t.add_column("candidates", justify="right")
        t.add_column("")
        top = max(s.rejection_reasons.values())
        for reason, n in s.rejection_reasons.items():
            t.add_row(reason, f"{n:,}", f"[red]{_bar(n, top)}")
        console.print(t)
    if s.guardrail_decisions:
        t = Table(title="Guardrail decisions by reason code per channel", title_justify="left")
        t.add_column("channel")
        t.add_column("decision")
        t.add_column("reason")
        t.add_column("people", justify="right")
        t.add_column("")
        top = max(n for reasons in s.guardrail_decisions.values() for n in reasons.values())
        colours = {"send": "green", "defer": "yellow", "drop": "red"}
        for channel, reasons in s.guardrail_decisions.items():
            for key, n in reasons.items():
                decision, _, reason = key.partition(":")
                colour = colours.get(decision, "white")
                t.add_row(channel, f"[{colour}]{decision}", reason, f"{n:,}", f"[{colour}]{_bar(n, top)}")
        console.print(t)
    if s.build_seconds is not None:
        console.print(f"Run took {s.build_seconds:,.1f} s")
