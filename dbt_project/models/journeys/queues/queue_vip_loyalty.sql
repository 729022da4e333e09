{#- VIP loyalty: people whose lifetime value (orders minus refunds) crossed
    var atc__vip_ltv_threshold with an order placed on the as_of day (from
    midnight UTC to as_of) and is still above it: crossed today, rewarded
    tonight. Someone who crossed it earlier is not in the queue again. Orders
    count once per order id, as in profiles. qualified_at is the order that
    crossed the threshold. -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'vip_loyalty'},
) }}
{%- set threshold = var('atc__vip_ltv_threshold', 500) -%}
{%- set day_start = dbt.date_trunc('day', journey_atc.as_of()) -%}

with

-- The events table is imported once per use, each import read by one CTE:
-- an engine that materialises a CTE read twice never copies all events.
todays_order_events as (
    select * from {{ ref('int_events_stitched') }}
    where event_name = 'order_completed'
),

ledger_source as (
    select * from {{ ref('int_events_stitched') }}
    where event_name in ('order_completed', 'order_refunded')
),

profiles as (
    select * from {{ ref('profiles') }}
),

buyers_today as (
    select distinct person_id
    from todays_order_events
    where
        person_id is not null
        and occurred_at >= {{ day_start }}
        and occurred_at <= {{ journey_atc.as_of() }}
),

-- every order and refund of today's buyers, as signed amounts
ledger_events as (
    select
        ledger_source.person_id,
        ledger_source.event_id,
        ledger_source.event_name,
        coalesce(ledger_source.order_id, ledger_source.event_id) as order_key,
        ledger_source.occurred_at,
        case
            when ledger_source.event_name = 'order_completed' then coalesce(ledger_source.revenue, 0)
            else -1 * abs(coalesce(ledger_source.revenue, 0))
        end as amount,
        row_number() over (
            partition by
                ledger_source.person_id,
                ledger_source.event_name,
                coalesce(ledger_source.order_id, ledger_source.event_id)
            order by ledger_source.occurred_at asc, ledger_source.event_id asc
        ) as delivery_number
    from ledger_source
    inner join buyers_today
        on ledger_source.person_id = buyers_today.person_id
    where
        ledger_source.occurred_at <= {{ journey_atc.as_of() }}
),

-- orders count once per order id; every refund event counts, as in profiles
ledger as (
    select
        person_id,
        event_id,
        event_name,
        order_key,
        occurred_at,
        amount,
        sum(amount) over (
            partition by person_id
            order by occurred_at asc, event_name asc, event_id asc
            rows between unbounded preceding and current row
        ) as value_after
    from ledger_events
    where event_name = 'order_refunded' or delivery_number = 1
),

crossings as (
    select
        ledger.person_id,
        ledger.order_key,
        ledger.occurred_at,
        ledger.amount,
        ledger.value_after,
        row_number() over (
            partition by ledger.person_id
            order by ledger.occurred_at desc, ledger.event_id desc
        ) as crossing_recency
    from ledger
    where
        ledger.event_name = 'order_completed'
        and ledger.occurred_at >= {{ day_start }}
        and ledger.value_after >= {{ threshold }}
        and ledger.value_after - ledger.amount < {{ threshold }}
),

final as (
    select
        cast(crossings.person_id as {{ dbt.type_string() }}) as person_id,
        cast('vip_loyalty' as {{ dbt.type_string() }}) as journey_id,
        cast(crossings.occurred_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Lifetime value reached '", "cast(round(profiles.lifetime_value, 2) as " ~ dbt.type_string() ~ ")",
            "' with order '", "crossings.order_key",
            "' today, crossing the VIP threshold of " ~ threshold ~ "'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        {{ journey_atc.round_decimal(
            "0.8 + 0.2 * least(1.0, (profiles.lifetime_value - " ~ threshold
            ~ ") / cast(" ~ threshold ~ " as double))",
            4
        ) }} as relevance_score,
        cast(1.0 as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(crossings.order_key as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'lifetime_value': 'profiles.lifetime_value',
            'threshold': threshold,
            'crossing_order_id': 'crossings.order_key',
            'crossing_order_value': 'crossings.amount',
            'crossed_at': 'crossings.occurred_at',
            'order_count': 'profiles.order_count',
            'top_category': 'profiles.top_category',
        }) }} as context
    from crossings
    inner join profiles
        on crossings.person_id = profiles.person_id
    where
        crossings.crossing_recency = 1
        and profiles.lifetime_value >= {{ threshold }}
)

select * from final
