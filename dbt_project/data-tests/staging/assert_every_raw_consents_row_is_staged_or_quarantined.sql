-- Accounting invariant for raw.consents: every raw row is either one clean row
-- or one quarantined row, never both, never neither. Returns a row when the
-- counts disagree.
with

raw_rows as (

    select count(*) as row_count from {{ source('raw', 'consents') }}

),

clean_rows as (

    select count(*) as row_count from {{ ref('stg_consents__consents') }}

),

quarantined_rows as (

    select count(distinct quarantine_id) as row_count from {{ ref('stg_consents__consents_quarantined') }}

),

compared as (

    select
        raw_rows.row_count as raw_row_count,
        clean_rows.row_count as clean_row_count,
        quarantined_rows.row_count as quarantined_row_count
    from raw_rows
    cross join clean_rows
    cross join quarantined_rows

),

mismatches as (

    select *
    from compared
    where raw_row_count != clean_row_count + quarantined_row_count

)

select * from mismatches
