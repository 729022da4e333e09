{#- Iterable users (bulkUpdate): one row per person in a journey, keyed by
    userId (the person_id), with the journey as data fields. -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id as user_id,
        email,
        phone_e164 as phone_number,
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
