-- A person holds at most one active journey, and every person with candidates has exactly one chosen.
with

assignments as (
    select * from {{ ref('journey_assignments') }}
),

scored as (
    select * from {{ ref('journey_candidates_scored') }}
),

assignment_counts as (
    select
        person_id,
        count(*) as row_count,
        'more than one active journey' as problem
    from assignments
    group by person_id
    having count(*) > 1
),

chosen_counts as (
    select
        person_id,
        sum(case when is_chosen then 1 else 0 end) as row_count,
        'not exactly one chosen candidate' as problem
    from scored
    group by person_id
    having sum(case when is_chosen then 1 else 0 end) != 1
),

final as (
    select * from assignment_counts
    union all
    select * from chosen_counts
)

select * from final
