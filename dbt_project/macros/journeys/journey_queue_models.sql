{#- Every queue model in the project: the enabled models tagged journey_queue,
    sorted by name, as dicts {journey_id, name, unique_id}. The
    journey id is the model's meta.journey_id, else its name without the
    `queue_` prefix. The graph is only filled at execution time, so during
    parsing this returns an empty list. -#}
{% macro journey_queue_models() -%}
    {%- set queues = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values() | sort(attribute='name') -%}
            {%- if node.resource_type == 'model' and 'journey_queue' in node.tags
                and node.config.get('enabled', true) -%}
                {%- set journey_id = node.config.get('meta', {}).get('journey_id')
                    or node.meta.get('journey_id')
                    or node.name.replace('queue_', '', 1) -%}
                {%- do queues.append({
                    'journey_id': journey_id,
                    'name': node.name,
                    'unique_id': node.unique_id,
                }) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(queues) }}
{%- endmacro %}


{#- The queue models as a relation-like query: one row per queue model with
    its journey_id and model name. Typed and empty when there are none. -#}
{% macro journey_queue_models_sql() -%}
    {%- set queues = journey_atc.journey_queue_models() -%}
    {%- if queues | length == 0 -%}
        select
            cast(null as {{ dbt.type_string() }}) as journey_id,
            cast(null as {{ dbt.type_string() }}) as queue_model
        where 1 = 0
    {%- else -%}
        {%- for q in queues %}
        select
            cast('{{ q.journey_id }}' as {{ dbt.type_string() }}) as journey_id,
            cast('{{ q.name }}' as {{ dbt.type_string() }}) as queue_model
        {% if not loop.last %}union all{% endif %}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
