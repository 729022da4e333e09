{#- Pre-show upsell: people holding tickets (as in pre_show) for a show that
    starts within the next var atc__pre_show_upsell_window_days who have not
    bought upgrades or food_drink for it: no such order since their ticket
    purchase naming that show or no show at all. Premium and vip holders are
    offered the premium lounge, everyone else a food and drink pre-order.
    One row per person: the soonest show (then by show id). -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'pre_show_upsell'},
) }}
{%- set window_days = var('atc__pre_show_upsell_window_days', 7) -%}

with

-- The events table is imported once per use, each import read by one CTE:
-- an engine that materialises a CTE read twice never copies all events.
-- The two imports of orders name their columns: written alike, DuckDB read
-- every column of every order for them (11 s of CPU at 1,000,000 people).
ticket_source as (
    select
        person_id,
        event_id,
        order_id,
        show_id,
        ticket_type,
        quantity,
        occurred_at,
        properties
    from {{ ref('int_events_stitched') }}
    where event_name = 'order_completed'
),

refund_events as (
    select * from {{ ref('int_events_stitched') }}
    where event_name = 'order_refunded'
),

add_on_source as (
    select
        person_id,
        show_id,
        product_id,
        category,
        occurred_at,
        properties
    from {{ ref('int_events_stitched') }}
    where event_name = 'order_completed'
),

shows as (
    select * from {{ ref('stg_catalog__shows') }}
),

