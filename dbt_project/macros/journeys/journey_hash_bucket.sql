{#- A stable bucket 0-99 from the md5 of some expressions (stable_hash): the
    first 32 bits of the hash as an integer, modulo 100. The same inputs give
    the same bucket on every run and engine. -#}
{% macro journey_hash_bucket(exprs) -%}
    {{ return(adapter.dispatch('journey_hash_bucket', 'journey_atc')(exprs)) }}
{%- endmacro %}

{% macro default__journey_hash_bucket(exprs) -%}
    (cast(({{ dbt.concat(["'0x'", "substr(" ~ journey_atc.stable_hash(exprs) ~ ", 1, 8)"]) }}) as bigint) % 100)
{%- endmacro %}

{% macro spark__journey_hash_bucket(exprs) -%}
    (cast(conv(substr({{ journey_atc.stable_hash(exprs) }}, 1, 8), 16, 10) as bigint) % 100)
{%- endmacro %}
