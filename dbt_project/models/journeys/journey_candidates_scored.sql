{{ config(materialized='table') }}

{#- Ranking with persistence. A person stays in the journey they are in
    (continuing: not completed, still queued and qualified) unless a qualified
    newcomer may preempt it: the newcomer has a higher priority AND either the
    current journey is_interruptible or the newcomer is transactional. Only the
    continuing journey and such newcomers compete; with no continuing journey
    every qualified candidate and `none` compete. Rank: competing first, then
    qualified, then score desc, priority desc, journey_id. Rank 1 is chosen.
    Losers get lower_score, or not_interruptible when they scored above the
    journey that kept them out; a chosen control-group candidate gets holdout. -#}
{%- set as_of = journey_atc.as_of() -%}

with

qualified as (
    select * from {{ ref('int_journey_candidates_qualified') }}
),

current_journeys as (
    select
        person_id,
        journey_id as current_journey_id,
        priority as current_priority,
        is_interruptible as current_is_interruptible,
        score as current_score
    from qualified
    where is_continuing and qualification_rejection is null
),

competing as (
    select
        qualified.*,
        current_journeys.current_journey_id,
        current_journeys.current_score,
        qualified.qualification_rejection is null
        and (
            current_journeys.current_journey_id is null
            or qualified.journey_id = current_journeys.current_journey_id
            or (
                not qualified.is_no_journey
                and qualified.priority > current_journeys.current_priority
                and (current_journeys.current_is_interruptible or qualified.category = 'transactional')
            )
        ) as may_compete
    from qualified
    left join current_journeys
        on qualified.person_id = current_journeys.person_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by person_id
            order by
                case when may_compete then 0 else 1 end asc,
                case when qualification_rejection is null then 0 else 1 end asc,
                score desc,
                priority desc,
                journey_id asc
        ) as candidate_rank
    from competing
),

final as (
    select
        candidate_id,
        person_id,
        journey_id,
        journey_name,
        category,
        priority,
        is_interruptible,
        length_days,
        channel_preference,
        case when candidate_rank = 1 and not is_holdout then channel end as channel,
        qualified_at,
        entry_reason,
        relevance_score,
        urgency_score,
        interest_match_score,
        fatigue_score,
        recent_message_count,
        is_linked_next,
        event_at,
        context_key,
        context,
        is_current,
        current_entered_at,
        completion_reason,
        prior_entry_count,
        last_left_at,
        suppressed_by_journey_id,
        current_journey_id,
        case
            when qualification_rejection is not null then qualification_rejection
            when candidate_rank = 1 and is_holdout then 'holdout'
            when candidate_rank = 1 then null
            when not may_compete and score > current_score then 'not_interruptible'
            else 'lower_score'
        end as rejection_reason,
        score,
        cast(candidate_rank as {{ dbt.type_int() }}) as rank,  -- noqa: RF04
        candidate_rank = 1 as is_chosen,
        candidate_rank = 2 and qualification_rejection is null as is_runner_up,
        is_holdout,
        {{ as_of }} as decided_at
    from ranked
)

select * from final
