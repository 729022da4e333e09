{#- One row per venue. A venue id landed twice keeps one row, chosen by a
    stable order so every run keeps the same one. -#}
with

source as (

    select * from {{ source('raw', 'venues') }}

),

renamed as (

    select
        nullif(trim(venue_id), '') as venue_id,
        nullif(trim(name), '') as venue_name,
        nullif(trim(city), '') as city,
        upper(nullif(trim(country), '')) as country,
        nullif(trim(timezone), '') as timezone,
        capacity
    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by venue_id
            order by venue_name, city, country, timezone, capacity
        ) as row_number_in_id
    from renamed
    where venue_id is not null

),

deduplicated as (

    select
        venue_id,
        venue_name,
        city,
        country,
        timezone,
        capacity
    from ranked
    where row_number_in_id = 1

)

select * from deduplicated
