{#- Append-only: --full-refresh must not erase it. Every decision of every
    run, kept for auditors (query by person_id and decided_at). decision_id
    hashes the idempotency key and as_of, so a re-run with the same as_of
    appends nothing, and the ledger reads planned sends from here. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
) }}

{%- set as_of = journey_atc.as_of() -%}

with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

recorded as (
    {% if is_incremental() -%}
        select decision_id from {{ this }}
        where decided_at = {{ as_of }}
    {%- else -%}
        select decision_id from decisions
        where 1 = 0
    {%- endif %}
),

final as (
    select
        decisions.decision_id,
        decisions.idempotency_key,
        decisions.person_id,
        decisions.journey_id,
        decisions.journey_category,
        decisions.journey_entered_at,
        decisions.step_number,
        decisions.requested_channel,
        decisions.channel,
        decisions.is_fallback,
        decisions.decision,
        decisions.reason_code,
        decisions.next_eligible_at,
        decisions.blocked_by,
        decisions.timezone,
        decisions.is_exempt,
        decisions.decided_at
    from decisions
    left join recorded
        on decisions.decision_id = recorded.decision_id
    where recorded.decision_id is null
)

select * from final
