{#- The channels a request may use, in the order they are tried, with what
    locks each one for the person (the contact and consent checks that no
    waiting can change). Order: the requested channel, then the channels
    after it in the journey's channel_preference, then the requested
    channel's policy fallback and that one's fallback. A channel listed
    twice keeps its first place.
    lock_reason, first match wins:
      suppressed       on the suppression list (seed suppression_list, for
                       this channel or all), or the address hard-bounced or
                       complained (profiles email_status / phone_status);
      invalid_address  no valid address for the channel: email syntax,
                       disposable, role or typo domains (profiles), a phone
                       that is not valid E.164, no app for push and in-app;
      no_consent       no marketing consent for the policy's consent_channel
                       (profiles has_<channel>_consent: region-aware, an
                       unsubscribe revokes it on the next run);
      no_policy        the channel has no row in channel_policies.
    Requests blocked as a whole (holdout, goal_met, duplicate) get no
    options. -#}
{%- set as_of = journey_atc.as_of() -%}

with

requests as (
    select * from {{ ref('int_guardrails__requests') }}
),

-- read twice below: the columns it needs, not every column of the profiles
-- (docs/incremental.md, "Written for DuckDB's planner")
profiles as (
    select
        person_id,
        email,
        phone_e164,
        email_status,
        phone_status,
        has_valid_email,
        has_valid_phone,
        has_app_device,
        has_email_consent,
        has_sms_consent,
        has_push_consent,
        has_whatsapp_consent
    from {{ ref('profiles') }}
),

person_map as (
    select * from {{ ref('identity_person_map') }}
),

channel_policies as (
    select * from {{ ref('channel_policies') }}
),

category_caps as (
    select * from {{ ref('category_caps') }}
),

suppression_list as (
    select * from {{ ref('suppression_list') }}
),

open_requests as (
    select
        *,
        {{ dbt.position(
            dbt.concat(["'|'", "requested_channel", "'|'"]),
            dbt.concat(["'|'", "coalesce(channel_preference, '')", "'|'"])
        ) }} as requested_offset
    from requests
    where row_block_reason is null
),

preference_parts as (
    select 1 as part_number
    union all
    select 2 as part_number
    union all
    select 3 as part_number
    union all
    select 4 as part_number
),

policies as (
    select
        channel,
        {{ journey_atc.guardrails_clock_minutes('send_window_start') }} as window_start_minute,
        {{ journey_atc.guardrails_clock_minutes('send_window_end') }} as window_end_minute,
        daily_cap,
        weekly_cap,
        coalesce(min_gap_minutes, 0) as min_gap_minutes,
        nullif(fallback_channel, '') as fallback_channel,
        nullif(consent_channel, '') as consent_channel
    from channel_policies
    where channel != 'all'
),

global_policy as (
    select
        max(daily_cap) as global_daily_cap,
        max(weekly_cap) as global_weekly_cap
    from channel_policies
    where channel = 'all'
),

chain_requested as (
    select
        person_id,
        requested_channel as channel,
        1 as option_order
    from open_requests
),

preference_channels as (
    select
        open_requests.person_id,
        open_requests.channel_preference,
        open_requests.requested_offset,
        preference_parts.part_number,
        {{ dbt.split_part('open_requests.channel_preference', "'|'", 'preference_parts.part_number') }} as channel
    from open_requests
    cross join preference_parts
),

-- the channels after the requested one in the journey's preference (all of
-- them when the requested channel is not listed)
chain_preference as (
    select
        person_id,
        channel,
        1 + part_number as option_order
    from preference_channels
    where
        channel != ''
        and {{ dbt.position(
            dbt.concat(["'|'", "channel", "'|'"]),
            dbt.concat(["'|'", "coalesce(channel_preference, '')", "'|'"])
        ) }} > requested_offset
),

chain_fallback as (
    select
        open_requests.person_id,
        policies.fallback_channel as channel,
        10 as option_order
    from open_requests
    inner join policies
        on open_requests.requested_channel = policies.channel
),

chain_fallback_of_fallback as (
    select
        open_requests.person_id,
        second_policies.fallback_channel as channel,
        11 as option_order
    from open_requests
    inner join policies
        on open_requests.requested_channel = policies.channel
    inner join policies as second_policies
        on policies.fallback_channel = second_policies.channel
),

chain as (
    select * from chain_requested
    union all
    select * from chain_preference
    union all
    select * from chain_fallback
    union all
    select * from chain_fallback_of_fallback
),

chain_deduplicated as (
    select
        person_id,
        channel,
        min(option_order) as option_order
    from chain
    where
        channel is not null
        and channel != ''
    group by person_id, channel
),

chain_ranked as (
    select
        person_id,
        channel,
        row_number() over (
            partition by person_id
            order by option_order asc, channel asc
        ) as option_rank
    from chain_deduplicated
),

