{#- Post-purchase cross-sell: people whose latest order (tickets or
    merchandise, not refunded) was placed var atc__cross_sell_min_days to
    var atc__cross_sell_max_days ago, offered the category that complements
    what they bought: concerts and sports -> apparel, festivals -> accessories,
    theatre and comedy -> food_drink, family -> posters, apparel <->
    accessories, music <-> posters, food_drink <-> upgrades; an order of
    unknown category gets food_drink (tickets) or accessories (merchandise).
    One row per person: their latest order in the window (then by order id). -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'post_purchase_cross_sell'},
) }}
{%- set min_days = var('atc__cross_sell_min_days', 1) -%}
{%- set max_days = var('atc__cross_sell_max_days', 10) -%}

with

-- The events table is imported once per use, each import read by one CTE:
-- an engine that materialises a CTE read twice never copies all events.
order_events as (
    select * from {{ ref('int_events_stitched') }}
    where event_name = 'order_completed'
),

refund_events as (
    select * from {{ ref('int_events_stitched') }}
    where event_name = 'order_refunded'
),

shows as (
    select * from {{ ref('stg_catalog__shows') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

recent_orders as (
    select
        person_id,
        event_id,
        coalesce(order_id, event_id) as order_key,
        order_id,
        occurred_at,
        show_id,
        product_id,
        ticket_type,
        revenue,
        currency,
        category,
        {{ journey_atc.json_text('properties', '$.order_type') }} as order_type,
        {{ journey_atc.json_text('properties', '$.products[0].category') }} as first_product_category,
        row_number() over (
            partition by person_id, coalesce(order_id, event_id)
            order by occurred_at asc, event_id asc
        ) as delivery_number
    from order_events
    where
        person_id is not null
        and occurred_at >= {{ dbt.dateadd('day', -1 * max_days, journey_atc.as_of()) }}
        and occurred_at <= {{ dbt.dateadd('day', -1 * min_days, journey_atc.as_of()) }}
),

refunds as (
    select distinct order_id
    from refund_events
    where
        order_id is not null
        and occurred_at >= {{ dbt.dateadd('day', -1 * max_days, journey_atc.as_of()) }}
        and occurred_at <= {{ journey_atc.as_of() }}
),

orders_classified as (
    select
        recent_orders.person_id,
        recent_orders.order_key,
        recent_orders.occurred_at as ordered_at,
        recent_orders.show_id,
        recent_orders.revenue,
        recent_orders.currency,
        coalesce(
            recent_orders.order_type,
            case
                when recent_orders.show_id is not null or recent_orders.ticket_type is not null then 'tickets'
                else 'merchandise'
            end
        ) as order_type,
        lower(coalesce(
            recent_orders.category, shows.category, products.category, recent_orders.first_product_category
        )) as order_category
    from recent_orders
    left join refunds
        on recent_orders.order_id = refunds.order_id
    left join shows
        on recent_orders.show_id = shows.show_id
    left join products
        on recent_orders.product_id = products.product_id
    where
        recent_orders.delivery_number = 1
        and refunds.order_id is null
),

orders_complemented as (
    select
        *,
        case
            when order_category in ('concerts', 'sports') then 'apparel'
            when order_category = 'festivals' then 'accessories'
            when order_category in ('theatre', 'comedy') then 'food_drink'
            when order_category = 'family' then 'posters'
            when order_category = 'apparel' then 'accessories'
            when order_category = 'accessories' then 'apparel'
            when order_category = 'music' then 'posters'
            when order_category = 'posters' then 'music'
            when order_category = 'food_drink' then 'upgrades'
            when order_category = 'upgrades' then 'food_drink'
            when order_type = 'tickets' then 'food_drink'
            else 'accessories'
        end as complementary_category,
        row_number() over (
            partition by person_id
            order by ordered_at desc, order_key asc
        ) as order_rank
    from orders_classified
),

orders_scored as (
    select
        orders_complemented.*,
        0.6 + case
            when
                profiles.top_categories
                like {{ dbt.concat(["'%'", "orders_complemented.complementary_category", "'%'"]) }}
                then 0.4
            else 0.0
        end as relevance_score,
        greatest(
            0.0,
            least(
                1.0,
                1.0 - (
                    {{ dbt.datediff('orders_complemented.ordered_at', journey_atc.as_of(), 'minute') }}
                    - {{ min_days * 1440 }}
                ) / cast({{ (max_days - min_days) * 1440 }} as double)
            )
        ) as urgency_score
    from orders_complemented
    inner join profiles
        on orders_complemented.person_id = profiles.person_id
    where orders_complemented.order_rank = 1
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast('post_purchase_cross_sell' as {{ dbt.type_string() }}) as journey_id,
        cast({{ dbt.dateadd('day', min_days, 'ordered_at') }} as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Ordered '", "order_type", "coalesce(" ~ dbt.concat(["' ('", "order_category", "')'"]) ~ ", '')",
            "' on '", "cast(cast(ordered_at as date) as " ~ dbt.type_string() ~ ")",
            "'; '", "complementary_category", "' complements it'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(relevance_score as double) as relevance_score,
        cast(urgency_score as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(order_key as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'order_id': 'order_key',
            'order_type': 'order_type',
            'order_category': 'order_category',
            'complementary_category': 'complementary_category',
            'ordered_at': 'ordered_at',
            'revenue': 'revenue',
            'currency': 'currency',
            'show_id': 'show_id',
        }) }} as context
    from orders_scored
)

select * from final
