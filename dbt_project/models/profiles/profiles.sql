-- One row per person: identifiers, best addresses and their validity, time
-- zone and region, activity, orders and RFM, interests, engagement, consent
-- per channel and whether each channel can reach them, all as of as_of.
with

persons_identifiers as (
    select * from {{ ref('int_persons_identifiers') }}
),

emails_classified as (
    select * from {{ ref('int_emails_classified') }}
),

phones_classified as (
    select * from {{ ref('int_phones_classified') }}
),

persons_timezones as (
    select * from {{ ref('int_persons_timezones') }}
),

persons_engagement as (
    select * from {{ ref('int_persons_engagement') }}
),

persons_rfm as (
    select * from {{ ref('int_persons_rfm') }}
),

persons_interests as (
    select * from {{ ref('int_persons_interests') }}
),

consents_resolved as (
    select * from {{ ref('int_consents_resolved') }}
),

emails_ranked as (
    select
        person_id,
        email,
        email_status,
        is_valid,
        row_number() over (
            partition by person_id
            order by
                case when is_valid then 0 else 1 end asc,
                last_seen_at desc nulls last,
                email asc
        ) as preference_rank
    from emails_classified
),

best_emails as (
    select
        person_id,
        email,
        email_status,
        is_valid
    from emails_ranked
    where preference_rank = 1
),

phones_ranked as (
    select
        person_id,
        phone_e164,
        phone_status,
        is_valid,
        row_number() over (
            partition by person_id
            order by
                case when is_valid then 0 else 1 end asc,
                last_seen_at desc nulls last,
                phone_e164 asc
        ) as preference_rank
    from phones_classified
),

best_phones as (
    select
        person_id,
        phone_e164,
        phone_status,
        is_valid
    from phones_ranked
    where preference_rank = 1
),

email_consents as (
    select * from consents_resolved
    where channel = 'email'
),

sms_consents as (
    select * from consents_resolved
    where channel = 'sms'
),

push_consents as (
    select * from consents_resolved
    where channel = 'push'
),

whatsapp_consents as (
    select * from consents_resolved
    where channel = 'whatsapp'
),

profiles_joined as (
    select
        persons_identifiers.*,
        best_emails.email,
        best_emails.email_status,
        coalesce(best_emails.is_valid, false) as has_valid_email,
        best_phones.phone_e164,
        best_phones.phone_status,
        coalesce(best_phones.is_valid, false) as has_valid_phone,
        persons_timezones.timezone,
        persons_timezones.timezone_source,
        persons_timezones.locale,
        persons_timezones.region,
        persons_timezones.region_source,
        persons_engagement.first_seen_at,
        persons_engagement.last_seen_at,
        persons_engagement.event_count,
        persons_engagement.has_app_device,
        persons_engagement.last_message_opened_at,
        persons_engagement.last_message_clicked_at,
        persons_engagement.last_engaged_at,
        persons_engagement.days_since_last_engaged,
        persons_rfm.order_count,
        persons_rfm.ticket_order_count,
        persons_rfm.merch_order_count,
        persons_rfm.first_order_at,
        persons_rfm.last_order_at,
        persons_rfm.lifetime_revenue,
        persons_rfm.refunded_amount,
        persons_rfm.lifetime_value,
        persons_rfm.rfm_recency_days,
        persons_rfm.rfm_frequency,
        persons_rfm.rfm_monetary,
        persons_rfm.rfm_recency_score,
        persons_rfm.rfm_frequency_score,
        persons_rfm.rfm_monetary_score,
        persons_rfm.rfm_segment,
        persons_interests.top_categories,
        persons_interests.top_category,
        persons_interests.favourite_venue_id,
        email_consents.has_consent as has_email_consent,
        email_consents.consent_basis as email_consent_basis,
        sms_consents.has_consent as has_sms_consent,
        sms_consents.consent_basis as sms_consent_basis,
        push_consents.has_consent as has_push_consent,
        push_consents.consent_basis as push_consent_basis,
        whatsapp_consents.has_consent as has_whatsapp_consent,
        whatsapp_consents.consent_basis as whatsapp_consent_basis
    from persons_identifiers
    left join best_emails
        on persons_identifiers.person_id = best_emails.person_id
    left join best_phones
        on persons_identifiers.person_id = best_phones.person_id
    left join persons_timezones
        on persons_identifiers.person_id = persons_timezones.person_id
    left join persons_engagement
        on persons_identifiers.person_id = persons_engagement.person_id
    left join persons_rfm
        on persons_identifiers.person_id = persons_rfm.person_id
    left join persons_interests
        on persons_identifiers.person_id = persons_interests.person_id
    left join email_consents
        on persons_identifiers.person_id = email_consents.person_id
    left join sms_consents
        on persons_identifiers.person_id = sms_consents.person_id
    left join push_consents
        on persons_identifiers.person_id = push_consents.person_id
    left join whatsapp_consents
        on persons_identifiers.person_id = whatsapp_consents.person_id
),

