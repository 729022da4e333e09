-- country_defaults repeats, for readers, whether email and sms need an
-- explicit opt-in; consent_region_rules is what consent resolution uses.
-- Any country where the two disagree is returned.
with

country_defaults as (
    select * from {{ ref('country_defaults') }}
),

consent_region_rules as (
    select * from {{ ref('consent_region_rules') }}
),

country_channel_defaults as (
    select
        country,
        'email' as channel,
        requires_email_opt_in as requires_explicit_opt_in
    from country_defaults
    union all
    select
        country,
        'sms' as channel,
        requires_sms_opt_in as requires_explicit_opt_in
    from country_defaults
),

disagreements as (
    select
        country_channel_defaults.country,
        country_channel_defaults.channel,
        country_channel_defaults.requires_explicit_opt_in as country_defaults_value,
        coalesce(consent_region_rules.requires_explicit_opt_in, true) as consent_rule_value
    from country_channel_defaults
    left join consent_region_rules
        on
            country_channel_defaults.country = consent_region_rules.region
            and country_channel_defaults.channel = consent_region_rules.channel
    where
        country_channel_defaults.requires_explicit_opt_in
        != coalesce(consent_region_rules.requires_explicit_opt_in, true)
)

select * from disagreements
