{#- "Now" for every model: the atc__as_of project variable as a UTC timestamp.
    Models never call current_timestamp; same inputs + same as_of = same output. -#}
{% macro as_of() -%}
    {{ return(adapter.dispatch('as_of', 'journey_atc')()) }}
{%- endmacro %}

{% macro default__as_of() -%}
    cast('{{ var("atc__as_of") }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}
