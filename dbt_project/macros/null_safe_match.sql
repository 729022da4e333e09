{#- A join condition: `left_alias.c is not distinct from right_alias.c` for
    every column c, so rows match where both sides hold null too. -#}
{% macro null_safe_match(left_alias, right_alias, columns) -%}
    {%- for column in columns -%}
        {{ left_alias }}.{{ column }} is not distinct from {{ right_alias }}.{{ column }}
        {%- if not loop.last %} and {% endif -%}
    {%- endfor -%}
{%- endmacro %}
