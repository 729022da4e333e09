{#- One clean event per Segment message_id: parsed, typed, normalised and
    deduplicated (the earliest delivery wins; stg_segment__events_later_deliveries
    lists the others). Rows that failed a check are in
    stg_segment__events_quarantined.
    A view: it only filters the checked table, so copying tens of millions of
    wide rows into a second table would cost more than every reader's scan. -#}
{{ config(materialized='view') }}
with

checked_events as (

    select * from {{ ref('stg_segment__events_checked') }}

),

later_deliveries as (

    select * from {{ ref('stg_segment__events_later_deliveries') }}

),

clean_events as (

    select
        checked_events.event_id,
        checked_events.event_type,
        checked_events.event_name,
        checked_events.raw_event_name,
        checked_events.anonymous_id,
        checked_events.user_id,
        checked_events.previous_id,
        checked_events.device_id,
        checked_events.device_type,
        checked_events.email,
        checked_events.phone_raw,
        checked_events.phone_e164,
        checked_events.occurred_at,
        checked_events.received_at,
        checked_events.is_late_arriving,
        checked_events.timezone,
        checked_events.locale,
        checked_events.country,
        checked_events.ip,
        checked_events.category,
        checked_events.product_id,
        checked_events.show_id,
        checked_events.venue_id,
        checked_events.order_id,
        checked_events.cart_id,
        checked_events.ticket_type,
        checked_events.quantity,
        checked_events.revenue,
        checked_events.currency,
        checked_events.properties,
        checked_events._source_file,
        checked_events._source_line,
        checked_events._staged_at
    from checked_events
    left join later_deliveries
        on
            checked_events.event_id = later_deliveries.event_id
            and checked_events._source_file = later_deliveries._source_file
            and checked_events._source_line = later_deliveries._source_line
    where
        checked_events.reason_code is null
        and later_deliveries.event_id is null

)

select * from clean_events
