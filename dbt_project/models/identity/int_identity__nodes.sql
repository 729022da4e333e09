with

events as (
    select * from {{ ref('stg_segment__events') }}
),

-- every identifier an event carries, as raw values (cheaper to group than nodes)
sightings as (
    select
        'user_id' as identifier_type,
        user_id as identifier_value,
        occurred_at
    from events
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        occurred_at
    from events
    union all
    -- an alias call's previous_id is the id the person had before: an anonymous id
    select
        'anonymous_id' as identifier_type,
        previous_id as identifier_value,
        occurred_at
    from events
    where previous_id <> anonymous_id or anonymous_id is null
    union all
    select
        'device_id' as identifier_type,
        device_id as identifier_value,
        occurred_at
    from events
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        occurred_at
    from events
    union all
    select
        'phone' as identifier_type,
        phone_e164 as identifier_value,
        occurred_at
    from events
),

aggregated as (
    select
        identifier_type,
        identifier_value,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count
    from sightings
    where identifier_value is not null and identifier_value <> ''
    group by identifier_type, identifier_value
),

final as (
    select
        {{ journey_atc.identity_node('identifier_type', 'identifier_value', type_is_column=true) }} as node,
        identifier_type,
        identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from aggregated
)

select * from final
