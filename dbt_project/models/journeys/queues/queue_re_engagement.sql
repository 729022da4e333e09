{#- Re-engagement: email subscribers (email consent holds) who have not
    engaged at all (no event, message open or click) for
    var atc__re_engagement_inactive_days or more. Urgency grows with the
    silence and is full after a year; past customers are more relevant. -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 're_engagement'},
) }}
{%- set inactive_days = var('atc__re_engagement_inactive_days', 90) -%}

with

profiles as (
    select * from {{ ref('profiles') }}
),

inactive_subscribers as (
    select
        person_id,
        coalesce(last_engaged_at, last_seen_at, person_created_at) as last_engaged_at,
        order_count,
        top_category,
        {{ dbt.datediff('coalesce(last_engaged_at, last_seen_at, person_created_at)', journey_atc.as_of(), 'day') }}
            as days_since_last_engaged
    from profiles
    where
        has_email_consent
        and coalesce(last_engaged_at, last_seen_at, person_created_at)
        <= {{ dbt.dateadd('day', -1 * inactive_days, journey_atc.as_of()) }}
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast('re_engagement' as {{ dbt.type_string() }}) as journey_id,
        cast({{ dbt.dateadd('day', inactive_days, 'last_engaged_at') }} as {{ dbt.type_timestamp() }})
            as qualified_at,
        cast({{ dbt.concat([
            "'Subscribed to email but not engaged for '",
            "cast(days_since_last_engaged as " ~ dbt.type_string() ~ ")", "' days'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(case when coalesce(order_count, 0) > 0 then 0.8 else 0.5 end as double) as relevance_score,
        cast(
            greatest(
                0.0,
                least(
                    1.0,
                    (days_since_last_engaged - {{ inactive_days }})
                    / cast({{ [365 - inactive_days, 1] | max }} as double)
                )
            )
            as double
        ) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(null as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'last_engaged_at': 'last_engaged_at',
            'days_since_last_engaged': 'days_since_last_engaged',
            'order_count': 'order_count',
            'top_category': 'top_category',
        }) }} as context
    from inactive_subscribers
)

select * from final
