{#- The identifiers whose person may change in this run (docs/incremental.md):
    every identifier of an identifier set written in this run, every member
    of the components those identifiers belonged to before it, and, for such
    an identifier that links people (not over-linked), the former components
    of its neighbours (they join when an identifier stops being over-linked).
    A component is only ever re-stitched whole, so a person_id is decided
    with all of its identifiers in view. On a full build, or where the
    identity models are tables (Spark), every node is touched.
    is_graph_node: the node is still in the graph (it has events and is not
    over-linked); the others only lose their rows downstream. -#}
{%- set previous_components = journey_atc.previous_relation('int_identity__components')
    if journey_atc.incremental_or_table() == 'incremental' else none -%}

-- depends_on: {{ ref('int_identity__identifier_sets') }}
-- depends_on: {{ ref('int_identity__edges') }}

with

-- imports read more than once name their columns (docs/incremental.md,
-- "Written for DuckDB's planner")
nodes as (
    select node from {{ ref('int_identity__nodes') }}
),

overlinked as (
    select node from {{ ref('identity_overlinked_identifiers') }}
),

graph_nodes as (
    select nodes.node
    from nodes
    left join overlinked
        on nodes.node = overlinked.node
    where overlinked.node is null
),

{% if previous_components is not none %}

identifier_sets as (
    select * from {{ ref('int_identity__identifier_sets') }}
),

edges as (
    select
        node_a,
        node_b
    from {{ ref('int_identity__edges') }}
),

previous_components as (
    select
        node,
        component_id
    from {{ previous_components }}
),

changed_sets as (
    select *
    from identifier_sets
    where {{ journey_atc.changed_in_this_run('_changed_at') }}
),

changed_identifiers as (
    select {{ journey_atc.identity_node('user_id', 'user_id') }} as node from changed_sets
    union
    select {{ journey_atc.identity_node('anonymous_id', 'anonymous_id') }} as node from changed_sets
    union
    select {{ journey_atc.identity_node('anonymous_id', 'previous_id') }} as node from changed_sets
    union
    select {{ journey_atc.identity_node('device_id', 'device_id') }} as node from changed_sets
    union
    select {{ journey_atc.identity_node('email', 'email') }} as node from changed_sets
    union
    select {{ journey_atc.identity_node('phone', 'phone_e164') }} as node from changed_sets
),

linking_identifiers as (
    select changed_identifiers.node
    from changed_identifiers
    left join overlinked
        on changed_identifiers.node = overlinked.node
    where
        changed_identifiers.node is not null
        and overlinked.node is null
),

neighbours as (
    select edges.node_b as node
    from edges
    inner join linking_identifiers
        on edges.node_a = linking_identifiers.node
    union
    select edges.node_a as node
    from edges
    inner join linking_identifiers
        on edges.node_b = linking_identifiers.node
),

seeds as (
    select node from changed_identifiers where node is not null
    union
    select node from neighbours
),

touched_components as (
    select distinct previous_components.component_id
    from previous_components
    inner join seeds
        on previous_components.node = seeds.node
),

touched as (
    select node from seeds
    union
    select previous_components.node
    from previous_components
    inner join touched_components
        on previous_components.component_id = touched_components.component_id
),

{% else %}

    touched as (
        select node from nodes
    ),

{% endif %}

final as (
    select
        touched.node,
        graph_nodes.node is not null as is_graph_node
    from touched
    left join graph_nodes
        on touched.node = graph_nodes.node
)

select * from final
