{{ config(
    materialized='incremental',
    incremental_strategy='append',
) }}

{%- set as_of = journey_atc.as_of() -%}

with

assignments as (
    select * from {{ ref('int_identity__person_assignments') }}
),

person_id_changes as (
    select
        {{ journey_atc.stable_hash(['person_id', 'prior_person_id', as_of]) }} as merge_id,
        assignment_type as merge_type,
        person_id as surviving_person_id,
        prior_person_id as absorbed_person_id,
        {{ as_of }} as merged_at,
        prior_node_count as node_count
    from assignments
    where assignment_type in ('merge', 'split')
),

-- what earlier runs already recorded (nothing on the first run)
recorded as (
    {% if is_incremental() -%}
        select merge_id from {{ this }}
    {%- else -%}
        select merge_id from person_id_changes
        where 1 = 0
    {%- endif %}
),

new_merges as (
    select person_id_changes.*
    from person_id_changes
    left join recorded
        on person_id_changes.merge_id = recorded.merge_id
    where recorded.merge_id is null
),

final as (
    select
        merge_id,
        merge_type,
        surviving_person_id,
        absorbed_person_id,
        merged_at,
        node_count
    from new_merges
)

select * from final
