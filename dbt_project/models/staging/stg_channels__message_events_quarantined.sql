{#- Raw message events that did not become clean delivery events, each once,
    with the first reason that applied. -#}
with

checked_message_events as (

    select * from {{ ref('stg_channels__message_events_checked') }}

),

quarantined as (

    select
        {{ journey_atc.stable_hash(["'raw.message_events'", '_source_file', '_source_line']) }} as quarantine_id,
        'raw.message_events' as source_table,
        raw_event_id as record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        {{ journey_atc.as_of() }} as quarantined_at
    from checked_message_events
    where reason_code is not null

)

select * from quarantined
