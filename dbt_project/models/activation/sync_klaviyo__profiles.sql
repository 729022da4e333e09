{#- Klaviyo profiles (profile bulk import): one row per person in a journey,
    keyed by the Klaviyo external_id (the person_id); the journey travels as
    custom properties. -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id as external_id,
        email,
        phone_e164 as phone_number,
        locale,
        journey_id,
        journey_name,
        channel as journey_channel,
        send_key,
        entered_at as journey_entered_at,
        next_eligible_at as journey_next_eligible_at,
        context_key as journey_context_key
    from assignments
)

select * from final
