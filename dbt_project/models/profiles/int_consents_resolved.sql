-- One row per person and channel (email, sms, push, whatsapp): may we send
-- them marketing on it, and on what basis.
-- The latest marketing consent record (by recorded_at, then consent_id)
-- matched through any of the person's user ids, emails or phones decides:
--   granted     -> explicit_opt_in, unless an unsubscribe on that channel
--                  came later (unsubscribed);
--   not granted -> explicit_opt_out.
-- Without a record the person's region decides (seed consent_region_rules;
-- a region or channel not listed gets the strictest rule): where explicit
-- opt-in is required there is no consent (no_record_opt_in_required), else
-- consent is assumed (soft_opt_in) until they unsubscribe (unsubscribed).
with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

consents as (
    select * from {{ ref('stg_consents__consents') }}
),

message_events as (
    select * from {{ ref('int_message_events_stitched') }}
),

persons_timezones as (
    select * from {{ ref('int_persons_timezones') }}
),

consent_region_rules as (
    select * from {{ ref('consent_region_rules') }}
),

channels as (
    select 'email' as channel
    union all
    select 'sms' as channel
    union all
    select 'push' as channel
    union all
    select 'whatsapp' as channel
),

person_channels as (
    select
        persons_timezones.person_id,
        persons_timezones.region,
        channels.channel
    from persons_timezones
    cross join channels
),

marketing_consents_matched as (
    select
        person_map.person_id,
        consents.consent_id,
        consents.channel,
        consents.is_granted,
        consents.recorded_at,
        row_number() over (
            partition by person_map.person_id, consents.channel
            order by consents.recorded_at desc, consents.consent_id desc
        ) as recency_rank
    from consents
    inner join person_map
        on person_map.node = {{ dbt.concat(["consents.identifier_type", "':'", "consents.identifier"]) }}
    where
        lower(consents.purpose) = 'marketing'
        and consents.recorded_at <= {{ journey_atc.as_of() }}
),

latest_consents as (
    select
        person_id,
        channel,
        consent_id,
        is_granted,
        recorded_at
    from marketing_consents_matched
    where recency_rank = 1
),

unsubscribes as (
    select
        person_id,
        channel,
        max(occurred_at) as unsubscribed_at
    from message_events
    where
        person_id is not null
        and event_type = 'unsubscribed'
    group by person_id, channel
),

person_channels_joined as (
    select
        person_channels.person_id,
        person_channels.channel,
        person_channels.region,
        coalesce(consent_region_rules.requires_explicit_opt_in, true) as requires_explicit_opt_in,
        latest_consents.consent_id,
        latest_consents.is_granted,
        latest_consents.recorded_at,
        unsubscribes.unsubscribed_at
    from person_channels
    left join consent_region_rules
        on
            person_channels.region = consent_region_rules.region
            and person_channels.channel = consent_region_rules.channel
    left join latest_consents
        on
            person_channels.person_id = latest_consents.person_id
            and person_channels.channel = latest_consents.channel
    left join unsubscribes
        on
            person_channels.person_id = unsubscribes.person_id
            and person_channels.channel = unsubscribes.channel
),

consents_resolved as (
    select
        *,
        case
            when is_granted and (unsubscribed_at is null or unsubscribed_at <= recorded_at)
                then 'explicit_opt_in'
            when is_granted then 'unsubscribed'
            when not is_granted then 'explicit_opt_out'
            when unsubscribed_at is not null then 'unsubscribed'
            when requires_explicit_opt_in then 'no_record_opt_in_required'
            else 'soft_opt_in'
        end as consent_basis
    from person_channels_joined
),

final as (
    select
        {{ journey_atc.stable_hash(['person_id', 'channel']) }} as person_channel_id,
        person_id,
        channel,
        region,
        requires_explicit_opt_in,
        consent_basis in ('explicit_opt_in', 'soft_opt_in') as has_consent,
        consent_basis,
        consent_id,
        recorded_at as consent_recorded_at,
        unsubscribed_at
    from consents_resolved
)

select * from final
