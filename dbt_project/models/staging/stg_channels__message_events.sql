{#- One clean delivery event (sent, delivered, opened ...) per event_id, as
    the channel tools reported it. A view: it only
    filters the checked table, so copying its rows into a second table would
    cost more than its one reader's scan. -#}
{{ config(materialized='view') }}
with

checked_message_events as (

    select * from {{ ref('stg_channels__message_events_checked') }}

),

clean_message_events as (

    select
        message_event_id,
        message_id,
        channel,
        journey_id,
        event_type,
        user_id,
        email,
        phone_e164,
        occurred_at,
        bounce_type,
        properties,
        _source_file,
        _source_line
    from checked_message_events
    where reason_code is null

)

select * from clean_message_events
