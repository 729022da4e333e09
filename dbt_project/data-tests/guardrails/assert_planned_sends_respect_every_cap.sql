-- Invariant 3: planned sends plus the ledger never exceed a cap in any
-- window. Every window containing a send planned at as_of ends at or after
-- it, and the ledger holds nothing later than as_of, so the fullest window
-- is the one ending at the send: (decided_at - 24 h, decided_at] for days,
-- (decided_at - 7 days, decided_at] for weeks. Exempt categories are not
-- capped. Returns each capped send whose count would exceed a cap.
with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

options as (
    select * from {{ ref('int_guardrails__channel_options') }}
),

ledger as (
    select * from {{ ref('int_guardrails__ledger') }}
),

capped_sends as (
    select
        decisions.person_id,
        decisions.journey_category,
        decisions.channel,
        decisions.decided_at,
        options.daily_cap,
        options.weekly_cap,
        options.global_daily_cap,
        options.global_weekly_cap,
        options.category_daily_cap,
        options.category_weekly_cap
    from decisions
    inner join options
        on
            decisions.person_id = options.person_id
            and decisions.channel = options.channel
    where
        decisions.decision = 'send'
        and not decisions.is_exempt
),

counted as (
    select
        capped_sends.person_id,
        capped_sends.channel,
        capped_sends.daily_cap,
        capped_sends.weekly_cap,
        capped_sends.global_daily_cap,
        capped_sends.global_weekly_cap,
        capped_sends.category_daily_cap,
        capped_sends.category_weekly_cap,
        1 + count(
            case
                when
                    ledger.channel = capped_sends.channel
                    and ledger.sent_at > {{ dbt.dateadd('hour', -24, 'capped_sends.decided_at') }}
                    then 1
            end
        ) as channel_day,
        1 + count(case when ledger.channel = capped_sends.channel then 1 end) as channel_week,
        1 + count(
            case when ledger.sent_at > {{ dbt.dateadd('hour', -24, 'capped_sends.decided_at') }} then 1 end
        ) as global_day,
        1 + count(ledger.ledger_entry_id) as global_week,
        1 + count(
            case
                when
                    ledger.journey_category = capped_sends.journey_category
                    and ledger.sent_at > {{ dbt.dateadd('hour', -24, 'capped_sends.decided_at') }}
                    then 1
            end
        ) as category_day,
        1 + count(case when ledger.journey_category = capped_sends.journey_category then 1 end) as category_week
    from capped_sends
    left join ledger
        on
            capped_sends.person_id = ledger.person_id
            and ledger.sent_at > {{ dbt.dateadd('day', -7, 'capped_sends.decided_at') }}
            and capped_sends.decided_at >= ledger.sent_at
    group by
        capped_sends.person_id,
        capped_sends.channel,
        capped_sends.daily_cap,
        capped_sends.weekly_cap,
        capped_sends.global_daily_cap,
        capped_sends.global_weekly_cap,
        capped_sends.category_daily_cap,
        capped_sends.category_weekly_cap
),

violations as (
    select * from counted
    where
        channel_day > coalesce(daily_cap, channel_day)
        or channel_week > coalesce(weekly_cap, channel_week)
        or global_day > coalesce(global_daily_cap, global_day)
        or global_week > coalesce(global_weekly_cap, global_week)
        or category_day > coalesce(category_daily_cap, category_day)
        or category_week > coalesce(category_weekly_cap, category_week)
)

select * from violations
