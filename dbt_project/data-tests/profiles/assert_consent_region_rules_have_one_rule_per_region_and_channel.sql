-- A region and channel with two rules would make consent ambiguous.
with

consent_region_rules as (
    select * from {{ ref('consent_region_rules') }}
),

duplicates as (
    select
        region,
        channel,
        count(*) as rule_count
    from consent_region_rules
    group by region, channel
    having count(*) > 1
)

select * from duplicates
