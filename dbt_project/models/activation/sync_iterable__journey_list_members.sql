{#- Iterable list membership (lists/subscribe, lists/unsubscribe): one row per
    person and the journey list they belong in. A person holds one journey, so
    person_id is the key. -#}

with

assignments as (
    select * from {{ ref('int_sync__assignments') }}
),

final as (
    select
        person_id,
        journey_id,
        person_id as user_id,
        email
    from assignments
)

select * from final
