{#- expr cast to type, or null when it does not convert ('two', '', '12,50'
    as a double): one bad value in a JSON property must not stop a build.
    dbt's safe_cast() is a plain cast on DuckDB, which raises. -#}
{% macro try_cast(expr, type) -%}
    {{ return(adapter.dispatch('try_cast', 'journey_atc')(expr, type)) }}
{%- endmacro %}

{% macro default__try_cast(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}
