-- Spellings are matched case-insensitively after trimming, so two rows of
-- event_name_map that differ only in case or spaces must agree on the name.
with

event_name_map as (

    select * from {{ ref('event_name_map') }}

),

spellings as (

    select
        lower(trim(raw_event_name)) as event_key,
        count(distinct event_name) as event_name_count
    from event_name_map
    group by lower(trim(raw_event_name))

),

ambiguous as (

    select *
    from spellings
    where event_name_count > 1

)

select * from ambiguous
