-- Every candidate that was not chosen, or was chosen into the control group,
-- carries a reason code from the documented list; a chosen, messaged one has none.
with

scored as (
    select * from {{ ref('journey_candidates_scored') }}
),

final as (
    select
        candidate_id,
        person_id,
        journey_id,
        is_chosen,
        is_holdout,
        rejection_reason
    from scored
    where
        (not is_chosen and rejection_reason is null)
        or (is_chosen and is_holdout and coalesce(rejection_reason, '') != 'holdout')
        or (is_chosen and not is_holdout and rejection_reason is not null)
        or rejection_reason not in (
            'journey_inactive',
            'outside_active_window',
            'reentry_cooldown',
            'max_entries_reached',
            'overlap_suppressed',
            'no_reachable_channel',
            'not_enough_time',
            'lower_score',
            'not_interruptible',
            'holdout'
        )
)

select * from final
