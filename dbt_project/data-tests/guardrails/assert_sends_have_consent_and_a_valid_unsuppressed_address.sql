-- Invariant 2: nothing is sent on a channel to a person who has not
-- consented to it, is suppressed, or has no valid address for it. Read
-- straight from profiles and the policies' consent channel, not from the
-- guardrails' own options. Returns each offending send.
with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

channel_policies as (
    select * from {{ ref('channel_policies') }}
),

sends as (
    select
        decisions.person_id,
        decisions.channel,
        nullif(channel_policies.consent_channel, '') as consent_channel,
        profiles.has_valid_email,
        profiles.has_valid_phone,
        profiles.has_app_device,
        case nullif(channel_policies.consent_channel, '')
            when 'email' then profiles.has_email_consent
            when 'sms' then profiles.has_sms_consent
            when 'push' then profiles.has_push_consent
            when 'whatsapp' then profiles.has_whatsapp_consent
        end as has_consent
    from decisions
    left join profiles
        on decisions.person_id = profiles.person_id
    left join channel_policies
        on decisions.channel = channel_policies.channel
    where decisions.decision = 'send'
),

violations as (
    select * from sends
    where
        (consent_channel is not null and not coalesce(has_consent, false))
        or (channel = 'email' and not coalesce(has_valid_email, false))
        or (channel in ('sms', 'whatsapp') and not coalesce(has_valid_phone, false))
        or (channel in ('push', 'in_app') and not coalesce(has_app_device, false))
)

select * from violations
