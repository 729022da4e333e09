"""Asset checks beyond dbt's tests: the gates in front of every sync.

Blocking checks (an ERROR stops every sync in the run; each sync asset depends
directly on the asset a blocking check guards, which is how Dagster gates it):

* ``identity_converged``      on ``identity_person_map``
* ``assignment_churn``        on ``journey_assignments`` (an operator may confirm)
* ``raw_events_fresh``        on ``stg_segment__events`` (WARN, then ERROR)
* ``guardrail_invariants``    on ``guardrail_decisions`` (caps, quiet hours, consent)

Non-blocking: ``destination_health`` on each sync asset (last run's rejection rate).
"""

from collections.abc import Callable
from datetime import timedelta

import dagster as dg
import duckdb

from orchestration.reports import markdown_table, table_exists
from orchestration.resources import AtcResource

Key = dg.AssetKey
ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN


# ---------------------------------------------------------------- pure rules


def churn_verdict(changed: int, considered: int, threshold: float, confirmed: bool) -> tuple[bool, str]:
    """(passed, sentence) for ``changed`` of ``considered`` people moving journey in one run."""
    if considered == 0:
        return True, "Nobody was in a journey before or after this run."
    share = changed / considered
    text = f"{changed:,} of {considered:,} people ({share:.1%}) change journey in this run (threshold {threshold:.0%})."
    if share <= threshold:
        return True, text
    if confirmed:
        return True, text + " An operator confirmed the move (confirm_churn: true)."
    return False, text + (
        " Syncs are blocked: review the moves below, then re-run with "
        "`resources: {atc: {config: {confirm_churn: true}}}` if they are intended."
    )


def freshness_severity(lag: timedelta, warn_minutes: int, error_minutes: int) -> dg.AssetCheckSeverity | None:
    """None when fresh, WARN past the first threshold, ERROR past the second."""
    if lag > timedelta(minutes=error_minutes):
        return ERROR
    if lag > timedelta(minutes=warn_minutes):
        return WARN
    return None


def rejection_severity(rejected: int, sent: int, warn: float, error: float) -> dg.AssetCheckSeverity | None:
    if sent == 0:
        return None
    rate = rejected / sent
    if rate > error:
        return ERROR
    if rate > warn:
        return WARN
    return None


# ---------------------------------------------------------------- checks


def _missing(con, *tables: str) -> list[str]:
    return [t for t in tables if not table_exists(con, t)]


def _not_built(tables: list[str]) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        severity=ERROR,
        description=f"Not built yet: {', '.join(tables)}. Materialize the dbt assets first.",
    )


@dg.asset_check(
    asset=Key(["identity_person_map"]),
    blocking=True,
    description=(
        "Identity resolution converged and no person is a suspicious super-cluster "
        "(more identifiers than max_identifiers_per_person)."
    ),
    additional_deps=[Key(["int_identity__components"])],
)
def identity_converged(atc: AtcResource) -> dg.AssetCheckResult:
    with atc.connect() as con:
        missing = _missing(con, "identity_person_map", "int_identity__components")
        if missing:
            return _not_built(missing)
        unconverged, iterations = con.execute(
            "select count(*) filter (where not is_converged), max(iterations) from int_identity__components"
        ).fetchone()
        largest = con.execute(
            """
            select person_id, count(*) as identifiers,
                count(distinct identifier_type) as identifier_types
            from identity_person_map
            group by person_id
            order by identifiers desc, person_id
            limit 5
            """
        ).fetchall()
        people = con.execute("select count(distinct person_id) from identity_person_map").fetchone()[0]
    biggest = largest[0][1] if largest else 0
    problems = []
    if unconverged:
        problems.append(f"{unconverged:,} identifiers did not converge after {iterations} rounds")
    if biggest > atc.max_identifiers_per_person:
        problems.append(
            f"person {largest[0][0]} holds {biggest:,} identifiers (limit {atc.max_identifiers_per_person:,}): "
            "a shared device or address is probably linking strangers"
        )
    return dg.AssetCheckResult(
        passed=not problems,
        severity=ERROR,
        description="; ".join(problems)
        or f"Converged in {iterations} rounds; largest person has {biggest} identifiers.",
        metadata={
            "people": dg.MetadataValue.int(int(people)),
            "largest_person_identifiers": dg.MetadataValue.int(int(biggest)),
            "iterations": dg.MetadataValue.int(int(iterations or 0)),
            "largest_people": dg.MetadataValue.md(markdown_table(["person", "identifiers", "types"], largest)),
        },
    )


CHURN_SQL = """
with prior as (
    select person_id, journey_id from int_journey_prior_state where is_active
),
now as (
    select person_id, journey_id from journey_assignments
),
compared as (
    select
        coalesce(prior.person_id, now.person_id) as person_id,
        coalesce(prior.journey_id, '(none)') as from_journey,
        coalesce(now.journey_id, '(none)') as to_journey
    from prior
    full outer join now
        on prior.person_id = now.person_id
)
select from_journey, to_journey, count(*) as people
from compared
group by from_journey, to_journey
order by people desc, from_journey, to_journey
"""


