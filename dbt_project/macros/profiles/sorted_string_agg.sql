{#- Aggregate the distinct non-null values of a text expression into one
    string, sorted ascending and joined by a delimiter, so the result is the
    same on every run and engine (dbt.listagg cannot sort on Spark). -#}
{% macro sorted_string_agg(expr, delimiter=',') -%}
    {{ return(adapter.dispatch('sorted_string_agg', 'journey_atc')(expr, delimiter)) }}
{%- endmacro %}

{% macro default__sorted_string_agg(expr, delimiter) -%}
    listagg(distinct {{ expr }}, '{{ delimiter }}') within group (order by {{ expr }})
{%- endmacro %}

{#- list_sort over a distinct list is several times faster in DuckDB than
    string_agg(distinct ... order by ...). -#}
{% macro duckdb__sorted_string_agg(expr, delimiter) -%}
    nullif(
        array_to_string(list_sort(list(distinct {{ expr }}) filter (where {{ expr }} is not null)), '{{ delimiter }}'),
        ''
    )
{%- endmacro %}

{% macro spark__sorted_string_agg(expr, delimiter) -%}
    nullif(array_join(array_sort(collect_set({{ expr }})), '{{ delimiter }}'), '')
{%- endmacro %}
