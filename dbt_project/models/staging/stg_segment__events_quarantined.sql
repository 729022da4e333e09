{#- Raw events that did not become clean events, each once, with the first
    reason that applied. -#}
with

checked_events as (

    select * from {{ ref('stg_segment__events_checked') }}

),

quarantined as (

    select
        {{ journey_atc.stable_hash(["'raw.events'", '_source_file', '_source_line']) }} as quarantine_id,
        'raw.events' as source_table,
        raw_message_id as record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        {{ journey_atc.as_of() }} as quarantined_at
    from checked_events
    where reason_code is not null

)

select * from quarantined
