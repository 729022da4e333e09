{#- Aggregate the distinct non-null values of a text expression into one
    string, sorted ascending and joined by a delimiter, so the result is the
    same on every run and engine (dbt.listagg cannot sort on Spark). -#}
{% macro sorted_string_agg(expr, delimiter=',') -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'journey_atc')(expr, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(expr, delimiter) -%}
    listagg(distinct {{ expr }}, '{{ delimiter }}') within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__sorted_string_agg(expr, delimiter) -%}
    string_agg(distinct {{ expr }}, '{{ delimiter }}' order by {{ expr }})
{%- endmacro %}

{% macro spark__sorted_string_agg(expr, delimiter) -%}
    nullif(array_join(array_sort(collect_set({{ expr }})), '{{ delimiter }}'), '')
{%- endmacro %}
