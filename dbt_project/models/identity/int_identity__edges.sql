{#- Every pair of identifiers that one event vouches for belonging to one
    person, aggregated from the identifier sets (one edge per pair).
    Incremental (docs/incremental.md): only pairs with an identifier of a set
    written in this run are aggregated again, from the sets holding it; an
    earlier edge of such an identifier that no set links any more gets
    event_count 0 and the post-hook removes its row. -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='edge_id',
    on_schema_change='fail',
    post_hook=["{{ journey_atc.delete_from_this_where('event_count = 0') }}"],
) }}

-- depends_on: {{ ref('int_identity__identifier_sets') }}

with

{% if is_incremental() %}

changed_values as (
    {{ journey_atc.identity_changed_values() }}
),

{% endif %}

identifier_sets as (
    -- a set whose only event was replaced by a later delivery keeps a row
    -- with event_count 0: left out
    {{ journey_atc.identity_sets_in_scope('changed_values') }}
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

{% if is_incremental() %}

-- only pairs with a changed identifier: the sets in scope hold every set
-- linking them, not every set linking the other pairs they hold
scoped_pairs as (
    select value_pairs.*
    from value_pairs
    where
        (value_pairs.type_x, value_pairs.value_x) in (select (identifier_type, identifier_value) from changed_values)
        or (value_pairs.type_y, value_pairs.value_y) in (select (identifier_type, identifier_value) from changed_values)
),

{% else %}

    scoped_pairs as (
        select * from value_pairs
    ),

{% endif %}

node_pairs as (
    select
        {{ journey_atc.identity_node('type_x', 'value_x', type_is_column=true) }} as node_x,
        {{ journey_atc.identity_node('type_y', 'value_y', type_is_column=true) }} as node_y,
        first_seen_at,
        last_seen_at,
        event_count,
        source_rank
    from scoped_pairs
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

{% if is_incremental() %}

    -- earlier edges of a changed identifier that no set links any more: kept
    -- with event_count 0 until the post-hook
    , vanished as (
        select
            previous_edges.edge_id,
            previous_edges.node_a,
            previous_edges.node_b,
            previous_edges.edge_source,
            previous_edges.first_seen_at,
            previous_edges.last_seen_at,
            0 as event_count
        from {{ this }} as previous_edges
        left join final
            on previous_edges.edge_id = final.edge_id
        where
            final.edge_id is null
            and (
                previous_edges.node_a in (
                    select {{ journey_atc.identity_node('identifier_type', 'identifier_value', type_is_column=true) }}
                    from changed_values
                )
                or previous_edges.node_b in (
                    select {{ journey_atc.identity_node('identifier_type', 'identifier_value', type_is_column=true) }}
                    from changed_values
                )
            )
    )

    select * from final
    union all
    select * from vanished

{% else %}

    select * from final

{% endif %}
