{#- Every identifier that links people, with its person_id.
    Incremental (docs/incremental.md): only the touched components' nodes are
    written again; touched nodes that left the graph lose their row. -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='node',
    on_schema_change='fail',
    post_hook=[
        "{{ journey_atc.delete_nodes_that_left_the_graph() }}",
    ],
) }}
{%- set as_of = journey_atc.as_of() -%}

with

touched_nodes as (
    select * from {{ ref('int_identity__touched_nodes') }}
),

components as (
    select components.*
    from {{ ref('int_identity__components') }} as components
    inner join touched_nodes
        on components.node = touched_nodes.node
),

assignments as (
    select * from {{ ref('int_identity__person_assignments') }}
),

prior_map as (
    select * from {{ ref('int_identity__prior_person_map') }}
),

component_persons as (
    select
        component_id,
        person_id,
        person_created_at
    from assignments
    group by component_id, person_id, person_created_at
),

mapped as (
    select
        components.node,
        component_persons.person_id,
        component_persons.person_created_at,
        -- a node that keeps its person_id keeps the time it was first given it
        case
            when prior_map.person_id = component_persons.person_id then prior_map.assigned_at
            else {{ as_of }}
        end as assigned_at
    from components
    inner join component_persons
        on components.component_id = component_persons.component_id
    left join prior_map
        on components.node = prior_map.node
),

final as (
    select
        node,
        {{ journey_atc.identity_node_type('node') }} as identifier_type,
        {{ journey_atc.identity_node_value('node') }} as identifier_value,
        person_id,
        person_created_at,
        assigned_at
    from mapped
)

select * from final
