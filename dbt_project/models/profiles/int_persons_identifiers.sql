-- One row per person: every identifier the identity graph assigned to them,
-- as sorted comma-separated lists and counts, and the primary user id (the
-- user id seen most recently in events, then alphabetically first).
-- Incremental per person (macros/incremental/affected_persons.sql): a run
-- computes again only the persons of int_persons_affected.
{{ journey_atc.per_person_model() }}

with

person_map as (
    select * from {{ ref('identity_person_map') }}
    where {{ journey_atc.persons_in_scope() }}
),

events as (
    select * from {{ ref('int_events_stitched') }}
),

user_ids_seen as (
    select
        person_id,
        user_id,
        max(occurred_at) as last_seen_at
    from events
    where
        person_id is not null
        and user_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
        and {{ journey_atc.persons_in_scope() }}
    group by person_id, user_id
),

user_ids_ranked as (
    select
        person_map.person_id,
        person_map.identifier_value as user_id,
        row_number() over (
            partition by person_map.person_id
            order by user_ids_seen.last_seen_at desc nulls last, person_map.identifier_value asc
        ) as recency_rank
    from person_map
    left join user_ids_seen
        on
            person_map.person_id = user_ids_seen.person_id
            and person_map.identifier_value = user_ids_seen.user_id
    where person_map.identifier_type = 'user_id'
),

primary_user_ids as (
    select
        person_id,
        user_id as primary_user_id
    from user_ids_ranked
    where recency_rank = 1
),

identifiers_aggregated as (
    select
        person_id,
        min(person_created_at) as person_created_at,
        {{ journey_atc.sorted_string_agg("case when identifier_type = 'user_id' then identifier_value end") }}
            as user_ids,
        {{ journey_atc.sorted_string_agg("case when identifier_type = 'anonymous_id' then identifier_value end") }}
            as anonymous_ids,
        {{ journey_atc.sorted_string_agg("case when identifier_type = 'device_id' then identifier_value end") }}
            as device_ids,
        {{ journey_atc.sorted_string_agg("case when identifier_type = 'email' then identifier_value end") }}
            as emails,
        {{ journey_atc.sorted_string_agg("case when identifier_type = 'phone' then identifier_value end") }}
            as phones,
        count(case when identifier_type = 'user_id' then 1 end) as user_id_count,
        count(case when identifier_type = 'anonymous_id' then 1 end) as anonymous_id_count,
        count(case when identifier_type = 'device_id' then 1 end) as device_id_count,
        count(case when identifier_type = 'email' then 1 end) as email_count,
        count(case when identifier_type = 'phone' then 1 end) as phone_count,
        count(*) as identifier_count
    from person_map
    where person_id is not null
    group by person_id
),

final as (
    select
        identifiers_aggregated.person_id,
        identifiers_aggregated.person_created_at,
        primary_user_ids.primary_user_id,
        identifiers_aggregated.user_ids,
        identifiers_aggregated.anonymous_ids,
        identifiers_aggregated.device_ids,
        identifiers_aggregated.emails,
        identifiers_aggregated.phones,
        identifiers_aggregated.user_id_count,
        identifiers_aggregated.anonymous_id_count,
        identifiers_aggregated.device_id_count,
        identifiers_aggregated.email_count,
        identifiers_aggregated.phone_count,
        identifiers_aggregated.identifier_count
    from identifiers_aggregated
    left join primary_user_ids
        on identifiers_aggregated.person_id = primary_user_ids.person_id
)

select * from final
