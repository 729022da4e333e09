{#- True when the text is valid JSON. Null or blank text means "absent" and
    counts as valid. -#}
{% macro is_valid_json(expr) -%}
    {{ return(adapter.dispatch('is_valid_json', 'journey_atc')(expr)) }}
{%- endmacro %}

{% macro default__is_valid_json(expr) -%}
    (nullif(trim({{ expr }}), '') is null or json_valid({{ expr }}))
{%- endmacro %}

{% macro spark__is_valid_json(expr) -%}
    (nullif(trim({{ expr }}), '') is null or get_json_object({{ expr }}, '$') is not null)
{%- endmacro %}
