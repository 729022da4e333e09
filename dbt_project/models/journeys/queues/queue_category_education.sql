{#- Category education: low-intent browsers who never ordered, with 1 to
    var atc__category_education_max_views views of a category (category,
    product or show pages naming one, directly or through the catalog) in the
    last var atc__category_education_window_days, counted over all
    categories. The journey is about the category they viewed last (then by
    name). -#}
{{ config(
    materialized='table',
    tags=['journey_queue'],
    meta={'journey_id': 'category_education'},
) }}
{%- set window_days = var('atc__category_education_window_days', 30) -%}
{%- set max_views = var('atc__category_education_max_views', 2) -%}

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

recent_views as (
    select
        events.person_id,
        events.event_id,
        events.occurred_at,
        lower(coalesce(events.category, products.category, shows.category)) as category
    from events
    left join products
        on events.product_id = products.product_id
    left join shows
        on events.show_id = shows.show_id
    where
        events.person_id is not null
        and events.event_name in ('category_viewed', 'product_viewed', 'show_viewed')
        and events.occurred_at > {{ dbt.dateadd('day', -1 * window_days, journey_atc.as_of()) }}
        and events.occurred_at <= {{ journey_atc.as_of() }}
),

category_views as (
    select
        person_id,
        event_id,
        occurred_at,
        category,
        row_number() over (
            partition by person_id
            order by occurred_at desc, category asc, event_id asc
        ) as view_recency
    from recent_views
    where category is not null
),

browsers as (
    select
        person_id,
        count(*) as view_count,
        min(occurred_at) as first_viewed_at,
        max(occurred_at) as last_viewed_at,
        max(case when view_recency = 1 then category end) as last_viewed_category
    from category_views
    group by person_id
    having count(*) <= {{ max_views }}
),

low_intent_browsers as (
    select browsers.*
    from browsers
    inner join profiles
        on browsers.person_id = profiles.person_id
    where coalesce(profiles.order_count, 0) = 0
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast('category_education' as {{ dbt.type_string() }}) as journey_id,
        cast(first_viewed_at as {{ dbt.type_timestamp() }}) as qualified_at,
        cast({{ dbt.concat([
            "'Viewed '", "last_viewed_category", "' ('",
            "cast(view_count as " ~ dbt.type_string() ~ ")",
            "' category view(s) in " ~ window_days ~ " days) and never ordered'",
        ]) }} as {{ dbt.type_string() }}) as entry_reason,
        cast(0.4 + 0.2 * view_count as double) as relevance_score,
        cast(
            0.3 * greatest(
                0.0,
                1.0 - {{ dbt.datediff('last_viewed_at', journey_atc.as_of(), 'minute') }}
                / cast({{ window_days * 1440 }} as double)
            )
            as double
        ) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(last_viewed_category as {{ dbt.type_string() }}) as context_key,
        {{ journey_atc.queue_json_object({
            'category': 'last_viewed_category',
            'view_count': 'view_count',
            'first_viewed_at': 'first_viewed_at',
            'last_viewed_at': 'last_viewed_at',
        }) }} as context
    from low_intent_browsers
)

select * from final
