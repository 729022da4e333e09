{#- Building the JSON `context` of a journey queue row, the same way on every
    engine. fields is an ordered dict of key -> SQL expression; keys must be
    snake_case identifiers. Null values are written as JSON null on DuckDB and
    left out on Spark (to_json drops null fields); readers treat both alike. -#}

{#- A struct (record) value from key -> expression pairs. -#}
{% macro queue_struct(fields) -%}
    {{ return(adapter.dispatch('queue_struct', 'journey_atc')(fields)) }}
{%- endmacro %}

{% macro default__queue_struct(fields) -%}
    {
    {%- for key, expr in fields.items() %}
        '{{ key }}': {{ expr }}{{ "," if not loop.last }}
    {%- endfor %}
    }
{%- endmacro %}

{% macro spark__queue_struct(fields) -%}
    named_struct(
    {%- for key, expr in fields.items() %}
        '{{ key }}', {{ expr }}{{ "," if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}


{#- JSON text of a struct (or array of structs) expression. -#}
{% macro queue_to_json(expr) -%}
    {{ return(adapter.dispatch('queue_to_json', 'journey_atc')(expr)) }}
{%- endmacro %}

{% macro default__queue_to_json(expr) -%}
    cast(to_json({{ expr }}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__queue_to_json(expr) -%}
    to_json({{ expr }})
{%- endmacro %}


{#- A JSON object (as text) from key -> expression pairs. -#}
{% macro queue_json_object(fields) -%}
    {{ journey_atc.queue_to_json(journey_atc.queue_struct(fields)) }}
{%- endmacro %}


{#- Aggregate: the non-null values of expr (structs included) into an array,
    sorted ascending (a struct sorts by its first field, then the next), so
    the result is the same on every run and engine. -#}
{% macro queue_sorted_array_agg(expr) -%}
    {{ return(adapter.dispatch('queue_sorted_array_agg', 'journey_atc')(expr)) }}
{%- endmacro %}

{% macro default__queue_sorted_array_agg(expr) -%}
    list({{ expr }} order by {{ expr }})
{%- endmacro %}

{% macro spark__queue_sorted_array_agg(expr) -%}
    array_sort(collect_list({{ expr }}))
{%- endmacro %}


{#- The values of one text field of every element of a JSON array, as an
    array of text: json_array_field_texts(properties, '$.products', 'category'). -#}
{% macro json_array_field_texts(json_expr, array_path, field) -%}
    {{ return(adapter.dispatch('json_array_field_texts', 'journey_atc')(json_expr, array_path, field)) }}
{%- endmacro %}

{% macro default__json_array_field_texts(json_expr, array_path, field) -%}
    json_extract_string({{ json_expr }}, '{{ array_path }}[*].{{ field }}')
{%- endmacro %}

{% macro spark__json_array_field_texts(json_expr, array_path, field) -%}
    transform(
        from_json(get_json_object({{ json_expr }}, '{{ array_path }}'), 'array<map<string,string>>'),
        element -> element['{{ field }}']
    )
{%- endmacro %}


{#- True when a text array contains a value (null-safe: false for a null array). -#}
{% macro array_contains_text(array_expr, value_expr) -%}
    {{ return(adapter.dispatch('array_contains_text', 'journey_atc')(array_expr, value_expr)) }}
{%- endmacro %}

{% macro default__array_contains_text(array_expr, value_expr) -%}
    coalesce(list_contains({{ array_expr }}, {{ value_expr }}), false)
{%- endmacro %}

{% macro spark__array_contains_text(array_expr, value_expr) -%}
    coalesce(array_contains({{ array_expr }}, {{ value_expr }}), false)
{%- endmacro %}
