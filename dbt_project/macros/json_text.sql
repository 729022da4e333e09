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

{#- json_valid first, then the cast: on DuckDB 1.4 a try_cast to json costs
    several times both together (3 M documents: 1.5 s against 0.4 s), the cast
    of a valid text cannot fail, and json_valid is false for empty and blank
    text as for invalid JSON. The result stays of type json: on DuckDB 1.4.5,
    json_extract_string over `case when json_valid(x) then x end` (a varchar)
    failed with "Malformed JSON" on raw events whose invalid text the case
    had nulled. -#}
{% macro default__parse_json(expr) -%}
    case when json_valid({{ expr }}) then cast({{ expr }} as json) end
{%- endmacro %}

{#- Spark keeps JSON as text and parses per get_json_object call. The text
    is checked with try_parse_json, which is strict JSON like DuckDB's parser
    (get_json_object also accepts single-quoted names and strings). -#}
{% macro spark__parse_json(expr) -%}
    case when try_parse_json(nullif(trim({{ expr }}), '')) is not null then {{ expr }} end
{%- endmacro %}


{#- Several scalars from one JSON document as a list of texts, in the order of
    paths (a list of JSONPaths); read item n with list_item(list, n). The
    document is parsed once for all paths instead of once per json_text call,
    which matters on tens of millions of rows. -#}
{% macro json_texts(json_expr, paths) -%}
    {{ return(adapter.dispatch('json_texts', 'journey_atc')(json_expr, paths)) }}
{%- endmacro %}

{% macro default__json_texts(json_expr, paths) -%}
    json_extract_string({{ json_expr }}, [
        {%- for path in paths %}'{{ path }}'{% if not loop.last %}, {% endif %}{% endfor -%}
    ])
{%- endmacro %}

{% macro spark__json_texts(json_expr, paths) -%}
    array(
        {%- for path in paths %}get_json_object({{ json_expr }}, '{{ path }}'){% if not loop.last %}, {% endif %}{% endfor -%}
    )
{%- endmacro %}


{#- Item n (counted from 1) of a list, or null when the list is null. -#}
{% macro list_item(list_expr, position) -%}
    {{ return(adapter.dispatch('list_item', 'journey_atc')(list_expr, position)) }}
{%- endmacro %}

{% macro default__list_item(list_expr, position) -%}
    {{ list_expr }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_item(list_expr, position) -%}
    element_at({{ list_expr }}, {{ position }})
{%- endmacro %}
