{#- Browse abandonment: var atc__browse_abandonment_min_views or more views
    (category, product or show pages) of one category in the last
    var atc__browse_abandonment_window_days, and no order in that category
    since the first of those views. A view's category is the one it names,
    else the category of the product or show it shows. One row per person:
    the most viewed category (then the most recently viewed, then by name). -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'browse_abandonment'},
) }}
{%- set window_days = var('atc__browse_abandonment_window_days', 3) -%}
{%- set min_views = var('atc__browse_abandonment_min_views', 3) -%}

with

events as (
    select * from {{ ref('int_events_stitched') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

shows as (
    select * from {{ ref('stg_catalog__shows') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

recent_events as (
    select
        person_id,
        event_id,
        event_name,
        occurred_at,
        product_id,
        show_id,
        category,
        properties
    from events
    where
        person_id is not null
        and event_name in ('category_viewed', 'product_viewed', 'show_viewed', 'order_completed')
        and occurred_at > {{ dbt.dateadd('day', -1 * window_days, journey_atc.as_of()) }}
        and occurred_at <= {{ journey_atc.as_of() }}
),

recent_events_categorised as (
    select
        recent_events.*,
        lower(coalesce(recent_events.category, products.category, shows.category)) as resolved_category
    from recent_events
    left join products
        on recent_events.product_id = products.product_id
    left join shows
        on recent_events.show_id = shows.show_id
),

views as (
    select
        person_id,
        event_id,
        occurred_at,
        product_id,
        show_id,
        resolved_category as category,
        row_number() over (
            partition by person_id, resolved_category
            order by occurred_at asc, event_id asc
        ) as view_number,
        row_number() over (
            partition by person_id, resolved_category
            order by occurred_at desc, event_id desc
        ) as view_recency
    from recent_events_categorised
    where
        event_name != 'order_completed'
        and resolved_category is not null
),

category_views as (
    select
        person_id,
        category,
        count(*) as view_count,
        min(occurred_at) as first_viewed_at,
        max(occurred_at) as last_viewed_at,
        max(case when view_number = {{ min_views }} then occurred_at end) as qualified_at,
        max(case when view_recency = 1 then product_id end) as last_viewed_product_id,
        max(case when view_recency = 1 then show_id end) as last_viewed_show_id
    from views
    group by person_id, category
    having count(*) >= {{ min_views }}
),

orders as (
    select
        person_id,
        occurred_at,
        resolved_category,
        {{ journey_atc.json_array_field_texts('properties', '$.products', 'category') }} as product_categories
    from recent_events_categorised
    where event_name = 'order_completed'
),

categories_bought as (
    select distinct
        category_views.person_id,
        category_views.category
    from category_views
    inner join orders
        on
            category_views.person_id = orders.person_id
            and category_views.first_viewed_at <= orders.occurred_at
    where
        orders.resolved_category = category_views.category
        or {{ journey_atc.array_contains_text('orders.product_categories', 'category_views.category') }}
),

categories_abandoned as (
    select
        category_views.*,
        least(1.0, category_views.view_count / cast({{ 2 * min_views }} as double)) as relevance_score,
        greatest(
            0.0,
            1.0 - {{ dbt.datediff('category_views.last_viewed_at', journey_atc.as_of(), 'minute') }}
            / cast({{ window_days * 1440 }} as double)
        ) as urgency_score,
        row_number() over (
            partition by category_views.person_id
            order by category_views.view_count desc, category_views.last_viewed_at desc, category_views.category asc
        ) as category_rank
    from category_views
    left join categories_bought
        on
            category_views.person_id = categories_bought.person_id
            and category_views.category = categories_bought.category
    where categories_bought.person_id is null
),

final as (
    select
        cast(categories_abandoned.person_id as {{ dbt.type_string() }}) as person_id,
        cast('browse_abandonment' as {{ dbt.type_string() }}) as journey_id,
        cast(categories_abandoned.qualified_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Viewed '", "categories_abandoned.category", "' '",
            "cast(categories_abandoned.view_count as " ~ dbt.type_string() ~ ")",
            "' times in the last " ~ window_days ~ " days without buying'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(categories_abandoned.relevance_score as double) as relevance_score,
        cast(categories_abandoned.urgency_score as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(categories_abandoned.category as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'category': 'categories_abandoned.category',
            'view_count': 'categories_abandoned.view_count',
            'first_viewed_at': 'categories_abandoned.first_viewed_at',
            'last_viewed_at': 'categories_abandoned.last_viewed_at',
            'last_viewed_product_id': 'categories_abandoned.last_viewed_product_id',
            'last_viewed_show_id': 'categories_abandoned.last_viewed_show_id',
        }) }} as context
    from categories_abandoned
    inner join profiles
        on categories_abandoned.person_id = profiles.person_id
    where categories_abandoned.category_rank = 1
)

select * from final
