-- Control-group members (journey_assignments.is_holdout) are never messaged:
-- their decision is drop with reason holdout. Returns each one that is not.
with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

assignments as (
    select * from {{ ref('journey_assignments') }}
),

violations as (
    select
        decisions.person_id,
        decisions.decision,
        decisions.reason_code
    from decisions
    inner join assignments
        on decisions.person_id = assignments.person_id
    where
        assignments.is_holdout
        and (decisions.decision != 'drop' or decisions.reason_code != 'holdout')
)

select * from violations
