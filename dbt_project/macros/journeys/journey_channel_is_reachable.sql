{#- Whether the person (columns of `profiles` in scope) may be messaged on the
    channel named by channel_expr: consented and holding a valid address,
    i.e. the profile's is_<channel>_reachable. Unknown channels are false. -#}
{% macro journey_channel_is_reachable(channel_expr) -%}
    {{ return(adapter.dispatch('journey_channel_is_reachable', 'journey_atc')(channel_expr)) }}
{%- endmacro %}

{% macro default__journey_channel_is_reachable(channel_expr) -%}
    coalesce(
        case {{ channel_expr }}
            when 'email' then is_email_reachable
            when 'sms' then is_sms_reachable
            when 'push' then is_push_reachable
            when 'whatsapp' then is_whatsapp_reachable
        end,
        false
    )
{%- endmacro %}


{#- The first channel of a pipe-separated preference list on which the person
    is reachable, or null. Preference lists hold at most the four channels. -#}
{% macro journey_first_reachable_channel(preference_expr) -%}
    {{ return(adapter.dispatch('journey_first_reachable_channel', 'journey_atc')(preference_expr)) }}
{%- endmacro %}

{% macro default__journey_first_reachable_channel(preference_expr) -%}
    case
        {%- for i in range(1, 5) %}
            {%- set part = dbt.split_part(preference_expr, "'|'", i) %}
            when {{ journey_atc.journey_channel_is_reachable(part) }} then {{ part }}
        {%- endfor %}
    end
{%- endmacro %}
