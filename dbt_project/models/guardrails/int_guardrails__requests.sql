{#- One row per person in a journey (journey_assignments): the message the
    current journey step asks for, before any channel rule.
      requested_channel  the assignment's channel, else (control group) the
                         journey's first preferred channel;
      step_number        1 + whole var atc__guardrails_step_days since entry;
      idempotency_key    hash of person, journey, entered_at, requested channel
                         and step: the same on every re-run of this step,
                         whatever the as_of;
      row_block_reason   holdout, goal_met (the goal event happened after
                         entry) or duplicate (an earlier run already planned
                         this key, or a channel tool reported it), else null.
    Time zone: the profile's when it is a recognised IANA zone, else var
    atc__default_timezone. -#}
{%- set as_of = journey_atc.as_of() -%}
{%- set decision_log = journey_atc.guardrails_decision_log_relation() -%}
{%- set step_days = var('atc__guardrails_step_days', 1) -%}

with

assignments as (
    select * from {{ ref('journey_assignments') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

iana_timezones as (
    select * from {{ ref('iana_timezones') }}
),

events as (
    select * from {{ ref('int_events_stitched') }}
),

ledger as (
    select * from {{ ref('int_guardrails__ledger') }}
),

decision_log as (
    {{ journey_atc.relation_or_empty(decision_log, [
        ('idempotency_key', dbt.type_string()),
        ('decision', dbt.type_string()),
        ('decided_at', dbt.type_timestamp()),
    ]) }}
),

requests_joined as (
    select
        assignments.person_id,
        assignments.journey_id,
        journeys.category as journey_category,
        journeys.channel_preference,
        journeys.goal_event,
        coalesce(journeys.category in {{ journey_atc.guardrails_exempt_categories_sql() }}, false) as is_exempt,
        assignments.entered_at,
        assignments.expected_end_at,
        coalesce(assignments.is_holdout, false) as is_holdout,
        assignments.score,
        coalesce(
            assignments.channel,
            {{ dbt.split_part('journeys.channel_preference', "'|'", 1) }}
        ) as requested_channel,
        {{ dbt.datediff('assignments.entered_at', as_of, 'minute') }} as minutes_since_entry,  -- noqa: LT05
        coalesce(
            iana_timezones.timezone,
            '{{ var("atc__default_timezone", "America/New_York") }}'
        ) as timezone,
        coalesce(profiles.region, '{{ var("atc__default_region", "US") }}') as region,
        profiles.last_engaged_at
    from assignments
    left join journeys
        on assignments.journey_id = journeys.journey_id
    left join profiles
        on assignments.person_id = profiles.person_id
    left join iana_timezones
        on lower(profiles.timezone) = lower(iana_timezones.timezone)
),

requests_stepped as (
    select
        *,
        cast(floor(minutes_since_entry / (1440.0 * {{ step_days }})) as {{ dbt.type_bigint() }}) + 1 as step_number
    from requests_joined
),

requests_keyed as (
    select
        *,
        {{ journey_atc.stable_hash(['person_id', 'journey_id', 'entered_at', 'requested_channel', 'step_number']) }}
            as idempotency_key
    from requests_stepped
),

goals_met as (
    select distinct requests_keyed.person_id
    from requests_keyed
    inner join events
        on
            requests_keyed.person_id = events.person_id
            and requests_keyed.goal_event = events.event_name
    where
        events.occurred_at > requests_keyed.entered_at
        and events.occurred_at <= {{ as_of }}
),

earlier_keys as (
    select idempotency_key from decision_log
    where
        decision = 'send'
        and decided_at < {{ as_of }}
    union all
    select message_key as idempotency_key from ledger
),

duplicates as (
    select distinct idempotency_key from earlier_keys
),

final as (
    select
        requests_keyed.*,
        case
            when requests_keyed.is_holdout then 'holdout'
            when goals_met.person_id is not null then 'goal_met'
            when duplicates.idempotency_key is not null then 'duplicate'
        end as row_block_reason
    from requests_keyed
    left join goals_met
        on requests_keyed.person_id = goals_met.person_id
    left join duplicates
        on requests_keyed.idempotency_key = duplicates.idempotency_key
)

select * from final
