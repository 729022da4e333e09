{#- The absurd_timestamp check of the checked staging models: a time before
    var atc__min_valid_timestamp, or more than var atc__max_clock_skew_hours
    after as_of. Only the second depends on as_of, so an incremental run
    checks again only the rows it could let through now
    (absurd_timestamp_may_pass), and the reason names no as_of: a row not
    checked again keeps a reason that is still true. -#}

{% macro is_absurd_timestamp(parsed_column) -%}
    ({{ parsed_column }} < cast('{{ var('atc__min_valid_timestamp', '2015-01-01 00:00:00') }}' as {{ dbt.type_timestamp() }})
    or {{ parsed_column }} > {{ dbt.dateadd('hour', var('atc__max_clock_skew_hours', 24), journey_atc.as_of()) }})
{%- endmacro %}

{#- A staged absurd_timestamp row whose time is now at most
    atc__max_clock_skew_hours after as_of (and not before the minimum): this
    run may find it valid. -#}
{% macro absurd_timestamp_may_pass(parsed_column) -%}
    ({{ parsed_column }} >= cast('{{ var('atc__min_valid_timestamp', '2015-01-01 00:00:00') }}' as {{ dbt.type_timestamp() }})
    and {{ parsed_column }} <= {{ dbt.dateadd('hour', var('atc__max_clock_skew_hours', 24), journey_atc.as_of()) }})
{%- endmacro %}

{#- The reason text of absurd_timestamp, for the raw text `raw_column` and
    its parsed time `parsed_column`, named `label` in the message. -#}
{% macro absurd_timestamp_reason(label, raw_column, parsed_column) -%}
    case
        when {{ parsed_column }} < cast('{{ var('atc__min_valid_timestamp', '2015-01-01 00:00:00') }}' as {{ dbt.type_timestamp() }})
            then {{ dbt.concat([
                "'" ~ label ~ " '''", raw_column,
                "''' is before " ~ var('atc__min_valid_timestamp', '2015-01-01 00:00:00') ~ "'",
            ]) }}
        else {{ dbt.concat([
            "'" ~ label ~ " '''", raw_column,
            "''' is more than " ~ var('atc__max_clock_skew_hours', 24)
            ~ " hours after as_of (checked again on every run until it is not)'",
        ]) }}
    end
{%- endmacro %}
