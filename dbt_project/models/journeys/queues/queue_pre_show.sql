{#- Pre-show: people holding tickets (an order_completed of order_type
    tickets, or naming a show when the type is missing, not refunded) for a
    show that starts within the next var atc__pre_show_window_days. Who bought
    var atc__pre_show_early_buyer_days or more before the show gets the
    early_buyer variant (previews, upgrade offers); everyone else gets
    last_minute (know-before-you-go). One row per person: the soonest show
    (then by show id). -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'pre_show'},
) }}
{%- set window_days = var('atc__pre_show_window_days', 14) -%}
{%- set early_buyer_days = var('atc__pre_show_early_buyer_days', 30) -%}

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

venues as (
    select * from {{ ref('stg_catalog__venues') }}
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
        venues.city as venue_city,
        venues.timezone as venue_timezone
    from shows
    left join venues
        on shows.venue_id = venues.venue_id
    where
        shows.starts_at > {{ journey_atc.as_of() }}
        and shows.starts_at <= {{ dbt.dateadd('day', window_days, journey_atc.as_of()) }}
),

ticket_order_events as (
    select
        order_events.person_id,
        order_events.event_id,
        coalesce(order_events.order_id, order_events.event_id) as order_key,
        order_events.order_id,
        order_events.show_id,
        order_events.ticket_type,
        coalesce(order_events.quantity, 1) as quantity,
        order_events.occurred_at,
        row_number() over (
            partition by order_events.person_id, coalesce(order_events.order_id, order_events.event_id)
            order by order_events.occurred_at asc, order_events.event_id asc
        ) as delivery_number
    from order_events
    inner join upcoming_shows
        on order_events.show_id = upcoming_shows.show_id
    where
        order_events.person_id is not null
        and order_events.occurred_at <= {{ journey_atc.as_of() }}
        and coalesce({{ journey_atc.json_text('order_events.properties', '$.order_type') }}, 'tickets') = 'tickets'
),

refunded_orders as (
    select distinct order_id
    from refund_events
    where
        order_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
),

ticket_orders as (
    select
        ticket_order_events.*,
        row_number() over (
            partition by ticket_order_events.person_id, ticket_order_events.show_id
            order by ticket_order_events.occurred_at asc, ticket_order_events.order_key asc
        ) as purchase_number
    from ticket_order_events
    left join refunded_orders
        on ticket_order_events.order_id = refunded_orders.order_id
    where
        ticket_order_events.delivery_number = 1
        and refunded_orders.order_id is null
),

holdings as (
    select
        person_id,
        show_id,
        min(occurred_at) as first_purchased_at,
        max(case when purchase_number = 1 then order_key end) as first_order_id,
        sum(quantity) as ticket_quantity,
        max(
            case ticket_type
                when 'vip' then 3
                when 'premium' then 2
                when 'general' then 1
                else 0
            end
        ) as ticket_tier
    from ticket_orders
    group by person_id, show_id
),

holdings_described as (
    select
        holdings.person_id,
        holdings.show_id,
        holdings.first_purchased_at,
        holdings.first_order_id,
        holdings.ticket_quantity,
        case holdings.ticket_tier
            when 3 then 'vip'
            when 2 then 'premium'
            when 1 then 'general'
        end as ticket_type,
        upcoming_shows.show_name,
        upcoming_shows.category,
        upcoming_shows.starts_at,
        upcoming_shows.venue_id,
        upcoming_shows.venue_name,
        upcoming_shows.venue_city,
        upcoming_shows.venue_timezone,
        {{ dbt.datediff('holdings.first_purchased_at', 'upcoming_shows.starts_at', 'day') }}
            as days_bought_before,
        case
            when
                holdings.first_purchased_at
                <= {{ dbt.dateadd('day', -1 * early_buyer_days, 'upcoming_shows.starts_at') }}
                then 'early_buyer'
            else 'last_minute'
        end as variant
    from holdings
    inner join upcoming_shows
        on holdings.show_id = upcoming_shows.show_id
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
    from holdings_described
),

final as (
    select
        cast(holdings_ranked.person_id as {{ dbt.type_string() }}) as person_id,
        cast('pre_show' as {{ dbt.type_string() }}) as journey_id,
        cast(holdings_ranked.qualified_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Holds '", "coalesce(holdings_ranked.ticket_type, 'unspecified')", "' tickets for '",
            "coalesce(holdings_ranked.show_name, holdings_ranked.show_id)", "' starting '",
            "cast(holdings_ranked.starts_at as " ~ dbt.type_string() ~ ")", "' UTC, bought '",
            "cast(holdings_ranked.days_bought_before as " ~ dbt.type_string() ~ ")",
            "' days before ('", "holdings_ranked.variant", "')'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(1.0 as double) as relevance_score,
        cast(holdings_ranked.urgency_score as double) as urgency_score,
        cast(holdings_ranked.starts_at as {{ dbt.type_timestamp() }}) as event_at,
        cast(holdings_ranked.show_id as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'variant': 'holdings_ranked.variant',
            'offer': "case holdings_ranked.variant when 'early_buyer' then 'previews_and_upgrades'"
                ~ " else 'know_before_you_go' end",
            'show_id': 'holdings_ranked.show_id',
            'show_name': 'holdings_ranked.show_name',
            'show_category': 'holdings_ranked.category',
            'starts_at': 'holdings_ranked.starts_at',
            'venue_id': 'holdings_ranked.venue_id',
            'venue_name': 'holdings_ranked.venue_name',
            'venue_city': 'holdings_ranked.venue_city',
            'venue_timezone': 'holdings_ranked.venue_timezone',
            'ticket_type': 'holdings_ranked.ticket_type',
            'ticket_quantity': 'holdings_ranked.ticket_quantity',
            'order_id': 'holdings_ranked.first_order_id',
            'purchased_at': 'holdings_ranked.first_purchased_at',
            'days_bought_before': 'holdings_ranked.days_bought_before',
        }) }} as context
    from holdings_ranked
    inner join profiles
        on holdings_ranked.person_id = profiles.person_id
    where holdings_ranked.show_rank = 1
)

select * from final
