{#- A scalar from a JSON document as text, or null when the path is absent.
    path is a JSONPath like '$.context.device.id'. json_expr should be parsed
    once with parse_json() when many paths are read from the same document. -#}
{% macro json_text(json_expr, path) -%}
    {{ return(adapter.dispatch('json_text', 'journey_atc')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_text(json_expr, path) -%}
    json_extract_string({{ json_expr }}, '{{ path }}')
{%- endmacro %}

{% macro spark__json_text(json_expr, path) -%}
    get_json_object({{ json_expr }}, '{{ path }}')
{%- endmacro %}


{#- Parse JSON text once: the parsed document, or null when the text is empty
    or not valid JSON. Never an error. -#}
{% macro parse_json(expr) -%}
    {{ return(adapter.dispatch('parse_json', 'journey_atc')(expr)) }}
{%- endmacro %}

{% macro default__parse_json(expr) -%}
    try_cast(nullif(trim({{ expr }}), '') as json)
{%- endmacro %}

{#- Spark keeps JSON as text and parses per get_json_object call. -#}
{% macro spark__parse_json(expr) -%}
    case when get_json_object(nullif(trim({{ expr }}), ''), '$') is not null then {{ expr }} end
{%- endmacro %}
