with

events as (
    select * from {{ ref('stg_segment__events') }}
),

event_nodes as (
    select
        event_id,
        event_type,
        occurred_at,
        {{ journey_atc.identity_node('user_id', 'user_id') }} as user_node,
        {{ journey_atc.identity_node('anonymous_id', 'anonymous_id') }} as anonymous_node,
        -- an alias call's previous_id is the id the person had before: an anonymous id
        {{ journey_atc.identity_node('anonymous_id', 'previous_id') }} as previous_node,
        {{ journey_atc.identity_node('device_id', 'device_id') }} as device_node,
        {{ journey_atc.identity_node('email', 'email') }} as email_node,
        {{ journey_atc.identity_node('phone', 'phone_e164') }} as phone_node
    from events
),

-- every pair of identifiers one event vouches for belonging to one person
linked_pairs as (
    select
        user_node as node_x,
        anonymous_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    union all
    select
        anonymous_node as node_x,
        device_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    union all
    select
        user_node as node_x,
        device_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    union all
    select
        user_node as node_x,
        email_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    union all
    select
        user_node as node_x,
        phone_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    -- identify without login: the email or phone belongs to the browser or app install
    union all
    select
        anonymous_node as node_x,
        email_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    where user_node is null
    union all
    select
        anonymous_node as node_x,
        phone_node as node_y,
        event_type,
        occurred_at
    from event_nodes
    where user_node is null
    -- alias: the previous id and the user id are the same person
    union all
    select
        previous_node as node_x,
        user_node as node_y,
        event_type,
        occurred_at
    from event_nodes
),

oriented as (
    select
        case when node_x < node_y then node_x else node_y end as node_a,
        case when node_x < node_y then node_y else node_x end as node_b,
        event_type,
        occurred_at
    from linked_pairs
    where
        node_x is not null
        and node_y is not null
        and node_x <> node_y
),

by_source as (
    select
        node_a,
        node_b,
        event_type as edge_source,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count
    from oriented
    group by node_a, node_b, event_type
),

ranked_sources as (
    select
        node_a,
        node_b,
        edge_source,
        first_seen_at,
        row_number() over (
            partition by node_a, node_b
            order by first_seen_at, edge_source
        ) as source_rank
    from by_source
),

first_sources as (
    select
        node_a,
        node_b,
        edge_source
    from ranked_sources
    where source_rank = 1
),

totals as (
    select
        node_a,
        node_b,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(event_count) as event_count
    from by_source
    group by node_a, node_b
),

final as (
    select
        {{ journey_atc.stable_hash(['totals.node_a', 'totals.node_b']) }} as edge_id,
        totals.node_a,
        totals.node_b,
        first_sources.edge_source,
        totals.first_seen_at,
        totals.last_seen_at,
        totals.event_count
    from totals
    inner join first_sources
        on
            totals.node_a = first_sources.node_a
            and totals.node_b = first_sources.node_b
)

select * from final
