{#- A double rounded to `places` decimals, half away from zero, as it reads:
    by the shortest decimal that reads back as the same double. Scores are
    sums of decimal weights, so they often end in a 5 just past the places
    kept, and the double then sits a hair above or below that decimal.
    round() on a double differs there between engines and versions: DuckDB
    2.0 rounds the exact binary value (0.8063125 to 0.806312), DuckDB 1.x
    multiplies by a power of ten first (0.5889624999999999 to 0.588963),
    Spark rounds the decimal Java prints (0.8063125 to 0.806313,
    0.5889624999999999 to 0.588962). Rounding the printed decimal gives
    Spark's answer on DuckDB too, so a score, and the ranking it decides,
    is the same on every engine and version (Java 17 prints a few rare
    doubles with more digits than the shortest; such a value can still
    round apart). Returns a double. -#}
{% macro round_decimal(expr, places) -%}
    {{ return(adapter.dispatch('round_decimal', 'journey_atc')(expr, places)) }}
{%- endmacro %}

{#- A value no decimal(38, 17) holds (infinity, NaN, 1e21 and beyond) is
    rounded as a double, as round() did before, not refused. -#}
{% macro default__round_decimal(expr, places) -%}
    coalesce(
        cast(round(try_cast(cast({{ expr }} as {{ dbt.type_string() }}) as decimal(38, 17)), {{ places }}) as double),
        round({{ expr }}, {{ places }})
    )
{%- endmacro %}

{#- Spark's round() of a double already rounds the decimal Double.toString prints. -#}
{% macro spark__round_decimal(expr, places) -%}
    round({{ expr }}, {{ places }})
{%- endmacro %}
