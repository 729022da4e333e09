{#- The named columns of `relation`, or no rows with the same columns and
    types while the relation does not exist yet (a first run, a warehouse the
    sync engine never wrote to). `columns` is a list of (name, type) pairs;
    the type is only used for the empty case. -#}
{% macro relation_or_empty(relation, columns) -%}
    {%- if relation is not none -%}
        select
            {% for name, _ in columns -%}
                {{ name }}{{ "," if not loop.last }}
            {% endfor -%}
        from {{ relation }}
    {%- else -%}
        select
            {% for name, data_type in columns -%}
                cast(null as {{ data_type }}) as {{ name }}{{ "," if not loop.last }}
            {% endfor -%}
        where 1 = 0
    {%- endif -%}
{%- endmacro %}
