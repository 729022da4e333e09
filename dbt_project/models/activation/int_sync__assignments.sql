{#- The one place the sync models read decisions from: one row per person who
    should hear from a journey now, with the channel, when they may be messaged
    and the addresses the channel tools need. Control-group members and people
    with no reachable channel are left out. Today it reads journey_assignments;
    with guardrails it reads guardrail_decisions (decision send or defer, the
    channel after fallback, its reason_code and next_eligible_at) instead. -#}

with

assignments as (
    select * from {{ ref('journey_assignments') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

messageable as (
    select assignments.*
    from assignments
    where
        not assignments.is_holdout
        and assignments.channel is not null
),

with_profiles as (
    select
        messageable.person_id,
        profiles.primary_user_id as user_id,
        case when profiles.has_valid_email then profiles.email end as email,
        case when profiles.has_valid_phone then profiles.phone_e164 end as phone_e164,
        profiles.locale,
        profiles.timezone,
        messageable.journey_id,
        journeys.journey_name,
        messageable.channel,
        messageable.entered_at,
        messageable.expected_end_at,
        messageable.context_key,
        messageable.context,
        {{ journey_atc.journey_channel_is_reachable('messageable.channel') }} as is_reachable
    from messageable
    inner join profiles
        on messageable.person_id = profiles.person_id
    left join journeys
        on messageable.journey_id = journeys.journey_id
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone_e164 as {{ dbt.type_string() }}) as phone_e164,
        cast(locale as {{ dbt.type_string() }}) as locale,  -- noqa: RF04
        cast(timezone as {{ dbt.type_string() }}) as timezone,  -- noqa: RF04
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(journey_name as {{ dbt.type_string() }}) as journey_name,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast('send' as {{ dbt.type_string() }}) as decision,
        cast('journey_assigned' as {{ dbt.type_string() }}) as reason_code,
        cast(entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        cast(expected_end_at as {{ dbt.type_timestamp() }}) as expected_end_at,
        cast(entered_at as {{ dbt.type_timestamp() }}) as next_eligible_at,
        cast(context_key as {{ dbt.type_string() }}) as context_key,
        cast(context as {{ dbt.type_string() }}) as context
    from with_profiles
    where is_reachable
)

select * from final
