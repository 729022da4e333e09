{#- One decision per person in a journey and requested channel for the
    current journey step: send, defer or drop, with a reason code
    (docs/guardrails.md), the channel after fallback and next_eligible_at.
    1. Holdout, goal_met and duplicate drop the request as a whole.
    2. The channel options are walked in order. An option that can send now
       is used (is_fallback when it is not the requested channel). A lock
       (suppressed, invalid_address, no_consent, no_policy) or a limit of
       the channel itself (daily_cap, weekly_cap, cooldown) moves on to the
       next option. A limit on the person (holiday, quiet_hours, global_cap,
       category_cap, overlap) stops the walk: hopping channels does not
       escape it, so the message is deferred on that option to its
       first_ok_at (dropped when nothing within the horizon satisfies every
       rule).
    3. When every option is passed over, the message is deferred on the
       option that can send first; if none ever can (all locked), the
       decision is drop with silent_enrichment: the journey stays assigned
       and only the profile is updated.
    4. Volume ramp: sends on a channel with a volume_ramp row for today (UTC)
       beyond the day's remaining volume, most engaged first (exempt
       categories before all), are deferred with ramp_limit to the first
       moment of the next day that satisfies every rule.
    reason_code is ok for a send on the requested channel; for a fallback
    send it is why the requested channel was passed over; for a defer or
    drop, why the message does not go now. -#}
{%- set as_of = journey_atc.as_of() -%}

with

requests as (
    select * from {{ ref('int_guardrails__requests') }}
),

option_checks as (
    select * from {{ ref('int_guardrails__option_checks') }}
),

ledger as (
    select * from {{ ref('int_guardrails__ledger') }}
),

volume_ramp as (
    select * from {{ ref('volume_ramp') }}
),

options_classified as (
    select
        *,
        coalesce(lock_reason, reason_at_as_of) as option_reason,
        case
            when lock_reason is null and reason_at_as_of is null then 'send'
            when lock_reason is not null then 'pass'
            when reason_at_as_of in ('daily_cap', 'weekly_cap', 'cooldown') then 'pass'
            else 'stop'
        end as option_class
    from option_checks
),

decisive_ranked as (
    select
        *,
        row_number() over (partition by person_id order by option_rank asc) as decisive_rank
    from options_classified
    where option_class in ('send', 'stop')
),

decisive_options as (
    select * from decisive_ranked
    where decisive_rank = 1
),

earliest_ranked as (
    select
        *,
        row_number() over (
            partition by person_id
            order by first_ok_at asc, option_rank asc
        ) as earliest_rank
    from options_classified
    where first_ok_at is not null
),

earliest_options as (
    select * from earliest_ranked
    where earliest_rank = 1
),

requested_options as (
    select * from options_classified
    where option_rank = 1
),

blocked_lists as (
    select
        options_classified.person_id,
        {{ journey_atc.sorted_string_agg(dbt.concat([
            "cast(options_classified.option_rank as " ~ dbt.type_string() ~ ")",
            "':'", "options_classified.channel", "':'", "options_classified.option_reason"
        ])) }} as blocked_by
    from options_classified
    left join decisive_options
        on options_classified.person_id = decisive_options.person_id
    where
        options_classified.option_reason is not null
        and (decisive_options.person_id is null or options_classified.option_rank <= decisive_options.option_rank)
    group by options_classified.person_id
),

walked as (
    select
        requests.*,
        blocked_lists.blocked_by,
        requested_options.option_reason as requested_reason,
        decisive_options.channel as decisive_channel,
        decisive_options.option_rank as decisive_option_rank,
        decisive_options.option_class as decisive_class,
        decisive_options.option_reason as decisive_reason,
        decisive_options.first_ok_at as decisive_first_ok_at,
        decisive_options.first_ok_after_ramp_day_at as decisive_first_ok_after_ramp_day_at,
        earliest_options.channel as earliest_channel,
        earliest_options.option_rank as earliest_option_rank,
        earliest_options.option_reason as earliest_reason,
        earliest_options.first_ok_at as earliest_first_ok_at
    from requests
    left join blocked_lists
        on requests.person_id = blocked_lists.person_id
    left join requested_options
        on requests.person_id = requested_options.person_id
    left join decisive_options
        on requests.person_id = decisive_options.person_id
    left join earliest_options
        on requests.person_id = earliest_options.person_id
),

