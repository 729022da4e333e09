with

events as (
    select * from {{ ref('stg_segment__events') }}
),

event_nodes as (
    select
        occurred_at,
        {{ journey_atc.identity_node('user_id', 'user_id') }} as user_node,
        {{ journey_atc.identity_node('anonymous_id', 'anonymous_id') }} as anonymous_node,
        -- an alias call's previous_id is the id the person had before: an anonymous id
        case
            when previous_id <> anonymous_id or anonymous_id is null
                then {{ journey_atc.identity_node('anonymous_id', 'previous_id') }}
        end as previous_node,
        {{ journey_atc.identity_node('device_id', 'device_id') }} as device_node,
        {{ journey_atc.identity_node('email', 'email') }} as email_node,
        {{ journey_atc.identity_node('phone', 'phone_e164') }} as phone_node
    from events
),

sightings as (
    select
        user_node as node,
        occurred_at
    from event_nodes
    where user_node is not null
    union all
    select
        anonymous_node as node,
        occurred_at
    from event_nodes
    where anonymous_node is not null
    union all
    select
        previous_node as node,
        occurred_at
    from event_nodes
    where previous_node is not null
    union all
    select
        device_node as node,
        occurred_at
    from event_nodes
    where device_node is not null
    union all
    select
        email_node as node,
        occurred_at
    from event_nodes
    where email_node is not null
    union all
    select
        phone_node as node,
        occurred_at
    from event_nodes
    where phone_node is not null
),

aggregated as (
    select
        node,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count
    from sightings
    group by node
),

final as (
    select
        node,
        {{ journey_atc.identity_node_type('node') }} as identifier_type,
        {{ journey_atc.identity_node_value('node') }} as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from aggregated
)

select * from final