@dg.asset_check(
    asset=Key(["journey_assignments"]),
    blocking=True,
    description=(
        "Share of people whose journey changes in this run, against churn_threshold. Above it, syncs stop "
        "until an operator re-runs with confirm_churn: true."
    ),
    additional_deps=[Key(["int_journey_prior_state"])],
)
def assignment_churn(atc: AtcResource) -> dg.AssetCheckResult:
    with atc.connect() as con:
        missing = _missing(con, "journey_assignments", "int_journey_prior_state")
        if missing:
            return _not_built(missing)
        prior_people = con.execute("select count(*) from int_journey_prior_state where is_active").fetchone()[0]
        moves = con.execute(CHURN_SQL).fetchall()
    considered = sum(n for _, _, n in moves)
    changed = sum(n for a, b, n in moves if a != b)
    metadata = {
        "people_considered": dg.MetadataValue.int(considered),
        "people_changing_journey": dg.MetadataValue.int(changed),
        "churn_share": dg.MetadataValue.float(round(changed / considered, 4) if considered else 0.0),
        "threshold": dg.MetadataValue.float(atc.churn_threshold),
        "confirmed": dg.MetadataValue.bool(atc.confirm_churn),
        "moves": dg.MetadataValue.md(
            markdown_table(["from journey", "to journey", "people"], [m for m in moves if m[0] != m[1]][:20])
        ),
    }
    if prior_people == 0:
        return dg.AssetCheckResult(
            passed=True,
            description="First run: nobody held a journey before, so there is nothing to compare with.",
            metadata=metadata,
        )
    passed, text = churn_verdict(changed, considered, atc.churn_threshold, atc.confirm_churn)
    return dg.AssetCheckResult(passed=passed, severity=ERROR, description=text, metadata=metadata)


@dg.asset_check(
    asset=Key(["stg_segment__events"]),
    blocking=True,
    description=(
        "The newest raw event, relative to the run's as_of: WARN after freshness_warn_minutes, "
        "ERROR (syncs stop) after freshness_error_minutes."
    ),
    additional_deps=[Key(["raw", "events"])],
)
def raw_events_fresh(context: dg.AssetCheckExecutionContext, atc: AtcResource) -> dg.AssetCheckResult:
    as_of = atc.resolve_as_of(context)
    with atc.connect() as con:
        latest = con.execute(
            "select max(try_cast(received_at as timestamptz)) from raw.events where received_at is not null"
        ).fetchone()[0]
        late = con.execute(
            "select count(*) from raw.events where try_cast(received_at as timestamptz) > ?", [as_of]
        ).fetchone()[0]
    if latest is None:
        return dg.AssetCheckResult(passed=False, severity=ERROR, description="raw.events holds no events.")
    lag = as_of - latest
    severity = freshness_severity(lag, atc.freshness_warn_minutes, atc.freshness_error_minutes)
    minutes = lag.total_seconds() / 60
    return dg.AssetCheckResult(
        passed=severity is None,
        severity=severity or WARN,
        description=f"Newest raw event received {minutes:,.0f} minutes before as_of {as_of:%Y-%m-%d %H:%M} UTC.",
        metadata={
            "newest_received_at": dg.MetadataValue.text(latest.isoformat()),
            "as_of": dg.MetadataValue.text(as_of.isoformat()),
            "lag_minutes": dg.MetadataValue.float(round(minutes, 1)),
            "events_after_as_of": dg.MetadataValue.int(int(late)),
        },
    )


def invariant_violations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, str]]:
    """(invariant, violating sends, example person) for every planned send, re-checked from the marts.

    Written apart from the guardrail models on purpose: a bug there must not hide here.
    """
    out = []
    synced = con.execute(
        "select count(*) from information_schema.tables where table_name = 'int_sync__assignments'"
    ).fetchone()[0]
    for name, sql in GUARDRAIL_RULES + (SYNC_RULES if synced else []):
        count, example = con.execute(f"select count(*), min(person_id) from ({sql}) as violations").fetchone()
        out.append((name, int(count), example or "-"))
    return out


# What is about to be synced must be exactly what the guardrails let through:
# a send or a deferral on the same channel, or a step an earlier run planned.
SYNC_RULES = [
    (
        "synced_as_decided",
        """
        select s.person_id
        from int_sync__assignments as s
        left join guardrail_decisions as d
            on s.person_id = d.person_id and s.journey_id = d.journey_id
        where d.person_id is null
            or not (
                (d.decision in ('send', 'defer') and d.channel = s.channel)
                or (d.decision = 'drop' and d.reason_code = 'duplicate')
            )
        """,
    ),
]

