{#- True when a pipe-separated list (e.g. 'email|push') contains an item.
    Null or empty lists contain nothing. Built on dbt.position and dbt.concat,
    so it runs unchanged on every engine. -#}
{% macro journey_list_contains(list_expr, item_expr) -%}
    {{ return(adapter.dispatch('journey_list_contains', 'journey_atc')(list_expr, item_expr)) }}
{%- endmacro %}

{% macro default__journey_list_contains(list_expr, item_expr) -%}
    (
        nullif({{ item_expr }}, '') is not null
        and {{ dbt.position(
            dbt.concat(["'|'", item_expr, "'|'"]),
            dbt.concat(["'|'", "coalesce(" ~ list_expr ~ ", '')", "'|'"])
        ) }} > 0
    )
{%- endmacro %}
