{#- True when the text is valid JSON. Null or blank text means "absent" and
    counts as valid. -#}
{% macro is_valid_json(expr) -%}
    {{ return(adapter.dispatch('is_valid_json', 'journey_atc')(expr)) }}
{%- endmacro %}

{% macro default__is_valid_json(expr) -%}
    (nullif(trim({{ expr }}), '') is null or json_valid({{ expr }}))
{%- endmacro %}

{#- try_parse_json is strict JSON; get_json_object also accepts single quotes. -#}
{% macro spark__is_valid_json(expr) -%}
    (nullif(trim({{ expr }}), '') is null or try_parse_json({{ expr }}) is not null)
{%- endmacro %}
