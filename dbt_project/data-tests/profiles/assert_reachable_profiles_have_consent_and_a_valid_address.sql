-- Nobody may be reachable on a channel without consent to it and a valid
-- address (or the app, for push).
with

profiles as (
    select * from {{ ref('profiles') }}
),

violations as (
    select
        person_id,
        is_email_reachable,
        is_sms_reachable,
        is_push_reachable,
        is_whatsapp_reachable
    from profiles
    where
        (is_email_reachable and not (has_valid_email and has_email_consent))
        or (is_sms_reachable and not (has_valid_phone and has_sms_consent))
        or (is_push_reachable and not (has_app_device and has_push_consent))
        or (is_whatsapp_reachable and not (has_valid_phone and has_whatsapp_consent))
)

select * from violations
