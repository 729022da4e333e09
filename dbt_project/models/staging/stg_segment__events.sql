{#- One clean event per Segment message_id: parsed, typed, normalised and
    deduplicated (the earliest delivery wins). Rows that failed a check are in
    stg_segment__events_quarantined.
    A view: it only filters the checked table, so copying tens of millions of
    wide rows into a second table would cost more than every reader's scan. -#}
{{ config(materialized='view') }}
with

checked_events as (

    select * from {{ ref('stg_segment__events_checked') }}

),

clean_events as (

    select
        event_id,
        event_type,
        event_name,
        raw_event_name,
        anonymous_id,
        user_id,
        previous_id,
        device_id,
        device_type,
        email,
        phone_raw,
        phone_e164,
        occurred_at,
        received_at,
        is_late_arriving,
        timezone,
        locale,
        country,
        ip,
        category,
        product_id,
        show_id,
        venue_id,
        order_id,
        cart_id,
        ticket_type,
        quantity,
        revenue,
        currency,
        properties,
        _source_file,
        _source_line
    from checked_events
    where reason_code is null

)

select * from clean_events
