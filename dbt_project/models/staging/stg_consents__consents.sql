{#- One clean consent record per consent_id: who (normalised identifier),
    which channel and purpose, granted or withdrawn, and when. A view: it only
    filters the checked table, so copying its rows into a second table would
    cost more than its one reader's scan. -#}
{{ config(materialized='view') }}
with

checked_consents as (

    select * from {{ ref('stg_consents__consents_checked') }}

),

clean_consents as (

    select
        consent_id,
        identifier_type,
        identifier,
        channel,
        purpose,
        is_granted,
        region,
        recorded_at,
        source,
        _source_file,
        _source_line
    from checked_consents
    where reason_code is null

)

select * from clean_consents
