{{ config(materialized='table') }}

{#- Current state: one row per person in a journey (the chosen candidate when
    it is not `none`). A person who stays keeps their entry time. Control-group
    members (is_holdout) are recorded without a channel and are never messaged. -#}
{%- set as_of = journey_atc.as_of() -%}

with

scored as (
    select * from {{ ref('journey_candidates_scored') }}
),

chosen as (
    select
        *,
        case
            when is_current and completion_reason is null then current_entered_at
            else {{ as_of }}
        end as entered_at
    from scored
    where
        is_chosen
        and journey_id != 'none'
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        cast({{ dbt.dateadd('day', 'length_days', 'entered_at') }} as {{ dbt.type_timestamp() }}) as expected_end_at,
        cast(entry_reason as {{ dbt.type_string() }}) as entry_reason,
        cast(score as double) as score,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(is_holdout as {{ dbt.type_boolean() }}) as is_holdout,
        cast(context_key as {{ dbt.type_string() }}) as context_key,
        cast(context as {{ dbt.type_string() }}) as context,
        cast({{ as_of }} as {{ dbt.type_timestamp() }}) as decided_at
    from chosen
)

select * from final
