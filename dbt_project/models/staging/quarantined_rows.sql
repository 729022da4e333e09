{#- Every quarantined raw row of every source table, one place to look. -#}
with

quarantined_events as (

    select * from {{ ref('stg_segment__events_quarantined') }}

),

quarantined_message_events as (

    select * from {{ ref('stg_channels__message_events_quarantined') }}

),

quarantined_consents as (

    select * from {{ ref('stg_consents__consents_quarantined') }}

),

unioned as (

    select
        quarantine_id,
        source_table,
        record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        quarantined_at
    from quarantined_events

    union all

    select
        quarantine_id,
        source_table,
        record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        quarantined_at
    from quarantined_message_events

    union all

    select
        quarantine_id,
        source_table,
        record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        quarantined_at
    from quarantined_consents

)

select * from unioned