suppressions_in_force as (
    select
        identifier_type,
        lower(trim(identifier)) as identifier,
        nullif(channel, '') as channel
    from suppression_list
    where suppressed_at is null or suppressed_at <= {{ as_of }}
),

suppressed_by_address as (
    select
        profiles.person_id,
        suppressions_in_force.channel
    from suppressions_in_force
    inner join profiles
        on
            (suppressions_in_force.identifier_type = 'email' and suppressions_in_force.identifier = profiles.email)
            or (
                suppressions_in_force.identifier_type = 'phone'
                and suppressions_in_force.identifier = profiles.phone_e164
            )
            or (
                suppressions_in_force.identifier_type = 'person_id'
                and suppressions_in_force.identifier = lower(profiles.person_id)
            )
),

suppressed_by_user_id as (
    select
        person_map.person_id,
        suppressions_in_force.channel
    from suppressions_in_force
    inner join person_map
        on person_map.node = {{ dbt.concat(["'user_id:'", "suppressions_in_force.identifier"]) }}
    where suppressions_in_force.identifier_type = 'user_id'
),

suppressed as (
    select * from suppressed_by_address
    union all
    select * from suppressed_by_user_id
),

options_joined as (
    select
        open_requests.person_id,
        open_requests.journey_id,
        open_requests.journey_category,
        open_requests.is_exempt,
        open_requests.idempotency_key,
        open_requests.requested_channel,
        open_requests.timezone,
        open_requests.region,
        chain_ranked.channel,
        chain_ranked.option_rank,
        policies.channel is not null as has_policy,
        policies.window_start_minute,
        policies.window_end_minute,
        policies.daily_cap,
        policies.weekly_cap,
        policies.min_gap_minutes,
        policies.consent_channel,
        global_policy.global_daily_cap,
        global_policy.global_weekly_cap,
        category_caps.daily_cap as category_daily_cap,
        category_caps.weekly_cap as category_weekly_cap,
        profiles.email_status,
        profiles.phone_status,
        coalesce(profiles.has_valid_email, false) as has_valid_email,
        coalesce(profiles.has_valid_phone, false) as has_valid_phone,
        coalesce(profiles.has_app_device, false) as has_app_device,
        coalesce(
            case policies.consent_channel
                when 'email' then profiles.has_email_consent
                when 'sms' then profiles.has_sms_consent
                when 'push' then profiles.has_push_consent
                when 'whatsapp' then profiles.has_whatsapp_consent
            end,
            false
        ) as has_consent
    from open_requests
    inner join chain_ranked
        on open_requests.person_id = chain_ranked.person_id
    left join policies
        on chain_ranked.channel = policies.channel
    left join profiles
        on open_requests.person_id = profiles.person_id
    left join category_caps
        on open_requests.journey_category = category_caps.journey_category
    cross join global_policy
),

options_suppressed as (
    select
        options_joined.person_id,
        options_joined.channel,
        count(*) as suppression_count
    from options_joined
    inner join suppressed
        on
            options_joined.person_id = suppressed.person_id
            and (suppressed.channel is null or options_joined.channel = suppressed.channel)
    group by options_joined.person_id, options_joined.channel
),

options_locked as (
    select
        options_joined.*,
        case
            when not options_joined.has_policy then 'no_policy'
            when options_suppressed.suppression_count > 0 then 'suppressed'
            when options_joined.channel = 'email' and options_joined.email_status in ('bounced', 'complained')
                then 'suppressed'
            when options_joined.channel in ('sms', 'whatsapp') and options_joined.phone_status = 'bounced'
                then 'suppressed'
            when options_joined.channel = 'email' and not options_joined.has_valid_email then 'invalid_address'
            when options_joined.channel in ('sms', 'whatsapp') and not options_joined.has_valid_phone
                then 'invalid_address'
            when options_joined.channel in ('push', 'in_app') and not options_joined.has_app_device
                then 'invalid_address'
            when
                options_joined.channel = 'ads'
                and not (options_joined.has_valid_email or options_joined.has_valid_phone)
                then 'invalid_address'
            when options_joined.consent_channel is not null and not options_joined.has_consent then 'no_consent'
        end as lock_reason
    from options_joined
    left join options_suppressed
        on
            options_joined.person_id = options_suppressed.person_id
            and options_joined.channel = options_suppressed.channel
),

final as (
    select
        {{ journey_atc.stable_hash(['person_id', 'channel']) }} as option_id,
        person_id,
        journey_id,
        journey_category,
        is_exempt,
        idempotency_key,
        requested_channel,
        channel,
        option_rank,
        lock_reason,
        timezone,
        region,
        window_start_minute,
        window_end_minute,
        daily_cap,
        weekly_cap,
        min_gap_minutes,
        global_daily_cap,
        global_weekly_cap,
        category_daily_cap,
        category_weekly_cap
    from options_locked
)

select * from final
