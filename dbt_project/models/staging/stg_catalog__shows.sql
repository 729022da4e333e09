{#- One row per show (performance), start and on-sale times in UTC. -#}
with

source as (

    select * from {{ source('raw', 'shows') }}

),

renamed as (

    select
        nullif(trim(show_id), '') as show_id,
        nullif(trim(name), '') as show_name,
        lower(nullif(trim(category), '')) as category,
        nullif(trim(venue_id), '') as venue_id,
        starts_at as raw_starts_at,
        {{ journey_atc.parse_timestamp_utc('starts_at') }} as starts_at,
        {{ journey_atc.parse_timestamp_utc('on_sale_at') }} as on_sale_at
    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by show_id
            order by show_name, category, venue_id, raw_starts_at
        ) as row_number_in_id
    from renamed
    where show_id is not null

),

deduplicated as (

    select
        show_id,
        show_name,
        category,
        venue_id,
        starts_at,
        on_sale_at
    from ranked
    where row_number_in_id = 1

)

select * from deduplicated
