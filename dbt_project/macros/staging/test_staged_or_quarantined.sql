{#- Accounting invariant for a raw table: every raw row is either one clean row
    or one quarantined row, never both, never neither. Returns a row when the
    counts disagree. -#}
{% test staged_or_quarantined(model, clean_model, quarantine_model) %}

with

raw_rows as (
    select count(*) as row_count from {{ model }}
),

clean_rows as (
    select count(*) as row_count from {{ clean_model }}
),

quarantined_rows as (
    select count(distinct quarantine_id) as row_count from {{ quarantine_model }}
),

compared as (
    select
        raw_rows.row_count as raw_row_count,
        clean_rows.row_count as clean_row_count,
        quarantined_rows.row_count as quarantined_row_count
    from raw_rows
    cross join clean_rows
    cross join quarantined_rows
)

select * from compared
where raw_row_count != clean_row_count + quarantined_row_count

{% endtest %}
