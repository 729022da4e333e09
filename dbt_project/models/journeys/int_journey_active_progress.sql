{{ config(materialized='table') }}

{%- set as_of = journey_atc.as_of() -%}

with

prior_state as (
    select * from {{ ref('int_journey_prior_state') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

events as (
    select * from {{ ref('int_events_stitched') }}
),

active_journeys as (
    select
        prior_state.person_id,
        prior_state.journey_id,
        prior_state.active_entered_at,
        journeys.goal_event,
        journeys.length_days
    from prior_state
    left join journeys
        on prior_state.journey_id = journeys.journey_id
    where prior_state.is_active
),

goal_events as (
    select
        person_id,
        event_name,
        occurred_at
    from events
    where
        person_id is not null
        and occurred_at <= {{ as_of }}
        and event_name in (select journeys.goal_event from journeys)
),

goals_reached as (
    select
        active_journeys.person_id,
        active_journeys.journey_id,
        min(goal_events.occurred_at) as goal_reached_at
    from active_journeys
    inner join goal_events
        on
            active_journeys.person_id = goal_events.person_id
            and active_journeys.goal_event = goal_events.event_name
            and active_journeys.active_entered_at < goal_events.occurred_at
    group by active_journeys.person_id, active_journeys.journey_id
),

-- the active journey ends in this run when its goal happened after entry or
-- its length has passed since entry
final as (
    select
        active_journeys.person_id,
        active_journeys.journey_id,
        active_journeys.active_entered_at,
        {{ dbt.dateadd('day', 'active_journeys.length_days', 'active_journeys.active_entered_at') }} as expected_end_at,
        goals_reached.goal_reached_at,
        case
            when goals_reached.goal_reached_at is not null then 'goal_reached'
            when
                {{ as_of }}
                >= {{ dbt.dateadd('day', 'active_journeys.length_days', 'active_journeys.active_entered_at') }}
                then 'length_ended'
        end as completion_reason
    from active_journeys
    left join goals_reached
        on
            active_journeys.person_id = goals_reached.person_id
            and active_journeys.journey_id = goals_reached.journey_id
)

select * from final
