{#- Small regular-expression helpers. Patterns avoid backslashes so the same
    literal means the same thing in DuckDB and Spark SQL. -#}

{#- True when the pattern matches anywhere in expr (anchor it with ^...$). -#}
{% macro regexp_matches_text(expr, pattern) -%}
    {{ return(adapter.dispatch('regexp_matches_text', 'journey_atc')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regexp_matches_text(expr, pattern) -%}
    regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_matches_text(expr, pattern) -%}
    ({{ expr }} rlike '{{ pattern }}')
{%- endmacro %}


{#- One capture group of the first match as text; null when nothing matches. -#}
{% macro regexp_extract_text(expr, pattern, group=1) -%}
    {{ return(adapter.dispatch('regexp_extract_text', 'journey_atc')(expr, pattern, group)) }}
{%- endmacro %}

{% macro default__regexp_extract_text(expr, pattern, group=1) -%}
    nullif(regexp_extract({{ expr }}, '{{ pattern }}', {{ group }}), '')
{%- endmacro %}

{% macro spark__regexp_extract_text(expr, pattern, group=1) -%}
    nullif(regexp_extract({{ expr }}, '{{ pattern }}', {{ group }}), '')
{%- endmacro %}


{#- Replace every match of pattern. -#}
{% macro regexp_replace_all(expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('regexp_replace_all', 'journey_atc')(expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__regexp_replace_all(expr, pattern, replacement) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}
