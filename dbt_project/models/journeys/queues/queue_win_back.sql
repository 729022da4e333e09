{#- Win-back: customers (at least one order) whose last order was
    var atc__win_back_min_days to var atc__win_back_max_days ago. Relevance
    grows with what they spent (lifetime value against the VIP threshold);
    urgency grows the longer they have been gone. -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'win_back'},
) }}
{%- set min_days = var('atc__win_back_min_days', 120) -%}
{%- set max_days = var('atc__win_back_max_days', 540) -%}
{%- set value_reference = var('atc__vip_ltv_threshold', 500) -%}

with

profiles as (
    select * from {{ ref('profiles') }}
),

lapsed_customers as (
    select
        person_id,
        order_count,
        last_order_at,
        lifetime_value,
        rfm_segment,
        top_category,
        {{ dbt.datediff('last_order_at', journey_atc.as_of(), 'day') }}
            as days_since_last_order
    from profiles
    where
        order_count >= 1
        and last_order_at <= {{ dbt.dateadd('day', -1 * min_days, journey_atc.as_of()) }}
        and last_order_at >= {{ dbt.dateadd('day', -1 * max_days, journey_atc.as_of()) }}
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast('win_back' as {{ dbt.type_string() }}) as journey_id,
        cast({{ dbt.dateadd('day', min_days, 'last_order_at') }} as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Last ordered '", "cast(days_since_last_order as " ~ dbt.type_string() ~ ")",
            "' days ago after '", "cast(order_count as " ~ dbt.type_string() ~ ")", "' order(s)'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(
            0.5 + 0.5 * least(1.0, greatest(0.0, lifetime_value) / cast({{ value_reference }} as double))
            as double
        ) as relevance_score,
        cast(
            greatest(
                0.0,
                least(1.0, (days_since_last_order - {{ min_days }}) / cast({{ max_days - min_days }} as double))
            )
            as double
        ) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(top_category as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'last_order_at': 'last_order_at',
            'days_since_last_order': 'days_since_last_order',
            'order_count': 'order_count',
            'lifetime_value': 'lifetime_value',
            'rfm_segment': 'rfm_segment',
            'top_category': 'top_category',
        }) }} as context
    from lapsed_customers
)

select * from final