profiles_reachability as (
    select
        *,
        has_valid_email and has_email_consent as is_email_reachable,
        has_valid_phone and has_sms_consent as is_sms_reachable,
        has_app_device and has_push_consent as is_push_reachable,
        has_valid_phone and has_whatsapp_consent as is_whatsapp_reachable
    from profiles_joined
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(person_created_at as {{ dbt.type_timestamp() }}) as person_created_at,
        cast(primary_user_id as {{ dbt.type_string() }}) as primary_user_id,
        cast(user_ids as {{ dbt.type_string() }}) as user_ids,
        cast(anonymous_ids as {{ dbt.type_string() }}) as anonymous_ids,
        cast(device_ids as {{ dbt.type_string() }}) as device_ids,
        cast(emails as {{ dbt.type_string() }}) as emails,
        cast(phones as {{ dbt.type_string() }}) as phones,
        cast(user_id_count as {{ dbt.type_bigint() }}) as user_id_count,
        cast(anonymous_id_count as {{ dbt.type_bigint() }}) as anonymous_id_count,
        cast(device_id_count as {{ dbt.type_bigint() }}) as device_id_count,
        cast(email_count as {{ dbt.type_bigint() }}) as email_count,
        cast(phone_count as {{ dbt.type_bigint() }}) as phone_count,
        cast(identifier_count as {{ dbt.type_bigint() }}) as identifier_count,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(email_status as {{ dbt.type_string() }}) as email_status,
        cast(has_valid_email as {{ dbt.type_boolean() }}) as has_valid_email,
        cast(phone_e164 as {{ dbt.type_string() }}) as phone_e164,
        cast(phone_status as {{ dbt.type_string() }}) as phone_status,
        cast(has_valid_phone as {{ dbt.type_boolean() }}) as has_valid_phone,
        cast(timezone as {{ dbt.type_string() }}) as timezone,
        cast(timezone_source as {{ dbt.type_string() }}) as timezone_source,
        cast(locale as {{ dbt.type_string() }}) as locale,  -- noqa: RF04
        cast(region as {{ dbt.type_string() }}) as region,
        cast(region_source as {{ dbt.type_string() }}) as region_source,
        cast(first_seen_at as {{ dbt.type_timestamp() }}) as first_seen_at,
        cast(last_seen_at as {{ dbt.type_timestamp() }}) as last_seen_at,
        cast(coalesce(event_count, 0) as {{ dbt.type_bigint() }}) as event_count,
        cast(coalesce(has_app_device, false) as {{ dbt.type_boolean() }}) as has_app_device,
        cast(order_count as {{ dbt.type_bigint() }}) as order_count,
        cast(ticket_order_count as {{ dbt.type_bigint() }}) as ticket_order_count,
        cast(merch_order_count as {{ dbt.type_bigint() }}) as merch_order_count,
        cast(first_order_at as {{ dbt.type_timestamp() }}) as first_order_at,
        cast(last_order_at as {{ dbt.type_timestamp() }}) as last_order_at,
        cast(lifetime_revenue as double) as lifetime_revenue,
        cast(refunded_amount as double) as refunded_amount,
        cast(lifetime_value as double) as lifetime_value,
        cast(rfm_recency_days as {{ dbt.type_bigint() }}) as rfm_recency_days,
        cast(rfm_frequency as {{ dbt.type_bigint() }}) as rfm_frequency,
        cast(rfm_monetary as double) as rfm_monetary,
        cast(rfm_recency_score as {{ dbt.type_int() }}) as rfm_recency_score,
        cast(rfm_frequency_score as {{ dbt.type_int() }}) as rfm_frequency_score,
        cast(rfm_monetary_score as {{ dbt.type_int() }}) as rfm_monetary_score,
        cast(rfm_segment as {{ dbt.type_string() }}) as rfm_segment,
        cast(top_categories as {{ dbt.type_string() }}) as top_categories,
        cast(top_category as {{ dbt.type_string() }}) as top_category,
        cast(favourite_venue_id as {{ dbt.type_string() }}) as favourite_venue_id,
        cast(last_message_opened_at as {{ dbt.type_timestamp() }}) as last_message_opened_at,
        cast(last_message_clicked_at as {{ dbt.type_timestamp() }}) as last_message_clicked_at,
        cast(last_engaged_at as {{ dbt.type_timestamp() }}) as last_engaged_at,
        cast(days_since_last_engaged as {{ dbt.type_bigint() }}) as days_since_last_engaged,
        cast(has_email_consent as {{ dbt.type_boolean() }}) as has_email_consent,
        cast(email_consent_basis as {{ dbt.type_string() }}) as email_consent_basis,
        cast(has_sms_consent as {{ dbt.type_boolean() }}) as has_sms_consent,
        cast(sms_consent_basis as {{ dbt.type_string() }}) as sms_consent_basis,
        cast(has_push_consent as {{ dbt.type_boolean() }}) as has_push_consent,
        cast(push_consent_basis as {{ dbt.type_string() }}) as push_consent_basis,
        cast(has_whatsapp_consent as {{ dbt.type_boolean() }}) as has_whatsapp_consent,
        cast(whatsapp_consent_basis as {{ dbt.type_string() }}) as whatsapp_consent_basis,
        cast(coalesce(is_email_reachable, false) as {{ dbt.type_boolean() }}) as is_email_reachable,
        cast(coalesce(is_sms_reachable, false) as {{ dbt.type_boolean() }}) as is_sms_reachable,
        cast(coalesce(is_push_reachable, false) as {{ dbt.type_boolean() }}) as is_push_reachable,
        cast(coalesce(is_whatsapp_reachable, false) as {{ dbt.type_boolean() }}) as is_whatsapp_reachable,
        cast(
            case when coalesce(is_email_reachable, false) then 1 else 0 end
            + case when coalesce(is_sms_reachable, false) then 1 else 0 end
            + case when coalesce(is_push_reachable, false) then 1 else 0 end
            + case when coalesce(is_whatsapp_reachable, false) then 1 else 0 end
            as {{ dbt.type_int() }}
        ) as reachable_channel_count,
        {{ journey_atc.as_of() }} as computed_at
    from profiles_reachability
)

select * from final
