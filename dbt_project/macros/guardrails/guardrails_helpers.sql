{#- The append-only decision log as written by earlier runs, or none on the
    first run. Read through the adapter, not ref(): the log is built from
    this run's decisions, and the ledger and the duplicate check read what
    it held before this run. -#}
{% macro guardrails_decision_log_relation() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(this.database, this.schema, 'guardrail_decision_log')) }}
{%- endmacro %}


{#- Categories exempt from the marketing caps, holidays and the overlap rule,
    as a quoted SQL list: ('transactional', 'service'). -#}
{% macro guardrails_exempt_categories_sql() -%}
    {%- set categories = var('atc__guardrails_exempt_categories', ['transactional', 'service']) -%}
    ({%- for c in categories -%}'{{ c }}'{%- if not loop.last %}, {% endif -%}{%- endfor -%})
{%- endmacro %}


{#- Day offsets 0..n as a relation (column day_offset), for the candidate
    send-window openings of the next n days. -#}
{% macro guardrails_day_offsets(n) -%}
    {%- for d in range(n + 1) %}
    select {{ d }} as day_offset
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
{%- endmacro %}
