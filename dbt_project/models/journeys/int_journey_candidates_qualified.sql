{{ config(materialized='table') }}

{#- Qualification and scoring of every candidate. Rejection reasons are checked
    in this order, the first that applies is kept:
      journey_inactive       no metadata row, or active_from is empty
      outside_active_window  as_of before active_from or after active_until
      reentry_cooldown       left this journey less than reentry_cooldown_days ago
      max_entries_reached    already entered max_entries times
      not_enough_time        length_days would run past event_at (ending at it is fine)
      no_reachable_channel   no channel of channel_preference is consented and reachable
      overlap_suppressed     a journey that stays active, or a qualified one of higher
                             priority, lists this candidate's category in
                             suppresses_categories
    The journey a person is in and that has not ended is not checked for
    cooldown, entries, time or overlap: those rules govern entering.
    Score = weights x (priority / 100, interest match, urgency, relevance,
    linked next journey) - weight x fatigue; `none` scores the baseline. -#}
{%- set as_of = journey_atc.as_of() -%}

{#- The weighted score before it is rounded (round_decimal(): the same
    decimals on DuckDB 1.x and 2.0 and on Spark). -#}
{%- set weighted_score -%}
        case
            when is_no_journey then {{ var('atc__score_none_baseline', 0.25) }}
            else
                {{ var('atc__score_weight_priority', 1.0) }} * priority / 100.0
                + {{ var('atc__score_weight_interest', 0.3) }} * interest_match_score
                + {{ var('atc__score_weight_urgency', 0.3) }} * urgency_score
                + {{ var('atc__score_weight_relevance', 0.4) }} * relevance_score
                + {{ var('atc__score_weight_next_journey', 0.2) }}
                * case when is_linked_next then 1 else 0 end
                - {{ var('atc__score_weight_fatigue', 0.3) }} * fatigue_score
        end
{%- endset %}

with

enriched as (
    select * from {{ ref('int_journey_candidates_enriched') }}
),

channels_chosen as (
    select
        *,
        case when not is_no_journey then {{ journey_atc.journey_first_reachable_channel('channel_preference') }} end
            as channel,
        is_current and completion_reason is null as is_continuing
    from enriched
),

checked as (
    select
        *,
        case
            when is_no_journey then null
            when not has_metadata or active_from is null then 'journey_inactive'
            when
                {{ as_of }} < cast(active_from as {{ dbt.type_timestamp() }})
                or {{ as_of }}
                >= {{ dbt.dateadd('day', 1, 'cast(active_until as ' ~ dbt.type_timestamp() ~ ')') }}
                then 'outside_active_window'
            when
                not is_continuing
                and last_left_at is not null
                and {{ as_of }} < {{ dbt.dateadd('day', 'reentry_cooldown_days', 'last_left_at') }}
                then 'reentry_cooldown'
            when not is_continuing and prior_entry_count >= max_entries then 'max_entries_reached'
            when
                not is_continuing
                and event_at is not null
                and {{ dbt.dateadd('day', 'length_days', as_of) }} > event_at
                then 'not_enough_time'
            when channel is null then 'no_reachable_channel'
        end as eligibility_rejection
    from channels_chosen
),

-- which qualified journey blocks which candidate's category
suppressions as (
    select
        candidate.candidate_id,
        min(suppressor.journey_id) as suppressed_by_journey_id
    from checked as candidate
    inner join checked as suppressor
        on
            candidate.person_id = suppressor.person_id
            and candidate.journey_id != suppressor.journey_id
    where
        candidate.eligibility_rejection is null
        and not candidate.is_no_journey
        and not candidate.is_continuing
        and suppressor.eligibility_rejection is null
        and (suppressor.is_continuing or suppressor.priority > candidate.priority)
        and {{ journey_atc.journey_list_contains('suppressor.suppresses_categories', 'candidate.category') }}
    group by candidate.candidate_id
),

interest_matches as (
    select
        candidate_id,
        (
            {%- for i in range(1, 4) %}
                case
                    {%- set category = dbt.split_part('top_categories', "','", i) %}
                    when {{ journey_atc.journey_list_contains('interests', category) }} then 1
                    else 0
                end
                {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as matched_category_count,
        (
            {%- for i in range(1, 4) %}
                case when nullif({{ dbt.split_part('top_categories', "','", i) }}, '') is not null then 1 else 0 end
                {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as top_category_count
    from checked
),

scored as (
    select
        checked.*,
        suppressions.suppressed_by_journey_id,
        coalesce(checked.eligibility_rejection, case
            when suppressions.candidate_id is not null then 'overlap_suppressed'
        end) as qualification_rejection,
        not checked.is_no_journey
        and checked.holdout_pct > 0
        and {{ journey_atc.journey_hash_bucket(['checked.person_id', 'checked.journey_id']) }} < checked.holdout_pct
            as is_holdout,
        case
            when interest_matches.top_category_count = 0 then 0.0
            else cast(interest_matches.matched_category_count as double) / interest_matches.top_category_count
        end as interest_match_score,
        0.5 * least(
            1.0, cast(checked.recent_message_count as double) / {{ var('atc__fatigue_message_cap', 5) }}
        )
        + 0.5 * least(
            1.0, cast(coalesce(checked.days_since_last_engaged, 0) as double)
            / {{ var('atc__fatigue_disengaged_days', 90) }}
        ) as fatigue_score
    from checked
    left join suppressions
        on checked.candidate_id = suppressions.candidate_id
    left join interest_matches
        on checked.candidate_id = interest_matches.candidate_id
),

final as (
    select
        *,
        {{ journey_atc.round_decimal(weighted_score, 6) }} as score
    from scored
)

select * from final  -- noqa: AM04
