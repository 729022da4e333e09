{#- Trimmed, lower-cased email; null when empty or without an '@' that has
    text on both sides. -#}
{% macro normalize_email(expr) -%}
    {{ return(adapter.dispatch('normalize_email', 'journey_atc')(expr)) }}
{%- endmacro %}

{% macro default__normalize_email(expr) -%}
    case
        when lower(trim({{ expr }})) like '%_@_%' then lower(trim({{ expr }}))
    end
{%- endmacro %}

{% macro spark__normalize_email(expr) -%}
    {{ return(journey_atc.default__normalize_email(expr)) }}
{%- endmacro %}
