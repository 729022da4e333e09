{#- Every timing and volume rule, evaluated for each unlocked channel option
    at as_of and at every moment the answer could change, so that
    first_ok_at is the first moment that satisfies every rule at once.
    Candidate moments (only those at or after as_of):
      as_of itself;
      the opening of the send window on each local day from today to var
      atc__guardrails_horizon_days ahead (local midnight + window start,
      converted to UTC through the person's time zone, DST-correct);
      each moment a ledger entry of the person leaves a window: sent_at +
      24 hours, + 7 days, + the channel's min gap, + the overlap hours;
      the next UTC midnight, when the volume ramp starts a new day.
    Rules at a moment t (ledger entries are all at or before as_of, so an
    entry is in a window ending at t when sent_at > t - window):
      holiday      t's local date is a holiday in the person's region;
      quiet_hours  t's local time is outside the channel's send window;
      global_cap   the person's messages on all channels in the last 24 h /
                   7 days, plus this one, exceed the `all` policy's caps;
      category_cap same, counting messages of the journey's category;
      overlap      a message of another journey in the last var
                   atc__guardrails_overlap_hours;
      daily_cap / weekly_cap  messages on this channel, plus this one,
                   exceed the channel's caps;
      cooldown     a message on this channel less than min_gap_minutes ago.
    Exempt categories skip holiday, the caps and overlap. reason_at_as_of is
    the first rule (in the order above) broken at as_of, null when none. -#}
{%- set as_of = journey_atc.as_of() -%}
{%- set horizon_days = var('atc__guardrails_horizon_days', 14) -%}
{%- set overlap_hours = var('atc__guardrails_overlap_hours', 4) -%}

with

options as (
    select * from {{ ref('int_guardrails__channel_options') }}
),

ledger as (
    select * from {{ ref('int_guardrails__ledger') }}
),

holidays as (
    select * from {{ ref('holidays') }}
),

day_offsets as (
    {{ journey_atc.guardrails_day_offsets(horizon_days) }}
),

open_options as (
    select *
    from options
    where lock_reason is null
),

candidates_as_of as (
    select
        option_id,
        {{ as_of }} as candidate_at
    from open_options
),

-- Time zone conversions are costly per row and many options share a zone,
-- so each is done once per zone and send window (or zone and moment below)
-- and joined back. An option without a zone or window gets no opening: its
-- conversion would be null, and a null moment is never a candidate.
zone_windows as (
    select distinct
        timezone,
        window_start_minute
    from open_options
    where
        timezone is not null
        and window_start_minute is not null
),

zone_window_openings as (
    select
        zone_windows.timezone,
        zone_windows.window_start_minute,
        {{ journey_atc.guardrails_from_local(
            dbt.dateadd(
                'minute',
                'zone_windows.window_start_minute',
                dbt.dateadd(
                    'day',
                    'day_offsets.day_offset',
                    dbt.date_trunc('day', journey_atc.guardrails_to_local(as_of, 'zone_windows.timezone'))
                )
            ),
            'zone_windows.timezone'
        ) }} as candidate_at
    from zone_windows
    cross join day_offsets
),

candidates_window_openings as (
    select
        open_options.option_id,
        zone_window_openings.candidate_at
    from open_options
    inner join zone_window_openings
        on
            open_options.timezone = zone_window_openings.timezone
            and open_options.window_start_minute = zone_window_openings.window_start_minute
),

ledger_exits as (
    select
        open_options.option_id,
        {{ dbt.dateadd('hour', 24, 'ledger.sent_at') }} as day_exit_at,
        {{ dbt.dateadd('day', 7, 'ledger.sent_at') }} as week_exit_at,
        {{ dbt.dateadd('minute', 'open_options.min_gap_minutes', 'ledger.sent_at') }} as gap_exit_at,
        {{ dbt.dateadd('hour', overlap_hours, 'ledger.sent_at') }} as overlap_exit_at
    from open_options
    inner join ledger
        on open_options.person_id = ledger.person_id
),

candidates_ledger_exits as (
    select
        option_id,
        day_exit_at as candidate_at
    from ledger_exits
    union all
    select
        option_id,
        week_exit_at as candidate_at
    from ledger_exits
    union all
    select
        option_id,
        gap_exit_at as candidate_at
    from ledger_exits
    union all
    select
        option_id,
        overlap_exit_at as candidate_at
    from ledger_exits
),

candidates_ramp_day as (
    select
        option_id,
        {{ dbt.dateadd('day', 1, dbt.date_trunc('day', as_of)) }} as candidate_at
    from open_options
),

candidates_all as (
    select * from candidates_as_of
    union all
    select * from candidates_window_openings
    union all
    select * from candidates_ledger_exits
    union all
    select * from candidates_ramp_day
),

candidates as (
    select distinct
        option_id,
        candidate_at
    from candidates_all
    where
        candidate_at >= {{ as_of }}
        and candidate_at <= {{ dbt.dateadd('day', horizon_days + 1, as_of) }}
),

candidate_options as (
    select
        candidates.candidate_at,
        open_options.*
    from candidates
    inner join open_options
        on candidates.option_id = open_options.option_id
),

-- candidate moments x the person's ledger entries inside the widest window
candidate_counts as (
    select
        candidate_options.option_id,
        candidate_options.candidate_at,
        count(
            case when ledger.sent_at > {{ dbt.dateadd('hour', -24, 'candidate_options.candidate_at') }} then 1 end
        ) as global_day_count,
        count(ledger.ledger_entry_id) as global_week_count,
        count(
            case
                when
                    ledger.journey_category = candidate_options.journey_category
                    and ledger.sent_at > {{ dbt.dateadd('hour', -24, 'candidate_options.candidate_at') }}
                    then 1
            end
        ) as category_day_count,
        count(
            case when ledger.journey_category = candidate_options.journey_category then 1 end
        ) as category_week_count,
        count(
            case
                when
                    ledger.channel = candidate_options.channel
                    and ledger.sent_at > {{ dbt.dateadd('hour', -24, 'candidate_options.candidate_at') }}
                    then 1
            end
        ) as channel_day_count,
        count(
            case when ledger.channel = candidate_options.channel then 1 end
        ) as channel_week_count,
        count(
            case
                when
                    ledger.channel = candidate_options.channel
                    and ledger.sent_at > {{ dbt.dateadd(
                        'minute', '-1 * candidate_options.min_gap_minutes', 'candidate_options.candidate_at'
                    ) }}
                    then 1
            end
        ) as cooldown_count,
        count(
            case
                when
                    coalesce(ledger.journey_id, '') != candidate_options.journey_id
                    and ledger.sent_at > {{ dbt.dateadd('hour', -1 * overlap_hours, 'candidate_options.candidate_at') }}
                    then 1
            end
        ) as overlap_count
    from candidate_options
    left join ledger
        on
            candidate_options.person_id = ledger.person_id
            and ledger.sent_at > {{ dbt.dateadd('day', -7, 'candidate_options.candidate_at') }}
    group by candidate_options.option_id, candidate_options.candidate_at
),

-- each zone's wall-clock time of each candidate moment, converted once
zone_moments as (
    select distinct
        timezone,
        candidate_at
    from candidate_options
    where timezone is not null
),

zone_moments_local as (
    select
        timezone,
        candidate_at,
        {{ journey_atc.guardrails_to_local('candidate_at', 'timezone') }} as candidate_local_at
    from zone_moments
),

candidate_local as (
    select
        candidate_options.*,
        candidate_counts.global_day_count,
        candidate_counts.global_week_count,
        candidate_counts.category_day_count,
        candidate_counts.category_week_count,
        candidate_counts.channel_day_count,
        candidate_counts.channel_week_count,
        candidate_counts.cooldown_count,
        candidate_counts.overlap_count,
        zone_moments_local.candidate_local_at
    from candidate_options
    inner join candidate_counts
        on
            candidate_options.option_id = candidate_counts.option_id
            and candidate_options.candidate_at = candidate_counts.candidate_at
    left join zone_moments_local
        on
            candidate_options.timezone = zone_moments_local.timezone
            and candidate_options.candidate_at = zone_moments_local.candidate_at
),

candidate_rules as (
    select
        candidate_local.option_id,
        candidate_local.candidate_at,
        not candidate_local.is_exempt and holidays.region is not null as breaks_holiday,
        case
            when {{ journey_atc.guardrails_in_window(
                journey_atc.guardrails_minute_of_day('candidate_local.candidate_local_at'),
                'candidate_local.window_start_minute',
                'candidate_local.window_end_minute'
            ) }} then false
            else true
        end as breaks_quiet_hours,
        not candidate_local.is_exempt and (
            candidate_local.global_day_count + 1 > coalesce(candidate_local.global_daily_cap, 2147483647)
            or candidate_local.global_week_count + 1 > coalesce(candidate_local.global_weekly_cap, 2147483647)
        ) as breaks_global_cap,
        not candidate_local.is_exempt and (
            candidate_local.category_day_count + 1 > coalesce(candidate_local.category_daily_cap, 2147483647)
            or candidate_local.category_week_count + 1 > coalesce(candidate_local.category_weekly_cap, 2147483647)
        ) as breaks_category_cap,
        not candidate_local.is_exempt and candidate_local.overlap_count > 0 as breaks_overlap,
        not candidate_local.is_exempt
        and candidate_local.channel_day_count + 1 > coalesce(candidate_local.daily_cap, 2147483647)
            as breaks_daily_cap,
        not candidate_local.is_exempt
        and candidate_local.channel_week_count + 1 > coalesce(candidate_local.weekly_cap, 2147483647)
            as breaks_weekly_cap,
        candidate_local.cooldown_count > 0 as breaks_cooldown
    from candidate_local
    left join holidays
        on
            candidate_local.region = holidays.region
            and cast(candidate_local.candidate_local_at as date) = holidays.holiday_date
),

candidate_reasons as (
    select
        option_id,
        candidate_at,
        case
            when breaks_holiday then 'holiday'
            when breaks_quiet_hours then 'quiet_hours'
            when breaks_global_cap then 'global_cap'
            when breaks_category_cap then 'category_cap'
            when breaks_overlap then 'overlap'
            when breaks_daily_cap then 'daily_cap'
            when breaks_weekly_cap then 'weekly_cap'
            when breaks_cooldown then 'cooldown'
        end as reason_code
    from candidate_rules
),

option_summary as (
    select
        option_id,
        max(case when candidate_at = {{ as_of }} then reason_code end) as reason_at_as_of,
        min(case when reason_code is null then candidate_at end) as first_ok_at,
        min(
            case
                when
                    reason_code is null
                    and candidate_at >= {{ dbt.dateadd('day', 1, dbt.date_trunc('day', as_of)) }}
                    then candidate_at
            end
        ) as first_ok_after_ramp_day_at,
        count(*) as candidate_count
    from candidate_reasons
    group by option_id
),

final as (
    select
        options.option_id,
        options.person_id,
        options.channel,
        options.option_rank,
        options.lock_reason,
        option_summary.reason_at_as_of,
        option_summary.first_ok_at,
        option_summary.first_ok_after_ramp_day_at,
        coalesce(option_summary.candidate_count, 0) as candidate_count
    from options
    left join option_summary
        on options.option_id = option_summary.option_id
)

select * from final
