{#- Local wall-clock time of a UTC timestamp in an IANA time zone, and back.
    Both are correct across daylight-saving changes: the engine's time zone
    database decides the offset of each instant. The session time zone never
    matters. A local time that does not exist (inside a spring-forward gap)
    is moved by the engine; callers re-check the local time of any instant
    they pick, so no rule is broken by it. -#}
{% macro guardrails_to_local(utc_expr, tz_expr) -%}
    {{ return(adapter.dispatch('guardrails_to_local', 'journey_atc')(utc_expr, tz_expr)) }}
{%- endmacro %}

{% macro default__guardrails_to_local(utc_expr, tz_expr) -%}
    (({{ utc_expr }}) at time zone 'UTC' at time zone ({{ tz_expr }}))
{%- endmacro %}

{#- timezone('UTC', ts) reads a plain timestamp as UTC (an instant);
    timezone(tz, instant) gives the wall-clock time in tz. -#}
{% macro duckdb__guardrails_to_local(utc_expr, tz_expr) -%}
    timezone({{ tz_expr }}, timezone('UTC', {{ utc_expr }}))
{%- endmacro %}

{% macro spark__guardrails_to_local(utc_expr, tz_expr) -%}
    from_utc_timestamp({{ utc_expr }}, {{ tz_expr }})
{%- endmacro %}


{% macro guardrails_from_local(local_expr, tz_expr) -%}
    {{ return(adapter.dispatch('guardrails_from_local', 'journey_atc')(local_expr, tz_expr)) }}
{%- endmacro %}

{% macro default__guardrails_from_local(local_expr, tz_expr) -%}
    (({{ local_expr }}) at time zone ({{ tz_expr }}) at time zone 'UTC')
{%- endmacro %}

{#- timezone(tz, ts) reads a plain timestamp as wall-clock time in tz (an
    instant); timezone('UTC', instant) gives it back as UTC. -#}
{% macro duckdb__guardrails_from_local(local_expr, tz_expr) -%}
    timezone('UTC', timezone({{ tz_expr }}, {{ local_expr }}))
{%- endmacro %}

{% macro spark__guardrails_from_local(local_expr, tz_expr) -%}
    to_utc_timestamp({{ local_expr }}, {{ tz_expr }})
{%- endmacro %}


{#- Minutes since midnight (0-1439) of a timestamp, read as wall-clock time. -#}
{% macro guardrails_minute_of_day(ts_expr) -%}
    {{ return(adapter.dispatch('guardrails_minute_of_day', 'journey_atc')(ts_expr)) }}
{%- endmacro %}

{% macro default__guardrails_minute_of_day(ts_expr) -%}
    (
        cast(extract(hour from {{ ts_expr }}) as {{ dbt.type_int() }}) * 60
        + cast(extract(minute from {{ ts_expr }}) as {{ dbt.type_int() }})
    )
{%- endmacro %}


{#- 'HH:MM' text (24:00 allowed) to minutes since midnight. -#}
{% macro guardrails_clock_minutes(text_expr) -%}
    {{ return(adapter.dispatch('guardrails_clock_minutes', 'journey_atc')(text_expr)) }}
{%- endmacro %}

{% macro default__guardrails_clock_minutes(text_expr) -%}
    (
        cast({{ dbt.split_part(text_expr, "':'", 1) }} as {{ dbt.type_int() }}) * 60
        + cast({{ dbt.split_part(text_expr, "':'", 2) }} as {{ dbt.type_int() }})
    )
{%- endmacro %}


{#- True when a minute of the day lies in a send window [start, end); a
    window whose end is before its start crosses midnight; 00:00-24:00 is
    always open. -#}
{% macro guardrails_in_window(minute_expr, start_expr, end_expr) -%}
    (
        case
            when {{ start_expr }} <= {{ end_expr }}
                then {{ minute_expr }} >= {{ start_expr }} and {{ minute_expr }} < {{ end_expr }}
            else {{ minute_expr }} >= {{ start_expr }} or {{ minute_expr }} < {{ end_expr }}
        end
    )
{%- endmacro %}
