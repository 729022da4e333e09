{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
) }}

{#- Append-only log of journey transitions at as_of. For a person whose journey
    was active before this run:
      stayed     (in_progress)      the same journey is chosen again
      completed  (goal_reached, length_ended)
      preempted  (preempted)        a higher-priority journey took over
      exited     (a rejection code, or no_longer_qualified when the person
                  left the journey's queue)
    and for a newly chosen journey: entered (chosen, or holdout for the control
    group). transition_id hashes person, journey, transition and as_of, and rows
    already recorded are skipped, so a re-run with the same as_of appends
    nothing. -#}
{%- set as_of = journey_atc.as_of() -%}

with

scored as (
    select * from {{ ref('journey_candidates_scored') }}
),

active_progress as (
    select * from {{ ref('int_journey_active_progress') }}
),

chosen as (
    select
        person_id,
        journey_id,
        is_holdout
    from scored
    where is_chosen
),

previous_journeys as (
    select
        active_progress.person_id,
        active_progress.journey_id,
        active_progress.completion_reason,
        chosen.journey_id as chosen_journey_id,
        scored.candidate_id is not null as is_still_queued,
        scored.rejection_reason
    from active_progress
    left join chosen
        on active_progress.person_id = chosen.person_id
    left join scored
        on
            active_progress.person_id = scored.person_id
            and active_progress.journey_id = scored.journey_id
),

departures as (
    select
        person_id,
        journey_id,
        case
            when chosen_journey_id = journey_id and completion_reason is null then 'stayed'
            when completion_reason is not null then 'completed'
            when rejection_reason = 'lower_score' then 'preempted'
            else 'exited'
        end as transition,
        case
            when chosen_journey_id = journey_id and completion_reason is null then 'in_progress'
            when completion_reason is not null then completion_reason
            when rejection_reason = 'lower_score' then 'preempted'
            when not is_still_queued then 'no_longer_qualified'
            else rejection_reason
        end as reason_code
    from previous_journeys
),

arrivals as (
    select
        chosen.person_id,
        chosen.journey_id,
        'entered' as transition,
        case when chosen.is_holdout then 'holdout' else 'chosen' end as reason_code
    from chosen
    left join departures
        on
            chosen.person_id = departures.person_id
            and chosen.journey_id = departures.journey_id
            and departures.transition = 'stayed'
    where
        chosen.journey_id != 'none'
        and departures.person_id is null
),

transitions as (
    select * from departures
    union all
    select * from arrivals
),

keyed as (
    select
        {{ journey_atc.stable_hash(['person_id', 'journey_id', 'transition', as_of]) }} as transition_id,
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(transition as {{ dbt.type_string() }}) as transition,
        cast(reason_code as {{ dbt.type_string() }}) as reason_code,
        cast({{ as_of }} as {{ dbt.type_timestamp() }}) as transitioned_at
    from transitions
),

-- what an earlier run with the same as_of already recorded (transition_id
-- includes as_of, so no other row can match)
recorded as (
    {% if is_incremental() -%}
        select transition_id from {{ this }}
        where transitioned_at = {{ as_of }}
    {%- else -%}
        select transition_id from keyed
        where 1 = 0
    {%- endif %}
),

final as (
    select keyed.*
    from keyed
    left join recorded
        on keyed.transition_id = recorded.transition_id
    where recorded.transition_id is null
)

select * from final
