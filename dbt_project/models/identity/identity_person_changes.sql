{#- The persons identity resolution changed, run by run, for the per-person
    profile models (int_persons_affected), which may run less often than
    identity (the profile_refresh job): one row per person and run, with the
    persons before and after of every component labelled again (merges,
    splits, identifiers joining or leaving, re-stitched events).
    A full build writes one row with no person and change_type 'full_build':
    every person may have changed. Rows older than
    var atc__person_changes_retention_days are deleted; a profile build older
    than that computes everyone. int_persons_affected deletes the rows older
    than the previous profile build, which read them. -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='append',
    on_schema_change='fail',
    post_hook=["{{ journey_atc.delete_expired_person_changes() }}"],
) }}

-- depends_on: {{ ref('int_identity__prior_person_map') }}
-- depends_on: {{ ref('int_identity__touched_nodes') }}
-- depends_on: {{ ref('identity_person_map') }}

with

{% if is_incremental() %}

    changed as (
        select prior_person_map.person_id
        from {{ ref('int_identity__prior_person_map') }} as prior_person_map
        union
        select person_map.person_id
        from {{ ref('identity_person_map') }} as person_map
        inner join {{ ref('int_identity__touched_nodes') }} as touched_nodes
            on person_map.node = touched_nodes.node
    ),

    final as (
        select
            person_id,
            'identity' as change_type,
            {{ journey_atc.as_of() }} as changed_at
        from changed
        where person_id is not null
    )

{% else %}

    final as (
        select
            cast(null as {{ dbt.type_string() }}) as person_id,
            'full_build' as change_type,
            {{ journey_atc.as_of() }} as changed_at
    )

{% endif %}

select * from final
