with

identifier_sets as (
    select * from {{ ref('int_identity__identifier_sets') }}
    -- a set whose only event was replaced by a later delivery keeps a row
    where event_count > 0
),

-- every identifier an event carries, as raw values (cheaper to group than nodes)
sightings as (
    select
        'user_id' as identifier_type,
        user_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    -- an alias call's previous_id is the id the person had before: an anonymous id
    select
        'anonymous_id' as identifier_type,
        previous_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    where previous_id <> anonymous_id or anonymous_id is null
    union all
    select
        'device_id' as identifier_type,
        device_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'phone' as identifier_type,
        phone_e164 as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
),

aggregated as (
    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as event_count
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
