{#- The person map as the previous run left it, read before identity_person_map is
    rebuilt so person_ids can survive. Absent on the first run: then it is empty. -#}
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

final as (
    select
        node,
        person_id,
        person_created_at,
        assigned_at
    from previous_map
)

select * from final
