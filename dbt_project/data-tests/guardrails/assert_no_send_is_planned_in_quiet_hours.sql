-- Invariant 4: no send is planned inside a person's quiet hours, and no
-- deferral points into them. The moment (decided_at for a send,
-- next_eligible_at for a defer) is read in the person's local time and
-- checked against the channel's send window. Returns each offending row.
with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

channel_policies as (
    select * from {{ ref('channel_policies') }}
),

moments as (
    select
        decisions.person_id,
        decisions.channel,
        decisions.decision,
        decisions.timezone,
        case when decisions.decision = 'send' then decisions.decided_at else decisions.next_eligible_at end
            as planned_at,
        {{ journey_atc.guardrails_clock_minutes('channel_policies.send_window_start') }} as window_start_minute,
        {{ journey_atc.guardrails_clock_minutes('channel_policies.send_window_end') }} as window_end_minute
    from decisions
    inner join channel_policies
        on decisions.channel = channel_policies.channel
    where decisions.decision in ('send', 'defer')
),

local_moments as (
    select
        *,
        {{ journey_atc.guardrails_minute_of_day(journey_atc.guardrails_to_local('planned_at', 'timezone')) }}
            as local_minute
    from moments
),

violations as (
    select * from local_moments
    where not {{ journey_atc.guardrails_in_window('local_minute', 'window_start_minute', 'window_end_minute') }}
)

select * from violations
