{{ config(materialized='table') }}

{%- set as_of = journey_atc.as_of() -%}

with

candidates as (
    select * from {{ ref('int_journey_candidates') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

prior_state as (
    select * from {{ ref('int_journey_prior_state') }}
),

message_events as (
    select * from {{ ref('int_message_events_stitched') }}
),

active_progress as (
    select * from {{ ref('int_journey_active_progress') }}
),

-- messages sent to the person recently: the fatigue signal
recent_messages as (
    select
        person_id,
        count(*) as recent_message_count
    from message_events
    where
        event_type = 'sent'
        and person_id is not null
        and occurred_at > {{ dbt.dateadd('day', -1 * var('atc__fatigue_window_days', 7), as_of) }}
        and occurred_at <= {{ as_of }}
    group by person_id
),

-- journeys a person is invited to next: the linked next journey of one they
-- completed in the last atc__next_journey_window_days or complete right now
linked_next as (
    select distinct
        prior_state.person_id,
        journeys.next_journey_id as journey_id
    from prior_state
    inner join journeys
        on prior_state.journey_id = journeys.journey_id
    left join active_progress
        on
            prior_state.person_id = active_progress.person_id
            and prior_state.journey_id = active_progress.journey_id
    where
        journeys.next_journey_id is not null
        and (
            prior_state.last_completed_at
            >= {{ dbt.dateadd('day', -1 * var('atc__next_journey_window_days', 14), as_of) }}
            or active_progress.completion_reason is not null
        )
),

enriched as (
    select
        candidates.candidate_id,
        candidates.person_id,
        candidates.journey_id,
        candidates.queue_model,
        candidates.qualified_at,
        candidates.entry_reason,
        coalesce(candidates.relevance_score, 0) as relevance_score,
        coalesce(candidates.urgency_score, 0) as urgency_score,
        candidates.event_at,
        candidates.context_key,
        candidates.context,
        candidates.journey_id = 'none' as is_no_journey,
        journeys.journey_id is not null as has_metadata,
        journeys.journey_name,
        coalesce(journeys.priority, 0) as priority,
        case when candidates.journey_id = 'none' then 'none' else journeys.category end as category,
        journeys.length_days,
        journeys.channel_preference,
        journeys.interests,
        journeys.goal_event,
        coalesce(journeys.reentry_cooldown_days, 0) as reentry_cooldown_days,
        journeys.max_entries,
        coalesce(journeys.is_interruptible, true) as is_interruptible,
        journeys.suppresses_categories,
        journeys.next_journey_id,
        coalesce(journeys.holdout_pct, 0) as holdout_pct,
        journeys.active_from,
        journeys.active_until,
        profiles.region,
        profiles.timezone,
        profiles.top_categories,
        profiles.days_since_last_engaged,
        coalesce(profiles.is_email_reachable, false) as is_email_reachable,
        coalesce(profiles.is_sms_reachable, false) as is_sms_reachable,
        coalesce(profiles.is_push_reachable, false) as is_push_reachable,
        coalesce(profiles.is_whatsapp_reachable, false) as is_whatsapp_reachable,
        coalesce(recent_messages.recent_message_count, 0) as recent_message_count,
        coalesce(prior_state.entry_count, 0) as prior_entry_count,
        case
            when active_progress.completion_reason is not null then {{ as_of }}
            else prior_state.last_left_at
        end as last_left_at,
        active_progress.journey_id is not null as is_current,
        active_progress.active_entered_at as current_entered_at,
        active_progress.goal_reached_at,
        active_progress.completion_reason,
        linked_next.journey_id is not null as is_linked_next
    from candidates
    inner join profiles
        on candidates.person_id = profiles.person_id
    left join journeys
        on candidates.journey_id = journeys.journey_id
    left join recent_messages
        on candidates.person_id = recent_messages.person_id
    left join prior_state
        on candidates.candidate_id = prior_state.candidate_id
    left join active_progress
        on
            candidates.person_id = active_progress.person_id
            and candidates.journey_id = active_progress.journey_id
    left join linked_next
        on
            candidates.person_id = linked_next.person_id
            and candidates.journey_id = linked_next.journey_id
),

final as (
    select * from enriched
)

select * from final
