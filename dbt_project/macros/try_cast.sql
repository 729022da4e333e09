{#- expr cast to type, or null when it does not convert ('two', '', '12,50'
    as a double): one bad value in a JSON property must not stop a build.
    dbt's safe_cast() is a plain cast on DuckDB, which raises. -#}
{% macro try_cast(expr, type) -%}
    {{ return(adapter.dispatch('try_cast', 'journey_atc')(expr, type)) }}
{%- endmacro %}

{% macro default__try_cast(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{#- A number from JSON text as a double: null when it is no number, and for
    NaN and Infinity, which both engines parse but which would poison every
    sum they enter (NaN compares greater than any number on both). -#}
{% macro json_number(expr) -%}
    case
        when abs({{ journey_atc.try_cast(expr, 'double') }}) < 1e300
            then {{ journey_atc.try_cast(expr, 'double') }}
    end
{%- endmacro %}
