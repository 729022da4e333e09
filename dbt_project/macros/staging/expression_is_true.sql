{#- Generic test: fails for every row where the expression is not true.
    Usage (model or column level):
      data_tests:
        - expression_is_true:
            arguments:
              expression: "occurred_at <= received_at"
    At column level the expression is appended to the column name, so
    `expression: ">= 0"` on column quantity tests `quantity >= 0`. -#}
{% test expression_is_true(model, expression, column_name=none) %}
    {{ return(adapter.dispatch('test_expression_is_true', 'journey_atc')(model, expression, column_name)) }}
{% endtest %}

{% macro default__test_expression_is_true(model, expression, column_name) -%}
    select *
    from {{ model }}
    {% if column_name is none -%}
    where not coalesce({{ expression }}, false)
    {%- else -%}
    where not coalesce({{ column_name }} {{ expression }}, false)
    {%- endif %}
{%- endmacro %}
