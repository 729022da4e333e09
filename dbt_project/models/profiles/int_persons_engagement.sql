-- One row per person: event activity (first and last seen, event count, an
-- app seen), message opens and clicks, and when they last engaged at all.
-- An app device is evidenced by an app_opened event or a screen call: only
-- the iOS and Android SDKs send those. The event totals come from
-- int_persons_event_activity (incremental per person).
with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

event_activity as (
    select * from {{ ref('int_persons_event_activity') }}
),

message_events as (
    select * from {{ ref('int_message_events_stitched') }}
),

persons as (
    select distinct person_id
    from person_map
    where person_id is not null
),

message_activity as (
    select
        person_id,
        max(case when event_type = 'opened' then occurred_at end) as last_message_opened_at,
        max(case when event_type = 'clicked' then occurred_at end) as last_message_clicked_at
    from message_events
    where
        person_id is not null
        and event_type in ('opened', 'clicked')
    group by person_id
),

engagement_moments as (
    select
        person_id,
        last_seen_at as engaged_at
    from event_activity
    union all
    select
        person_id,
        last_message_opened_at as engaged_at
    from message_activity
    union all
    select
        person_id,
        last_message_clicked_at as engaged_at
    from message_activity
),

last_engagements as (
    select
        person_id,
        max(engaged_at) as last_engaged_at
    from engagement_moments
    group by person_id
),

final as (
    select
        persons.person_id,
        event_activity.first_seen_at,
        event_activity.last_seen_at,
        coalesce(event_activity.event_count, 0) as event_count,
        coalesce(event_activity.app_event_flag, 0) = 1 as has_app_device,
        message_activity.last_message_opened_at,
        message_activity.last_message_clicked_at,
        last_engagements.last_engaged_at,
        {{ dbt.datediff('last_engagements.last_engaged_at', journey_atc.as_of(), 'day') }}
            as days_since_last_engaged
    from persons
    left join event_activity
        on persons.person_id = event_activity.person_id
    left join message_activity
        on persons.person_id = message_activity.person_id
    left join last_engagements
        on persons.person_id = last_engagements.person_id
)

select * from final
