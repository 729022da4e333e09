{#- Abandoned cart: a person put something in a cart, then left it alone for
    at least var atc__abandoned_cart_min_minutes and at most
    var atc__abandoned_cart_max_days, and nothing was bought since: no order
    for that cart, and no order by the person after their last add. The cart's
    content (adds minus removals) is read from the last
    var atc__abandoned_cart_lookback_days. One row per person: the most
    recently abandoned cart (then the most valuable, then the cart id). -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'abandoned_cart'},
) }}
{%- set min_minutes = var('atc__abandoned_cart_min_minutes', 30) -%}
{%- set max_days = var('atc__abandoned_cart_max_days', 3) -%}
{%- set lookback_days = var('atc__abandoned_cart_lookback_days', 14) -%}
{%- set high_value = var('atc__abandoned_cart_high_value', 200) -%}

with

events as (
    select * from {{ ref('int_events_stitched') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

shows as (
    select * from {{ ref('stg_catalog__shows') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

recent_events as (
    select
        person_id,
        event_id,
        event_name,
        occurred_at,
        cart_id,
        product_id,
        show_id,
        category,
        coalesce(quantity, 1) as quantity,
        currency,
        {{ journey_atc.json_number(journey_atc.json_text('properties', '$.price')) }} as event_price
    from events
    where
        event_name in (
            'product_added', 'product_removed', 'cart_viewed', 'checkout_started', 'order_completed'
        )
        and occurred_at > {{ dbt.dateadd('day', -1 * lookback_days, journey_atc.as_of()) }}
        and occurred_at <= {{ journey_atc.as_of() }}
),

cart_events as (
    select * from recent_events
    where
        event_name != 'order_completed'
        and person_id is not null
        and cart_id is not null
),

orders as (
    select * from recent_events
    where event_name = 'order_completed'
),

carts as (
    select
        person_id,
        cart_id,
        max(occurred_at) as abandoned_at,
        max(case when event_name = 'product_added' then occurred_at end) as last_added_at
    from cart_events
    group by person_id, cart_id
),

-- an order closes its cart even when it could not be tied to a person
ordered_carts as (
    select distinct cart_id
    from orders
    where cart_id is not null
),

last_orders as (
    select
        person_id,
        max(occurred_at) as last_ordered_at
    from orders
    where person_id is not null
    group by person_id
),

carts_abandoned as (
    select carts.*
    from carts
    left join ordered_carts
        on carts.cart_id = ordered_carts.cart_id
    left join last_orders
        on carts.person_id = last_orders.person_id
    where
        carts.last_added_at is not null
        and carts.abandoned_at <= {{ dbt.dateadd('minute', -1 * min_minutes, journey_atc.as_of()) }}
        and carts.abandoned_at >= {{ dbt.dateadd('day', -1 * max_days, journey_atc.as_of()) }}
        and ordered_carts.cart_id is null
        and (last_orders.last_ordered_at is null or last_orders.last_ordered_at < carts.last_added_at)
),

item_events as (
    select
        cart_events.*,
        coalesce(cart_events.product_id, cart_events.show_id) as item_id
    from cart_events
    inner join carts_abandoned
        on
            cart_events.person_id = carts_abandoned.person_id
            and cart_events.cart_id = carts_abandoned.cart_id
    where
        cart_events.event_name in ('product_added', 'product_removed')
        and coalesce(cart_events.product_id, cart_events.show_id) is not null
),

item_removals as (
    select
        person_id,
        cart_id,
        item_id,
        max(occurred_at) as last_removed_at
    from item_events
    where event_name = 'product_removed'
    group by person_id, cart_id, item_id
),

-- an item is in the cart when it was added after its last removal
item_adds as (
    select
        item_events.*,
        row_number() over (
            partition by item_events.person_id, item_events.cart_id, item_events.item_id
            order by item_events.occurred_at desc, item_events.event_id desc
        ) as add_recency
    from item_events
    left join item_removals
        on
            item_events.person_id = item_removals.person_id
            and item_events.cart_id = item_removals.cart_id
            and item_events.item_id = item_removals.item_id
    where
        item_events.event_name = 'product_added'
        and (item_removals.last_removed_at is null or item_events.occurred_at > item_removals.last_removed_at)
),

cart_items as (
    select
        person_id,
        cart_id,
        item_id,
        sum(quantity) as quantity,
        max(case when add_recency = 1 then product_id end) as product_id,
        max(case when add_recency = 1 then show_id end) as show_id,
        max(case when add_recency = 1 then category end) as event_category,
        max(case when add_recency = 1 then event_price end) as event_price,
        max(case when add_recency = 1 then currency end) as event_currency
    from item_adds
    group by person_id, cart_id, item_id
),

cart_items_described as (
    select
        cart_items.person_id,
        cart_items.cart_id,
        cart_items.item_id,
        cart_items.product_id,
        cart_items.show_id,
        coalesce(products.product_name, shows.show_name) as item_name,
        lower(coalesce(cart_items.event_category, products.category, shows.category)) as category,
        cart_items.quantity,
        coalesce(cart_items.event_price, products.price) as price,
        coalesce(cart_items.event_currency, products.currency) as currency
    from cart_items
    left join products
        on cart_items.product_id = products.product_id
    left join shows
        on cart_items.show_id = shows.show_id
),

cart_contents as (
    select
        person_id,
        cart_id,
        count(*) as item_count,
        sum(quantity) as unit_count,
        round(sum(coalesce(price, 0) * quantity), 2) as cart_value,
        max(currency) as currency,
        {{ journey_atc.queue_sorted_array_agg(journey_atc.queue_struct({
            'item_id': 'item_id',
            'product_id': 'product_id',
            'show_id': 'show_id',
            'name': 'item_name',
            'category': 'category',
            'price': 'price',
            'quantity': 'quantity',
        })) }} as items
    from cart_items_described
    group by person_id, cart_id
),

carts_scored as (
    select
        carts_abandoned.person_id,
        carts_abandoned.cart_id,
        carts_abandoned.abandoned_at,
        cart_contents.item_count,
        cart_contents.unit_count,
        cart_contents.cart_value,
        cart_contents.currency,
        cart_contents.items,
        0.5 + 0.5 * least(cart_contents.cart_value / cast({{ high_value }} as double), 1.0) as relevance_score,
        greatest(
            0.0,
            least(
                1.0,
                1.0 - (
                    {{ dbt.datediff('carts_abandoned.abandoned_at', journey_atc.as_of(), 'minute') }}
                    - {{ min_minutes }}
                ) / cast({{ max_days * 1440 - min_minutes }} as double)
            )
        ) as urgency_score
    from carts_abandoned
    inner join cart_contents
        on
            carts_abandoned.person_id = cart_contents.person_id
            and carts_abandoned.cart_id = cart_contents.cart_id
),

carts_ranked as (
    select
        *,
        row_number() over (
            partition by person_id
            order by abandoned_at desc, cart_value desc, cart_id asc
        ) as cart_rank
    from carts_scored
),

final as (
    select
        cast(carts_ranked.person_id as {{ dbt.type_string() }}) as person_id,
        cast('abandoned_cart' as {{ dbt.type_string() }}) as journey_id,
        cast(carts_ranked.abandoned_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Left cart '", "carts_ranked.cart_id", "' with '",
            "cast(carts_ranked.item_count as " ~ dbt.type_string() ~ ")",
            "' item(s) worth '", "cast(carts_ranked.cart_value as " ~ dbt.type_string() ~ ")",
            "' '", "coalesce(carts_ranked.currency, '')",
            "' without buying'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(carts_ranked.relevance_score as double) as relevance_score,
        cast(carts_ranked.urgency_score as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(carts_ranked.cart_id as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'cart_id': 'carts_ranked.cart_id',
            'abandoned_at': 'carts_ranked.abandoned_at',
            'item_count': 'carts_ranked.item_count',
            'unit_count': 'carts_ranked.unit_count',
            'cart_value': 'carts_ranked.cart_value',
            'currency': 'carts_ranked.currency',
            'items': 'carts_ranked.items',
        }) }} as context
    from carts_ranked
    inner join profiles
        on carts_ranked.person_id = profiles.person_id
    where carts_ranked.cart_rank = 1
)

select * from final
