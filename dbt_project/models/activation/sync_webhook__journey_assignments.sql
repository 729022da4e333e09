{#- A generic signed webhook: one row per person in a journey; the engine sends
    one payload per transition (entered, changed, exited). -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id,
        user_id,
        journey_id,
        channel,
        decision,
        reason_code,
        send_key,
        entered_at,
        expected_end_at,
        next_eligible_at,
        context_key,
        context
    from assignments
)

select * from final
