-- One row per delivery event up to as_of, with the person it belongs to.
-- The recipient is matched on user id first, then email, then phone.
with

message_events as (
    select * from {{ ref('stg_channels__message_events') }}
),

-- read three times below: the two columns it needs (docs/incremental.md,
-- "Written for DuckDB's planner")
person_map as (
    select
        node,
        person_id
    from {{ ref('identity_person_map') }}
),

message_events_in_scope as (
    select
        message_event_id,
        message_id,
        channel,
        journey_id,
        event_type,
        user_id,
        lower(trim(email)) as email,
        phone_e164,
        occurred_at,
        bounce_type
    from message_events
    where occurred_at <= {{ journey_atc.as_of() }}
),

message_events_matched as (
    select
        message_events_in_scope.*,
        by_user_id.person_id as user_id_person_id,
        by_email.person_id as email_person_id,
        by_phone.person_id as phone_person_id
    from message_events_in_scope
    left join person_map as by_user_id
        on by_user_id.node = {{ dbt.concat(["'user_id:'", "message_events_in_scope.user_id"]) }}
    left join person_map as by_email
        on by_email.node = {{ dbt.concat(["'email:'", "message_events_in_scope.email"]) }}
    left join person_map as by_phone
        on by_phone.node = {{ dbt.concat(["'phone:'", "message_events_in_scope.phone_e164"]) }}
),

final as (
    select
        message_event_id,
        message_id,
        channel,
        journey_id,
        event_type,
        user_id,
        email,
        phone_e164,
        occurred_at,
        bounce_type,
        coalesce(user_id_person_id, email_person_id, phone_person_id) as person_id,
        case
            when user_id_person_id is not null then 'user_id'
            when email_person_id is not null then 'email'
            when phone_person_id is not null then 'phone'
        end as stitched_via
    from message_events_matched
)

select * from final
