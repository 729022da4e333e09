with

events as (
    select * from {{ ref('stg_segment__events') }}
),

person_map as (
    select * from {{ ref('identity_person_map') }}
),

-- over-linked identifiers are absent from the person map, so the first
-- identifier found there is the first one that is not over-linked
stitched as (
    select
        events.*,
        coalesce(
            by_user.person_id,
            by_anonymous.person_id,
            by_device.person_id,
            by_email.person_id,
            by_phone.person_id
        ) as person_id,
        case
            when by_user.person_id is not null then 'user_id'
            when by_anonymous.person_id is not null then 'anonymous_id'
            when by_device.person_id is not null then 'device_id'
            when by_email.person_id is not null then 'email'
            when by_phone.person_id is not null then 'phone'
        end as stitched_via
    from events
    left join person_map as by_user
        on {{ journey_atc.identity_node('user_id', 'events.user_id') }} = by_user.node
    left join person_map as by_anonymous
        on {{ journey_atc.identity_node('anonymous_id', 'events.anonymous_id') }} = by_anonymous.node
    left join person_map as by_device
        on {{ journey_atc.identity_node('device_id', 'events.device_id') }} = by_device.node
    left join person_map as by_email
        on {{ journey_atc.identity_node('email', 'events.email') }} = by_email.node
    left join person_map as by_phone
        on {{ journey_atc.identity_node('phone', 'events.phone_e164') }} = by_phone.node
),

final as (
    -- every staging column passes through unchanged, whatever staging adds later
    select * from stitched
)

select * from final  -- noqa: AM04
