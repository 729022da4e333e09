{#- Raw consent rows that did not become clean consents, each once, with the
    first reason that applied. -#}
with

checked_consents as (

    select * from {{ ref('stg_consents__consents_checked') }}

),

quarantined as (

    select
        {{ journey_atc.stable_hash(["'raw.consents'", '_source_file', '_source_line']) }} as quarantine_id,
        'raw.consents' as source_table,
        raw_consent_id as record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        {{ journey_atc.as_of() }} as quarantined_at
    from checked_consents
    where reason_code is not null

)

select * from quarantined
