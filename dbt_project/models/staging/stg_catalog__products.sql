{#- One row per product (merchandise SKU). -#}
with

source as (

    select * from {{ source('raw', 'products') }}

),

renamed as (

    select
        nullif(trim(product_id), '') as product_id,
        nullif(trim(name), '') as product_name,
        lower(nullif(trim(category), '')) as category,
        price,
        upper(nullif(trim(currency), '')) as currency
    from source

),

ranked as (

    select
        *,
        row_number() over (
            partition by product_id
            order by product_name, category, price, currency
        ) as row_number_in_id
    from renamed
    where product_id is not null

),

deduplicated as (

    select
        product_id,
        product_name,
        category,
        price,
        currency
    from ranked
    where row_number_in_id = 1

)

select * from deduplicated
