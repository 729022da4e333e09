{#- Segment audiences (identify + Audience Entered / Audience Exited track
    calls in /v1/batch, the way Engage sends them): one row per person and the
    journey audience they are in, keyed by the Segment userId (the person_id). -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id as user_id,
        journey_id,
        email,
        channel as journey_channel,
        entered_at as journey_entered_at
    from assignments
)

select * from final
