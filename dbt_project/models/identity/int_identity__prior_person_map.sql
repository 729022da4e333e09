{#- The person map as the previous run left it, read before identity_person_map is
    rebuilt so person_ids can survive. Absent on the first run: then it is empty. -#}
{%- set previous_map = adapter.get_relation(this.database, this.schema, 'identity_person_map') if execute else none -%}

with

previous_map as (
    {% if previous_map is not none -%}
        select
            node,
            person_id,
            person_created_at,
            assigned_at
        from {{ previous_map }}
    {%- else -%}
        select
            cast(null as {{ dbt.type_string() }}) as node,
            cast(null as {{ dbt.type_string() }}) as person_id,
            cast(null as {{ dbt.type_timestamp() }}) as person_created_at,
            cast(null as {{ dbt.type_timestamp() }}) as assigned_at
        where 1 = 0
    {%- endif %}
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
