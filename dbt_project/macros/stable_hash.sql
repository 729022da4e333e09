{#- A deterministic md5 text hash of one or more expressions. Nulls become ''
    and parts are joined with '|', so ('a', 'b') and ('ab', '') differ. -#}
{% macro stable_hash(exprs) -%}
    {{ return(adapter.dispatch('stable_hash', 'journey_atc')(exprs)) }}
{%- endmacro %}

{% macro default__stable_hash(exprs) -%}
    {%- if exprs is string -%}{%- set exprs = [exprs] -%}{%- endif -%}
    {%- set parts = [] -%}
    {%- for e in exprs -%}
        {%- if not loop.first -%}{%- do parts.append("'|'") -%}{%- endif -%}
        {%- do parts.append("coalesce(cast(" ~ e ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