venues as (
    select * from {{ ref('stg_catalog__venues') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

upcoming_shows as (
    select
        shows.show_id,
        shows.show_name,
        shows.category,
        shows.starts_at,
        shows.venue_id,
        venues.venue_name,
        venues.timezone as venue_timezone
    from shows
    left join venues
        on shows.venue_id = venues.venue_id
    where
        shows.starts_at > {{ journey_atc.as_of() }}
        and shows.starts_at <= {{ dbt.dateadd('day', window_days, journey_atc.as_of()) }}
),

refunded_orders as (
    select distinct order_id
    from refund_events
    where
        order_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
),

ticket_order_events as (
    select
        ticket_source.person_id,
        ticket_source.event_id,
        coalesce(ticket_source.order_id, ticket_source.event_id) as order_key,
        ticket_source.order_id,
        ticket_source.show_id,
        ticket_source.ticket_type,
        coalesce(ticket_source.quantity, 1) as quantity,
        ticket_source.occurred_at,
        row_number() over (
            partition by ticket_source.person_id, coalesce(ticket_source.order_id, ticket_source.event_id)
            order by ticket_source.occurred_at asc, ticket_source.event_id asc
        ) as delivery_number
    from ticket_source
    inner join upcoming_shows
        on ticket_source.show_id = upcoming_shows.show_id
    where
        ticket_source.person_id is not null
        and ticket_source.occurred_at <= {{ journey_atc.as_of() }}
        and coalesce({{ journey_atc.json_text('ticket_source.properties', '$.order_type') }}, 'tickets') = 'tickets'
),

holdings as (
    select
        ticket_order_events.person_id,
        ticket_order_events.show_id,
        min(ticket_order_events.occurred_at) as first_purchased_at,
        sum(ticket_order_events.quantity) as ticket_quantity,
        max(
            case ticket_order_events.ticket_type
                when 'vip' then 3
                when 'premium' then 2
                when 'general' then 1
                else 0
            end
        ) as ticket_tier
    from ticket_order_events
    left join refunded_orders
        on ticket_order_events.order_id = refunded_orders.order_id
    where
        ticket_order_events.delivery_number = 1
        and refunded_orders.order_id is null
    group by ticket_order_events.person_id, ticket_order_events.show_id
),

-- orders placed by ticket holders since their ticket purchase, for that show
-- or for no show in particular
later_orders as (
    select
        holdings.person_id,
        holdings.show_id,
        add_on_source.product_id,
        add_on_source.category,
        {{ journey_atc.json_array_field_texts('add_on_source.properties', '$.products', 'category') }}
            as product_categories
    from holdings
    inner join add_on_source
        on
            holdings.person_id = add_on_source.person_id
            and holdings.first_purchased_at <= add_on_source.occurred_at
    where
        add_on_source.occurred_at <= {{ journey_atc.as_of() }}
        and (add_on_source.show_id = holdings.show_id or add_on_source.show_id is null)
),

add_ons_bought as (
    select distinct
        later_orders.person_id,
        later_orders.show_id
    from later_orders
    left join products
        on later_orders.product_id = products.product_id
    where
        lower(coalesce(later_orders.category, products.category)) in ('upgrades', 'food_drink')
        or {{ journey_atc.array_contains_text('later_orders.product_categories', "'upgrades'") }}
        or {{ journey_atc.array_contains_text('later_orders.product_categories', "'food_drink'") }}
),

holdings_open as (
    select
        holdings.person_id,
        holdings.show_id,
        holdings.first_purchased_at,
        holdings.ticket_quantity,
        case holdings.ticket_tier
            when 3 then 'vip'
            when 2 then 'premium'
            when 1 then 'general'
        end as ticket_type,
        case when holdings.ticket_tier >= 2 then 'premium_lounge' else 'food_drink_preorder' end as offer,
        upcoming_shows.show_name,
        upcoming_shows.category,
        upcoming_shows.starts_at,
        upcoming_shows.venue_id,
        upcoming_shows.venue_name,
        upcoming_shows.venue_timezone,
        0.6
        + case when holdings.ticket_tier >= 2 then 0.2 else 0.0 end
        + case
            when
                profiles.top_categories like '%upgrades%'
                or profiles.top_categories like '%food_drink%'
                then 0.2
            else 0.0
        end as relevance_score
    from holdings
    inner join upcoming_shows
        on holdings.show_id = upcoming_shows.show_id
    inner join profiles
        on holdings.person_id = profiles.person_id
    left join add_ons_bought
        on
            holdings.person_id = add_ons_bought.person_id
            and holdings.show_id = add_ons_bought.show_id
    where add_ons_bought.person_id is null
),

holdings_ranked as (
    select
        *,
        case
            when first_purchased_at > {{ dbt.dateadd('day', -1 * window_days, 'starts_at') }}
                then first_purchased_at
            else {{ dbt.dateadd('day', -1 * window_days, 'starts_at') }}
        end as qualified_at,
        greatest(
            0.0,
            least(
                1.0,
                1.0 - {{ dbt.datediff(journey_atc.as_of(), 'starts_at', 'minute') }}
                / cast({{ window_days * 1440 }} as double)
            )
        ) as urgency_score,
        row_number() over (
            partition by person_id
            order by starts_at asc, show_id asc
        ) as show_rank
    from holdings_open
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast('pre_show_upsell' as {{ dbt.type_string() }}) as journey_id,
        cast(qualified_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Holds '", "coalesce(ticket_type, 'unspecified')", "' tickets for '",
            "coalesce(show_name, show_id)", "' starting '",
            "cast(starts_at as " ~ dbt.type_string() ~ ")",
            "' UTC and has not pre-ordered upgrades or food and drink'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(relevance_score as double) as relevance_score,
        cast(urgency_score as double) as urgency_score,
        cast(starts_at as {{ dbt.type_timestamp() }}) as event_at,
        cast(show_id as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'offer': 'offer',
            'show_id': 'show_id',
            'show_name': 'show_name',
            'show_category': 'category',
            'starts_at': 'starts_at',
            'venue_id': 'venue_id',
            'venue_name': 'venue_name',
            'venue_timezone': 'venue_timezone',
            'ticket_type': 'ticket_type',
            'ticket_quantity': 'ticket_quantity',
        }) }} as context
    from holdings_ranked
    where show_rank = 1
)

select * from final
