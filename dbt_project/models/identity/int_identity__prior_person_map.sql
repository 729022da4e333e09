{#- The person map as the previous run left it, read before identity_person_map is
    rebuilt so person_ids can survive. Absent on the first run: then it is empty.
    Only the touched nodes' rows (int_identity__touched_nodes): a person's nodes
    are always touched together, so the persons read here are whole. -#}
{%- set previous_map = adapter.get_relation(this.database, this.schema, 'identity_person_map') if execute else none -%}

with

previous_map as (
    {{ journey_atc.relation_or_empty(previous_map, [
        ('node', dbt.type_string()),
        ('person_id', dbt.type_string()),
        ('person_created_at', dbt.type_timestamp()),
        ('assigned_at', dbt.type_timestamp()),
    ]) }}
),

touched_nodes as (
    select * from {{ ref('int_identity__touched_nodes') }}
),

final as (
    select
        previous_map.node,
        previous_map.person_id,
        previous_map.person_created_at,
        previous_map.assigned_at
    from previous_map
    inner join touched_nodes
        on previous_map.node = touched_nodes.node
)

select * from final
