-- One row per phone number in the identity graph, with a deliverability
-- status: bounced (a hard bounce on sms or whatsapp), invalid_format (not
-- E.164) or valid.
with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

events as (
    select * from {{ ref('int_events_stitched') }}
),

message_events as (
    select * from {{ ref('int_message_events_stitched') }}
),

phones as (
    select
        person_id,
        identifier_value as phone_e164
    from person_map
    where identifier_type = 'phone'
),

phones_last_seen as (
    select
        phone_e164,
        max(occurred_at) as last_seen_at
    from events
    where
        phone_e164 is not null
        and occurred_at <= {{ journey_atc.as_of() }}
    group by phone_e164
),

phone_hard_bounces as (
    select
        phone_e164,
        max(occurred_at) as hard_bounced_at
    from message_events
    where
        channel in ('sms', 'whatsapp')
        and event_type = 'bounced'
        and bounce_type = 'hard'
        and phone_e164 is not null
    group by phone_e164
),

phones_classified as (
    select
        phones.person_id,
        phones.phone_e164,
        phones_last_seen.last_seen_at,
        phone_hard_bounces.hard_bounced_at,
        case
            when phone_hard_bounces.hard_bounced_at is not null then 'bounced'
            when not {{ journey_atc.is_valid_phone_e164('phones.phone_e164') }} then 'invalid_format'
            else 'valid'
        end as phone_status
    from phones
    left join phones_last_seen
        on phones.phone_e164 = phones_last_seen.phone_e164
    left join phone_hard_bounces
        on phones.phone_e164 = phone_hard_bounces.phone_e164
),

final as (
    select
        person_id,
        phone_e164,
        phone_status,
        phone_status = 'valid' as is_valid,
        last_seen_at,
        hard_bounced_at
    from phones_classified
)

select * from final