# Each query selects the planned sends that break one invariant.
GUARDRAIL_RULES = [
    (
        # consent and a valid, unsuppressed address: the profile's is_<channel>_reachable
        "consent",
        """
        select d.person_id
        from guardrail_decisions as d
        left join profiles as p on d.person_id = p.person_id
        where d.decision = 'send'
            and d.channel in ('email', 'sms', 'push', 'whatsapp')
            and not coalesce(case d.channel
                when 'email' then p.is_email_reachable
                when 'sms' then p.is_sms_reachable
                when 'push' then p.is_push_reachable
                when 'whatsapp' then p.is_whatsapp_reachable
            end, false)
        """,
    ),
    (
        # quiet hours: the send time, in the person's time zone, inside the channel's send window
        "quiet_hours",
        """
        with local as (
            select
                d.person_id,
                c.send_window_start,
                c.send_window_end,
                strftime(timezone(d.timezone, cast(d.decided_at as timestamptz)), '%H:%M') as local_time
            from guardrail_decisions as d
            inner join channel_policies as c on d.channel = c.channel
            where d.decision = 'send' and not d.is_exempt
        )
        select person_id
        from local
        where not (
            (send_window_start <= send_window_end
                and local_time >= send_window_start and local_time < send_window_end)
            or (send_window_start > send_window_end
                and (local_time >= send_window_start or local_time < send_window_end))
        )
        """,
    ),
    (
        # caps per channel: sends planned now plus the ledger (reported sends and those
        # planned by earlier runs) in the day and the week ending at the send
        "caps",
        """
        with planned as (
            select d.person_id, d.channel, min(d.decided_at) as decided_at, count(*) as planned
            from guardrail_decisions as d
            where d.decision = 'send' and not d.is_exempt
            group by d.person_id, d.channel
        ),
        counted as (
            select
                planned.person_id,
                planned.channel,
                planned.planned,
                count(l.person_id) filter (where l.sent_at > planned.decided_at - interval 1 day) as day_sent,
                count(l.person_id) as week_sent
            from planned
            left join int_guardrails__ledger as l
                on l.person_id = planned.person_id
                and l.channel = planned.channel
                and l.sent_at > planned.decided_at - interval 7 day
                and l.sent_at <= planned.decided_at
            group by planned.person_id, planned.channel, planned.planned
        )
        select counted.person_id
        from counted
        inner join channel_policies as c on counted.channel = c.channel
        where counted.planned + counted.day_sent > c.daily_cap
            or counted.planned + counted.week_sent > c.weekly_cap
        """,
    ),
]


@dg.asset_check(
    asset=Key(["guardrail_decisions"]),
    blocking=True,
    description=(
        "Re-checks what is about to be synced: no send without consent and a valid address, "
        "none inside quiet hours, none above a cap."
    ),
    additional_deps=[Key(["profiles"]), Key(["channel_policies"]), Key(["int_guardrails__ledger"])],
)
def guardrail_invariants(atc: AtcResource) -> dg.AssetCheckResult:
    with atc.connect() as con:
        missing = _missing(con, "guardrail_decisions", "profiles", "channel_policies", "int_guardrails__ledger")
        if missing:
            return _not_built(missing)
        found = invariant_violations(con)
        sends = con.execute("select count(*) from guardrail_decisions where decision = 'send'").fetchone()[0]
    broken = [(name, n, example) for name, n, example in found if n]
    return dg.AssetCheckResult(
        passed=not broken,
        severity=ERROR,
        description=(
            "; ".join(f"{n:,} planned sends break {name} (e.g. {ex})" for name, n, ex in broken)
            or f"All {sends:,} planned sends respect {', '.join(name for name, _, _ in found)}."
        ),
        metadata={
            "planned_sends": dg.MetadataValue.int(int(sends)),
            "invariants": dg.MetadataValue.md(markdown_table(["invariant", "violations", "example person"], found)),
        },
    )


def destination_health_check(sync_name: str, asset_key: dg.AssetKey, last_run: Callable) -> dg.AssetChecksDefinition:
    """The rejection rate of the sync's last run (WARN / ERROR thresholds on the ``atc`` resource)."""

    @dg.asset_check(
        asset=asset_key,
        name="destination_health",
        description=f"Share of records the destination refused in {sync_name}'s last run.",
    )
    def _check(atc: AtcResource) -> dg.AssetCheckResult:
        run = last_run(atc.db, sync_name)
        if run is None:
            return dg.AssetCheckResult(passed=True, description="No sync run recorded yet.")
        sent = int(run.get("acknowledged") or 0) + int(run.get("rejected") or 0)
        rejected = int(run.get("rejected") or 0)
        severity = rejection_severity(rejected, sent, atc.rejection_rate_warn, atc.rejection_rate_error)
        rate = rejected / sent if sent else 0.0
        return dg.AssetCheckResult(
            passed=severity is None and run.get("status") != "failed",
            severity=severity or (ERROR if run.get("status") == "failed" else WARN),
            description=(
                f"Last run {run.get('status')}: {rejected:,} of {sent:,} records refused ({rate:.1%})."
                + (f" Error: {run['error']}" if run.get("error") else "")
            ),
            metadata={
                "rejection_rate": dg.MetadataValue.float(round(rate, 4)),
                "rejected": dg.MetadataValue.int(rejected),
                "sent": dg.MetadataValue.int(sent),
                "status": dg.MetadataValue.text(str(run.get("status"))),
            },
        )

    return _check


CORE_CHECKS = [identity_converged, assignment_churn, raw_events_fresh]
GUARDRAIL_CHECKS = [guardrail_invariants]