walk_outcomes as (
    select
        *,
        case
            when row_block_reason is not null then 'drop'
            when decisive_class = 'send' then 'send'
            when decisive_class = 'stop' and decisive_first_ok_at is not null then 'defer'
            when decisive_class = 'stop' then 'drop'
            when earliest_channel is not null then 'defer'
            else 'drop'
        end as walk_decision,
        case
            when row_block_reason is not null then row_block_reason
            when decisive_class = 'send' and decisive_option_rank = 1 then 'ok'
            when decisive_class = 'send' then requested_reason
            when decisive_class = 'stop' then decisive_reason
            when earliest_channel is not null then earliest_reason
            else 'silent_enrichment'
        end as walk_reason,
        case
            when row_block_reason is not null then null
            when decisive_class = 'send' then decisive_channel
            when decisive_class = 'stop' and decisive_first_ok_at is not null then decisive_channel
            when decisive_class = 'stop' then null
            else earliest_channel
        end as walk_channel,
        case
            when row_block_reason is not null then null
            when decisive_class is not null then decisive_option_rank
            else earliest_option_rank
        end as walk_option_rank,
        case
            when row_block_reason is not null or decisive_class = 'send' then null
            when decisive_class = 'stop' then decisive_first_ok_at
            else earliest_first_ok_at
        end as walk_next_eligible_at
    from walked
),

ramp_today as (
    select
        channel,
        max_sends
    from volume_ramp
    where ramp_date = cast({{ as_of }} as date)
),

ramp_sent_today as (
    select
        channel,
        count(*) as sent_count
    from ledger
    where sent_at >= {{ dbt.date_trunc('day', as_of) }}
    group by channel
),

sends_ranked as (
    select
        walk_outcomes.person_id,
        ramp_today.max_sends - coalesce(ramp_sent_today.sent_count, 0) as remaining_volume,
        row_number() over (
            partition by walk_outcomes.walk_channel
            order by
                case when walk_outcomes.is_exempt then 0 else 1 end asc,
                walk_outcomes.last_engaged_at desc nulls last,
                walk_outcomes.score desc nulls last,
                walk_outcomes.person_id asc
        ) as volume_rank
    from walk_outcomes
    inner join ramp_today
        on walk_outcomes.walk_channel = ramp_today.channel
    left join ramp_sent_today
        on walk_outcomes.walk_channel = ramp_sent_today.channel
    where walk_outcomes.walk_decision = 'send'
),

ramp_limited as (
    select person_id
    from sends_ranked
    where volume_rank > remaining_volume
),

decided as (
    select
        walk_outcomes.*,
        ramp_limited.person_id is not null as is_ramp_limited
    from walk_outcomes
    left join ramp_limited
        on walk_outcomes.person_id = ramp_limited.person_id
),

final as (
    select
        cast({{ journey_atc.stable_hash(['idempotency_key', as_of]) }} as {{ dbt.type_string() }}) as decision_id,
        cast(idempotency_key as {{ dbt.type_string() }}) as idempotency_key,
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(journey_category as {{ dbt.type_string() }}) as journey_category,
        cast(entered_at as {{ dbt.type_timestamp() }}) as journey_entered_at,
        cast(step_number as {{ dbt.type_bigint() }}) as step_number,
        cast(requested_channel as {{ dbt.type_string() }}) as requested_channel,
        cast(
            case when is_ramp_limited and decisive_first_ok_after_ramp_day_at is null then null else walk_channel end
            as {{ dbt.type_string() }}
        ) as channel,
        cast(
            case
                when is_ramp_limited and decisive_first_ok_after_ramp_day_at is null then false
                else coalesce(walk_option_rank > 1, false)
            end
            as {{ dbt.type_boolean() }}
        ) as is_fallback,
        cast(
            case
                when is_ramp_limited and decisive_first_ok_after_ramp_day_at is not null then 'defer'
                when is_ramp_limited then 'drop'
                else walk_decision
            end
            as {{ dbt.type_string() }}
        ) as decision,
        cast(case when is_ramp_limited then 'ramp_limit' else walk_reason end as {{ dbt.type_string() }})
            as reason_code,
        cast(
            case when is_ramp_limited then decisive_first_ok_after_ramp_day_at else walk_next_eligible_at end
            as {{ dbt.type_timestamp() }}
        ) as next_eligible_at,
        cast(blocked_by as {{ dbt.type_string() }}) as blocked_by,
        cast(timezone as {{ dbt.type_string() }}) as timezone,
        cast(is_exempt as {{ dbt.type_boolean() }}) as is_exempt,
        cast({{ as_of }} as {{ dbt.type_timestamp() }}) as decided_at
    from decided
)

select * from final
