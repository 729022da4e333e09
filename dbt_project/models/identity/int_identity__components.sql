{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='node',
    on_schema_change='fail',
    post_hook=[
        "{{ journey_atc.delete_nodes_that_left_the_graph() }}",
        "{{ journey_atc.identity_drop_working_table(this, 'node_index') }}",
        "{{ journey_atc.identity_drop_working_table(this, 'adjacency') }}",
        "{{ journey_atc.identity_drop_working_table(this, 'labels_a') }}",
        "{{ journey_atc.identity_drop_working_table(this, 'labels_b') }}",
    ],
) }}

{#- The label-propagation loop (macros/identity/identity_connected_components.sql)
    builds its working tables from these three inputs while the model runs.
    Incremental (docs/incremental.md): only the touched nodes and the edges
    between them are labelled again (their components are closed: every edge
    of a touched node that links people ends at a touched node), and their rows
    replace the earlier ones; touched nodes that left the graph lose their row.
    A component's id is its smallest node, so it does not depend on which part
    of the graph was labelled. -#}
{%- set touched_nodes = ref('int_identity__touched_nodes') -%}
{%- if is_incremental() -%}
    {%- set nodes_input -%}
        (select node from {{ touched_nodes }} where is_graph_node)
    {%- endset -%}
    {%- set edges_input -%}
        (
            select edges.*
            from {{ ref('int_identity__edges') }} as edges
            inner join {{ touched_nodes }} as touched_a
                on edges.node_a = touched_a.node
            inner join {{ touched_nodes }} as touched_b
                on edges.node_b = touched_b.node
        )
    {%- endset -%}
{%- else -%}
    {%- set nodes_input = ref('int_identity__nodes') -%}
    {%- set edges_input = ref('int_identity__edges') -%}
{%- endif -%}
{%- set components_sql = journey_atc.identity_connected_components(
    nodes=nodes_input,
    edges=edges_input,
    overlinked=ref('identity_overlinked_identifiers'),
    model_relation=this,
) -%}

-- depends_on: {{ ref('int_identity__touched_nodes') }}

with

components as (
    {{ components_sql }}
),

final as (
    select
        node,
        component_id,
        iterations,
        is_converged
    from components
)

select * from final
