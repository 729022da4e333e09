{#- True when a (lower-cased, trimmed) email address has a plausible syntax:
    a local part of letters, digits and _%+- separated by single dots, one @,
    and a domain of dot-separated labels ending in an alphabetic top-level
    domain of two or more letters. -#}
{% macro is_valid_email_syntax(expr) -%}
    {{ journey_atc.regex_full_match(
        expr,
        '[a-z0-9_%+-]+([.][a-z0-9_%+-]+)*@([a-z0-9]([a-z0-9-]*[a-z0-9])?[.])+[a-z]{2,}'
    ) }}
{%- endmacro %}

{#- True when a phone number is in E.164 form: a plus sign, a non-zero
    country digit and 7 to 14 more digits. -#}
{% macro is_valid_phone_e164(expr) -%}
    {{ journey_atc.regex_full_match(expr, '[+][1-9][0-9]{7,14}') }}
{%- endmacro %}
