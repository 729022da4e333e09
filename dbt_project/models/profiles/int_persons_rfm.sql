-- One row per person: orders, lifetime value and RFM scores.
-- An order is one order_completed per order id (duplicates count once); it is
-- a ticket order when it names a show or a ticket type, else merchandise.
-- RFM looks back var atc__rfm_window_days from as_of: recency is days since
-- the last order, frequency the orders and monetary the revenue in the window.
-- Every person who ever ordered gets 1-5 scores (ntile, ties broken by
-- person_id; 5 is best); people who never ordered are prospects.
-- The per-person totals come from int_persons_orders (incremental); only the
-- scores, which rank everyone, and the days to as_of are computed here.
with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

orders as (
    select * from {{ ref('int_persons_orders') }}
),

persons as (
    select distinct person_id
    from person_map
    where person_id is not null
),

person_orders as (
    select *
    from orders
    where order_count is not null
),

refunds as (
    select
        person_id,
        refunded_amount
    from orders
    where refunded_amount is not null
),

buyers_scored as (
    select
        person_id,
        {{ dbt.datediff('last_order_at', journey_atc.as_of(), 'day') }}
            as rfm_recency_days,
        ntile(5) over (order by last_order_at asc, person_id asc) as rfm_recency_score,
        ntile(5) over (order by rfm_frequency asc, person_id asc) as rfm_frequency_score,
        ntile(5) over (order by rfm_monetary asc, person_id asc) as rfm_monetary_score
    from person_orders
),

persons_joined as (
    select
        persons.person_id,
        coalesce(person_orders.order_count, 0) as order_count,
        coalesce(person_orders.ticket_order_count, 0) as ticket_order_count,
        coalesce(person_orders.merch_order_count, 0) as merch_order_count,
        person_orders.first_order_at,
        person_orders.last_order_at,
        coalesce(person_orders.lifetime_revenue, 0) as lifetime_revenue,
        coalesce(refunds.refunded_amount, 0) as refunded_amount,
        buyers_scored.rfm_recency_days,
        coalesce(person_orders.rfm_frequency, 0) as rfm_frequency,
        coalesce(person_orders.rfm_monetary, 0) as rfm_monetary,
        buyers_scored.rfm_recency_score,
        buyers_scored.rfm_frequency_score,
        buyers_scored.rfm_monetary_score
    from persons
    left join person_orders
        on persons.person_id = person_orders.person_id
    left join buyers_scored
        on persons.person_id = buyers_scored.person_id
    left join refunds
        on persons.person_id = refunds.person_id
),

final as (
    select
        person_id,
        order_count,
        ticket_order_count,
        merch_order_count,
        first_order_at,
        last_order_at,
        lifetime_revenue,
        refunded_amount,
        lifetime_revenue - refunded_amount as lifetime_value,
        rfm_recency_days,
        rfm_frequency,
        rfm_monetary,
        rfm_recency_score,
        rfm_frequency_score,
        rfm_monetary_score,
        case
            when order_count = 0 then 'prospect'
            when order_count = 1 and rfm_recency_score >= 4 then 'new_customer'
            when rfm_recency_score >= 4 and rfm_frequency_score + rfm_monetary_score >= 8 then 'champions'
            when rfm_recency_score >= 3 and rfm_frequency_score + rfm_monetary_score >= 6 then 'loyal'
            when rfm_recency_score >= 3 then 'potential_loyalist'
            when rfm_frequency_score + rfm_monetary_score >= 8 then 'cant_lose'
            when rfm_frequency_score + rfm_monetary_score >= 5 then 'at_risk'
            else 'hibernating'
        end as rfm_segment
    from persons_joined
)

select * from final
