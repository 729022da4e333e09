-- Invariant 5: every decision, kept or rejected, has a reason a person can
-- read, and the reason fits the decision: ok only for sends on the
-- requested channel, holdout, goal_met, duplicate and silent_enrichment
-- only for drops. Returns each row that breaks this.
with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

violations as (
    select
        decision_id,
        person_id,
        decision,
        reason_code,
        is_fallback
    from decisions
    where
        reason_code is null
        or (reason_code = 'ok' and (decision != 'send' or is_fallback))
        or (reason_code in ('holdout', 'goal_met', 'duplicate', 'silent_enrichment') and decision != 'drop')
        or (decision = 'send' and not is_fallback and reason_code != 'ok')
)

select * from violations
