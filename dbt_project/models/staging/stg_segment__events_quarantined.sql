{#- Raw events that did not become clean events, each once: the first check
    that failed, or duplicate_message_id for a later delivery of a message. -#}
with

checked_events as (

    select * from {{ ref('stg_segment__events_checked') }}

),

later_deliveries as (

    select * from {{ ref('stg_segment__events_later_deliveries') }}

),

-- a row failed a check or is a later delivery, never both: later deliveries
-- are ranked among the rows that passed every check
rejected_rows as (

    select
        raw_message_id,
        reason_code,
        reason,
        _source_file,
        _source_line
    from checked_events
    where reason_code is not null
    union all
    select
        raw_message_id,
        reason_code,
        reason,
        _source_file,
        _source_line
    from later_deliveries

),

final as (

    select
        {{ journey_atc.stable_hash(["'raw.events'", '_source_file', '_source_line']) }} as quarantine_id,
        'raw.events' as source_table,
        raw_message_id as record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        {{ journey_atc.as_of() }} as quarantined_at
    from rejected_rows

)

select * from final
