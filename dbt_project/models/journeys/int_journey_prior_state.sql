{{ config(materialized='table') }}

{#- What earlier runs decided, read from the append-only journey_assignment_history
    before this run appends to it; absent on the first run, then empty. Only
    transitions stamped before as_of count, so a second run with the same as_of
    sees exactly what the first one saw and decides the same. -#}
{%- set history = adapter.get_relation(
    this.database, this.schema, 'journey_assignment_history'
) if execute else none -%}
{%- set as_of = journey_atc.as_of() -%}

with

recorded_history as (
    {{ journey_atc.relation_or_empty(history, [
        ('person_id', dbt.type_string()),
        ('journey_id', dbt.type_string()),
        ('transition', dbt.type_string()),
        ('transitioned_at', dbt.type_timestamp()),
    ]) }}
),

history as (
    select
        person_id,
        journey_id,
        transition,
        transitioned_at
    from recorded_history
    where transitioned_at < {{ as_of }}
),

-- a person's latest transition; at one instant the arrival (entered, stayed)
-- comes after the departure (completed, exited, preempted) of another journey
latest_transitions as (
    select
        person_id,
        journey_id,
        transition,
        transitioned_at,
        row_number() over (
            partition by person_id
            order by
                transitioned_at desc,
                case when transition in ('entered', 'stayed') then 0 else 1 end asc,
                journey_id asc
        ) as recency_rank
    from history
),

active_journeys as (
    select
        person_id,
        journey_id
    from latest_transitions
    where
        recency_rank = 1
        and transition in ('entered', 'stayed')
),

per_journey as (
    select
        person_id,
        journey_id,
        sum(case when transition = 'entered' then 1 else 0 end) as entry_count,
        max(case when transition = 'entered' then transitioned_at end) as last_entered_at,
        max(
            case when transition in ('completed', 'exited', 'preempted') then transitioned_at end
        ) as last_left_at,
        max(case when transition = 'completed' then transitioned_at end) as last_completed_at
    from history
    group by person_id, journey_id
),

final as (
    select
        per_journey.person_id,
        per_journey.journey_id,
        {{ journey_atc.stable_hash(['per_journey.person_id', 'per_journey.journey_id']) }} as candidate_id,
        cast(per_journey.entry_count as {{ dbt.type_int() }}) as entry_count,
        per_journey.last_entered_at,
        per_journey.last_left_at,
        per_journey.last_completed_at,
        active_journeys.journey_id is not null as is_active,
        case when active_journeys.journey_id is not null then per_journey.last_entered_at end as active_entered_at
    from per_journey
    left join active_journeys
        on
            per_journey.person_id = active_journeys.person_id
            and per_journey.journey_id = active_journeys.journey_id
)

select * from final
