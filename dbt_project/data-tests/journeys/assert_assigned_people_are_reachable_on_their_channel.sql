-- Nobody is assigned to a journey without a consented, reachable channel from
-- its preference list, unless they are in its control group; a control-group
-- member never has a channel.
with

assignments as (
    select * from {{ ref('journey_assignments') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

checked as (
    select
        assignments.person_id,
        assignments.journey_id,
        assignments.channel,
        assignments.is_holdout,
        {{ journey_atc.journey_channel_is_reachable('assignments.channel') }} as is_reachable,
        {{ journey_atc.journey_list_contains('journeys.channel_preference', 'assignments.channel') }}
            as is_preferred
    from assignments
    inner join profiles
        on assignments.person_id = profiles.person_id
    left join journeys
        on assignments.journey_id = journeys.journey_id
),

final as (
    select *
    from checked
    where
        (is_holdout and channel is not null)
        or (not is_holdout and (channel is null or not is_reachable or not is_preferred))
)

select * from final
