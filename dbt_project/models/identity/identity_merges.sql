{{ config(
    materialized='incremental',
    incremental_strategy='append',
) }}

{%- set as_of = journey_atc.as_of() -%}

with

assignments as (
    select * from {{ ref('int_identity__person_assignments') }}
),

merges as (
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

{% if is_incremental() -%}
recorded as (
    select merge_id from {{ this }}
),

new_merges as (
    select merges.*
    from merges
    left join recorded
        on merges.merge_id = recorded.merge_id
    where recorded.merge_id is null
),
{%- else -%}
new_merges as (
    select * from merges
),
{%- endif %}

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
