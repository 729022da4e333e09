"""What the operator reads in the UI: Markdown tables and a chart, built from the warehouse."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; numbers get thousands separators."""

    def cell(value: object) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.3f}".rstrip("0").rstrip(".")
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    if not rows:
        lines.append("| " + " | ".join(["(none)"] + [""] * (len(headers) - 1)) + " |")
    return "\n".join(lines)


def table_exists(con: duckdb.DuckDBPyConnection, name: str, schema: str = "main") -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()
    return bool(row and row[0])


def people_per_journey(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        """
        select
            journey_id,
            count(*) as people,
            count(*) filter (where channel = 'email') as email,
            count(*) filter (where channel = 'sms') as sms,
            count(*) filter (where channel = 'push') as push,
            count(*) filter (where channel not in ('email', 'sms', 'push')) as other,
            count(*) filter (where is_holdout) as holdout
        from journey_assignments
        group by journey_id
        order by people desc, journey_id
        """
    ).fetchall()
    return markdown_table(["journey", "people", "email", "sms", "push", "other", "control group"], rows)


def decisions_by_reason(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        """
        select decision, reason_code, channel, count(*) as decisions
        from guardrail_decisions
        group by decision, reason_code, channel
        order by decision, decisions desc, reason_code, channel
        """
    ).fetchall()
    return markdown_table(["decision", "reason code", "channel", "decisions"], rows)


def journey_activity_chart(con: duckdb.DuckDBPyConnection, as_of: datetime, days: int = 30) -> bytes:
    """PNG: people entering each journey per run, and messages sent per day by channel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    since = (as_of - timedelta(days=days)).replace(tzinfo=None)
    entries = con.execute(
        """
        select cast(transitioned_at as timestamp) as run_at, journey_id, count(*) as people
        from journey_assignment_history
        where transition = 'entered' and transitioned_at >= ?
        group by all
        order by run_at, journey_id
        """,
        [since],
    ).fetchall()
    sends = []
    if table_exists(con, "stg_channels__message_events"):
        sends = con.execute(
            """
            select cast(date_trunc('day', occurred_at) as date) as day, channel, count(*) as sent
            from stg_channels__message_events
            where event_type = 'sent' and occurred_at >= ?
            group by all
            order by day, channel
            """,
            [since],
        ).fetchall()

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), dpi=80, constrained_layout=True)
    runs = sorted({r[0] for r in entries})
    journeys = sorted({r[1] for r in entries})
    labels = [r.strftime("%m-%d %H:%M") for r in runs]
    base = [0] * len(runs)
    for journey in journeys:
        values = [next((p for a, j, p in entries if a == run and j == journey), 0) for run in runs]
        top.bar(labels, values, bottom=base, label=journey)
        base = [b + v for b, v in zip(base, values, strict=True)]
    top.set_title("People entering a journey, per run (as_of)")
    top.set_ylabel("people")
    if journeys:
        top.legend(fontsize=7, ncols=2, loc="upper left")
    else:
        top.text(0.5, 0.5, "no journey entries yet", ha="center", va="center", transform=top.transAxes)

    for channel in sorted({r[1] for r in sends}):
        points = [(d, n) for d, c, n in sends if c == channel]
        bottom.plot([d for d, _ in points], [n for _, n in points], marker="o", markersize=3, label=channel)
    bottom.set_title(f"Messages sent per day by channel (last {days} days)")
    bottom.set_ylabel("messages")
    if sends:
        bottom.legend(fontsize=7)
        bottom.tick_params(axis="x", labelrotation=30, labelsize=7)
    else:
        bottom.text(0.5, 0.5, "no sends recorded yet", ha="center", va="center", transform=bottom.transAxes)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def chart_metadata(png: bytes, path: Path) -> dict[str, dg.MetadataValue]:
    """The chart inline (Markdown image) and as a file next to the warehouse."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    encoded = base64.b64encode(png).decode("ascii")
    return {
        "journey_activity": dg.MetadataValue.md(f"![journey activity](data:image/png;base64,{encoded})"),
        "journey_activity_png": dg.MetadataValue.path(str(path)),
    }
