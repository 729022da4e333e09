{#- Klaviyo list membership (lists/{id}/relationships/profiles): one row per
    person and the journey list they belong in, identified by external_id and
    email so the destination can find the profile. -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id,
        journey_id,
        person_id as external_id,
        email
    from assignments
)

select * from final
