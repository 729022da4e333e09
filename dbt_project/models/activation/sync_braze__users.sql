{#- Braze user attributes (/users/track): one row per person in a journey,
    keyed by the Braze external_id (the person_id). -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id as external_id,
        email,
        phone_e164 as phone,
        journey_id,
        journey_name,
        channel as journey_channel,
        send_key,
        entered_at as journey_entered_at,
        next_eligible_at as journey_next_eligible_at,
        context_key as journey_context_key,
        context as journey_context
    from assignments
)

select * from final
