{#- Welcome: people whose first sign-up happened in the last
    var atc__welcome_window_days. Urgency fades over the window; relevance is
    full for people who have not ordered yet. -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'welcome'},
) }}
{%- set window_days = var('atc__welcome_window_days', 7) -%}

with

events as (
    select * from {{ ref('int_events_stitched') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

sign_ups as (
    select
        person_id,
        event_id,
        occurred_at,
        {{ journey_atc.json_text('properties', '$.method') }} as sign_up_method,
        row_number() over (
            partition by person_id
            order by occurred_at asc, event_id asc
        ) as sign_up_number
    from events
    where
        event_name = 'signed_up'
        and person_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
),

first_sign_ups as (
    select * from sign_ups
    where
        sign_up_number = 1
        and occurred_at > {{ dbt.dateadd('day', -1 * window_days, journey_atc.as_of()) }}
),

final as (
    select
        cast(first_sign_ups.person_id as {{ dbt.type_string() }}) as person_id,
        cast('welcome' as {{ dbt.type_string() }}) as journey_id,
        cast(first_sign_ups.occurred_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Signed up '",
            "coalesce(" ~ dbt.concat(["'by '", "first_sign_ups.sign_up_method", "' '"]) ~ ", '')",
            "'on '", "cast(cast(first_sign_ups.occurred_at as date) as " ~ dbt.type_string() ~ ")",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(case when coalesce(profiles.order_count, 0) = 0 then 1.0 else 0.8 end as double) as relevance_score,
        cast(greatest(
            0.0,
            1.0 - {{ dbt.datediff('first_sign_ups.occurred_at', journey_atc.as_of(), 'minute') }}
            / cast({{ window_days * 1440 }} as double)
        ) as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(null as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'signed_up_at': 'first_sign_ups.occurred_at',
            'sign_up_method': 'first_sign_ups.sign_up_method',
            'has_ordered': 'coalesce(profiles.order_count, 0) > 0',
            'top_category': 'profiles.top_category',
        }) }} as context
    from first_sign_ups
    inner join profiles
        on first_sign_ups.person_id = profiles.person_id
)

select * from final
