-- One row per person who engaged with a category or venue in the last
-- var atc__interest_window_days: engagement is weighted 1 for a view, 3 for
-- an add to cart and 5 for an order or an attended show (ticket scanned).
-- A category or venue missing on the event is taken from the catalog show or
-- product it names. top_categories lists the three best categories (ties by
-- name); favourite_venue_id is the best venue (ties by id).
with

events as (
    select * from {{ ref('int_events_stitched') }}
),

shows as (
    select * from {{ ref('stg_catalog__shows') }}
),

products as (
    select * from {{ ref('stg_catalog__products') }}
),

engagements as (
    select
        events.person_id,
        events.occurred_at,
        lower(coalesce(events.category, shows.category, products.category)) as category,
        coalesce(events.venue_id, shows.venue_id) as venue_id,
        case
            when events.event_name in ('order_completed', 'ticket_scanned') then 5
            when events.event_name = 'product_added' then 3
            else 1
        end as engagement_weight
    from events
    left join shows
        on events.show_id = shows.show_id
    left join products
        on events.product_id = products.product_id
    where
        events.person_id is not null
        and events.event_name in (
            'category_viewed',
            'product_viewed',
            'show_viewed',
            'page_viewed',
            'screen_viewed',
            'product_added',
            'order_completed',
            'ticket_scanned'
        )
        and events.occurred_at <= {{ journey_atc.as_of() }}
        and events.occurred_at
        > {{ dbt.dateadd('day', -1 * var('atc__interest_window_days'), journey_atc.as_of()) }}
),

category_scores as (
    select
        person_id,
        category,
        sum(engagement_weight) as engagement_score
    from engagements
    where category is not null
    group by person_id, category
),

categories_ranked as (
    select
        person_id,
        category,
        row_number() over (
            partition by person_id
            order by engagement_score desc, category asc
        ) as category_rank
    from category_scores
),

top_categories as (
    select
        person_id,
        max(case when category_rank = 1 then category end) as top_category,
        concat_ws(
            ',',
            max(case when category_rank = 1 then category end),
            max(case when category_rank = 2 then category end),
            max(case when category_rank = 3 then category end)
        ) as top_categories
    from categories_ranked
    where category_rank <= 3
    group by person_id
),

venue_scores as (
    select
        person_id,
        venue_id,
        sum(engagement_weight) as engagement_score
    from engagements
    where venue_id is not null
    group by person_id, venue_id
),

venues_ranked as (
    select
        person_id,
        venue_id,
        row_number() over (
            partition by person_id
            order by engagement_score desc, venue_id asc
        ) as venue_rank
    from venue_scores
),

favourite_venues as (
    select
        person_id,
        venue_id as favourite_venue_id
    from venues_ranked
    where venue_rank = 1
),

persons_engaged as (
    select person_id from top_categories
    union
    select person_id from favourite_venues
),

final as (
    select
        persons_engaged.person_id,
        top_categories.top_categories,
        top_categories.top_category,
        favourite_venues.favourite_venue_id
    from persons_engaged
    left join top_categories
        on persons_engaged.person_id = top_categories.person_id
    left join favourite_venues
        on persons_engaged.person_id = favourite_venues.person_id
)

select * from final
