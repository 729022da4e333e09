with

identifier_sets as (
    select * from {{ ref('int_identity__identifier_sets') }}
    -- a set whose only event was replaced by a later delivery keeps a row
    where event_count > 0
),

-- every pair of identifiers one event vouches for belonging to one person,
-- as raw values: grouping them before building node strings is much cheaper
linked_values as (
    select
        'user_id' as type_x,
        user_id as value_x,
        'anonymous_id' as type_y,
        anonymous_id as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'anonymous_id' as type_x,
        anonymous_id as value_x,
        'device_id' as type_y,
        device_id as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'user_id' as type_x,
        user_id as value_x,
        'device_id' as type_y,
        device_id as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'user_id' as type_x,
        user_id as value_x,
        'email' as type_y,
        email as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'user_id' as type_x,
        user_id as value_x,
        'phone' as type_y,
        phone_e164 as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    -- identify without login: the email or phone belongs to the browser or app install
    select
        'anonymous_id' as type_x,
        anonymous_id as value_x,
        'email' as type_y,
        email as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    where user_id is null
    union all
    select
        'anonymous_id' as type_x,
        anonymous_id as value_x,
        'phone' as type_y,
        phone_e164 as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    where user_id is null
    union all
    -- alias: the previous id (an anonymous id) and the user id are the same person
    select
        'anonymous_id' as type_x,
        previous_id as value_x,
        'user_id' as type_y,
        user_id as value_y,
        event_type,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
),

value_pairs as (
    select
        type_x,
        value_x,
        type_y,
        value_y,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as event_count,
        -- the most deliberate call that linked them wins (see edge_source)
        min(
            case event_type
                when 'alias' then 1
                when 'identify' then 2
                when 'track' then 3
                when 'page' then 4
                when 'screen' then 5
                else 6
            end
        ) as source_rank
    from linked_values
    where
        value_x is not null
        and value_x <> ''
        and value_y is not null
        and value_y <> ''
    group by type_x, value_x, type_y, value_y
),

node_pairs as (
    select
        {{ journey_atc.identity_node('type_x', 'value_x', type_is_column=true) }} as node_x,
        {{ journey_atc.identity_node('type_y', 'value_y', type_is_column=true) }} as node_y,
        first_seen_at,
        last_seen_at,
        event_count,
        source_rank
    from value_pairs
),

oriented as (
    select
        case when node_x < node_y then node_x else node_y end as node_a,
        case when node_x < node_y then node_y else node_x end as node_b,
        first_seen_at,
        last_seen_at,
        event_count,
        source_rank
    from node_pairs
    where node_x <> node_y
),

-- two rules can link the same pair (a login and an alias): one edge
aggregated as (
    select
        node_a,
        node_b,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(event_count) as event_count,
        min(source_rank) as source_rank
    from oriented
    group by node_a, node_b
),

final as (
    select
        {{ journey_atc.stable_hash(['node_a', 'node_b']) }} as edge_id,
        node_a,
        node_b,
        case source_rank
            when 1 then 'alias'
            when 2 then 'identify'
            when 3 then 'track'
            when 4 then 'page'
            when 5 then 'screen'
        end as edge_source,
        first_seen_at,
        last_seen_at,
        event_count
    from aggregated
)

select * from final
