-- One row per person who completed an order or got a refund by as_of: their
-- order counts, revenue, refunds and RFM window totals, before scoring
-- (int_persons_rfm ranks everyone on these).
-- An order is one order_completed per order id (duplicates count once); it is
-- a ticket order when it names a show or a ticket type, else merchandise.
-- Incremental per person (macros/incremental/affected_persons.sql): a run
-- computes again only the persons of int_persons_affected, who include the
-- persons whose orders left the RFM window since the previous build.
{{ journey_atc.per_person_model() }}

-- int_events_stitched is named where it is read: a CTE read twice would be
-- copied whole first
with

order_events as (
    select
        person_id,
        event_id,
        coalesce(order_id, event_id) as order_key,
        occurred_at,
        coalesce(revenue, 0) as revenue,
        show_id is not null or ticket_type is not null as is_ticket_order,
        row_number() over (
            partition by person_id, coalesce(order_id, event_id)
            order by occurred_at asc, event_id asc
        ) as delivery_rank
    from {{ ref('int_events_stitched') }}
    where
        event_name = 'order_completed'
        and person_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
        and {{ journey_atc.persons_in_scope() }}
),

orders as (
    select
        person_id,
        order_key,
        occurred_at,
        revenue,
        is_ticket_order,
        occurred_at > {{ dbt.dateadd('day', -1 * var('atc__rfm_window_days'), journey_atc.as_of()) }}
            as is_in_rfm_window
    from order_events
    where delivery_rank = 1
),

refunds as (
    select
        person_id,
        round(sum(abs(coalesce(revenue, 0))), 2) as refunded_amount
    from {{ ref('int_events_stitched') }}
    where
        event_name = 'order_refunded'
        and person_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
        and {{ journey_atc.persons_in_scope() }}
    group by person_id
),

person_orders as (
    select
        person_id,
        count(*) as order_count,
        sum(case when is_ticket_order then 1 else 0 end) as ticket_order_count,
        sum(case when is_ticket_order then 0 else 1 end) as merch_order_count,
        min(occurred_at) as first_order_at,
        max(occurred_at) as last_order_at,
        round(sum(revenue), 2) as lifetime_revenue,
        sum(case when is_in_rfm_window then 1 else 0 end) as rfm_frequency,
        round(sum(case when is_in_rfm_window then revenue else 0 end), 2) as rfm_monetary
    from orders
    group by person_id
),

final as (
    select
        coalesce(person_orders.person_id, refunds.person_id) as person_id,
        person_orders.order_count,
        person_orders.ticket_order_count,
        person_orders.merch_order_count,
        person_orders.first_order_at,
        person_orders.last_order_at,
        person_orders.lifetime_revenue,
        person_orders.rfm_frequency,
        person_orders.rfm_monetary,
        refunds.refunded_amount
    from person_orders
    full outer join refunds
        on person_orders.person_id = refunds.person_id
)

select * from final
