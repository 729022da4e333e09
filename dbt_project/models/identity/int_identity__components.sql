{{ config(
    post_hook=[
        "{{ journey_atc.identity_drop_working_table(this, 'node_index') }}",
        "{{ journey_atc.identity_drop_working_table(this, 'adjacency') }}",
        "{{ journey_atc.identity_drop_working_table(this, 'labels_a') }}",
        "{{ journey_atc.identity_drop_working_table(this, 'labels_b') }}",
    ],
) }}

{#- The label-propagation loop (macros/identity/identity_connected_components.sql)
    builds its working tables from these three inputs while the model runs. -#}
{%- set components_sql = journey_atc.identity_connected_components(
    nodes=ref('int_identity__nodes'),
    edges=ref('int_identity__edges'),
    overlinked=ref('identity_overlinked_identifiers'),
    model_relation=this,
) -%}

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
