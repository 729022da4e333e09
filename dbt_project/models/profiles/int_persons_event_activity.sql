-- One row per person with an event by as_of: first and last seen, event
-- count, and whether an app sent any (app_opened or a screen call: only the
-- iOS and Android SDKs send those). int_persons_engagement adds the message
-- activity and the days to as_of.
-- Incremental per person (macros/incremental/affected_persons.sql): a run
-- computes again only the persons of int_persons_affected.
{{ journey_atc.per_person_model() }}

with

events as (
    select * from {{ ref('int_events_stitched') }}
),

final as (
    select
        person_id,
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count,
        max(
            case
                when event_type = 'screen' or event_name in ('app_opened', 'screen_viewed') then 1
                else 0
            end
        ) as app_event_flag
    from events
    where
        person_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
        and {{ journey_atc.persons_in_scope() }}
    group by person_id
)

select * from final
