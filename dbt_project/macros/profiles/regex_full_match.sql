{#- True when the whole of a text expression matches a regular expression,
    false (never null) otherwise. Write patterns without backslashes (use [.]
    for a literal dot) so they read the same in every engine's string literals. -#}
{% macro regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'journey_atc')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_full_match(expr, pattern) -%}
    coalesce(regexp_like({{ expr }}, '^({{ pattern }})$'), false)
{%- endmacro %}

{% macro duckdb__regex_full_match(expr, pattern) -%}
    coalesce(regexp_full_match({{ expr }}, '{{ pattern }}'), false)
{%- endmacro %}

{% macro spark__regex_full_match(expr, pattern) -%}
    coalesce({{ expr }} rlike '^({{ pattern }})$', false)
{%- endmacro %}
