-- One row per email address in the identity graph, with a deliverability
-- status. Checks apply in this order, first match wins: complained (a spam
-- complaint), bounced (a hard bounce), invalid_syntax, typo_domain (a
-- misspelt popular domain, with the probable intended address), disposable
-- (a throw-away mailbox provider), role_account (info@, support@ ...), valid.
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

disposable_email_domains as (
    select * from {{ ref('disposable_email_domains') }}
),

role_account_prefixes as (
    select * from {{ ref('role_account_prefixes') }}
),

email_typo_domains as (
    select * from {{ ref('email_typo_domains') }}
),

emails as (
    select
        person_id,
        identifier_value as email
    from person_map
    where identifier_type = 'email'
),

emails_split as (
    select
        person_id,
        email,
        {{ journey_atc.is_valid_email_syntax('email') }} as is_valid_syntax,
        {{ dbt.split_part('email', "'@'", 1) }} as local_part,
        {{ dbt.split_part('email', "'@'", 2) }} as email_domain
    from emails
),

emails_last_seen as (
    select
        email,
        max(occurred_at) as last_seen_at
    from events
    where
        email is not null
        and occurred_at <= {{ journey_atc.as_of() }}
    group by email
),

email_delivery_failures as (
    select
        email,
        max(case when event_type = 'bounced' and bounce_type = 'hard' then occurred_at end) as hard_bounced_at,
        max(case when event_type = 'complained' then occurred_at end) as complained_at
    from message_events
    where
        channel = 'email'
        and email is not null
        and event_type in ('bounced', 'complained')
    group by email
),

emails_checked as (
    select
        emails_split.person_id,
        emails_split.email,
        emails_split.local_part,
        emails_split.email_domain,
        emails_split.is_valid_syntax,
        emails_last_seen.last_seen_at,
        email_delivery_failures.hard_bounced_at,
        email_delivery_failures.complained_at,
        email_typo_domains.intended_domain,
        disposable_email_domains.domain is not null as is_disposable_domain,
        role_account_prefixes.prefix is not null as is_role_account
    from emails_split
    left join emails_last_seen
        on emails_split.email = emails_last_seen.email
    left join email_delivery_failures
        on emails_split.email = email_delivery_failures.email
    left join email_typo_domains
        on emails_split.email_domain = email_typo_domains.typo_domain
    left join disposable_email_domains
        on emails_split.email_domain = disposable_email_domains.domain
    left join role_account_prefixes
        on {{ dbt.split_part('emails_split.local_part', "'+'", 1) }} = role_account_prefixes.prefix
),

emails_classified as (
    select
        person_id,
        email,
        email_domain,
        last_seen_at,
        hard_bounced_at,
        complained_at,
        case
            when complained_at is not null then 'complained'
            when hard_bounced_at is not null then 'bounced'
            when not is_valid_syntax then 'invalid_syntax'
            when intended_domain is not null then 'typo_domain'
            when is_disposable_domain then 'disposable'
            when is_role_account then 'role_account'
            else 'valid'
        end as email_status,
        case
            when is_valid_syntax and intended_domain is not null
                then {{ dbt.concat(["local_part", "'@'", "intended_domain"]) }}
        end as suggested_email
    from emails_checked
),

final as (
    select
        person_id,
        email,
        email_domain,
        email_status,
        email_status = 'valid' as is_valid,
        suggested_email,
        last_seen_at,
        hard_bounced_at,
        complained_at
    from emails_classified
)

select * from final
