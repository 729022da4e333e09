{#- The persons whose event aggregates may differ from what the last build
    of the per-person models computed (its as_of is in atc_incremental_builds,
    profiles_built), one row each, read by the per-person incremental profile
    models (macros/incremental/affected_persons.sql):
    - staged_events: events staged since then (new events, new versions);
    - identity: persons identity resolution changed since then, before and
      after (identity_person_changes: merges, splits, re-stitched events),
      also in runs that did not build profiles;
    - time: events whose occurred_at passed from after the previous as_of to
      at most this one (they count from now on), and orders that left the
      RFM window in between.
    Everyone is affected on a full refresh, when no such build is logged,
    when as_of moved backwards, when identity was built in full since, or
    when that build is older than identity_person_changes keeps.
    The post-hook deletes the changes older than the previous build of the
    per-person models: they were read by it or an earlier one. -#}
{{ config(post_hook=["{{ journey_atc.delete_consumed_person_changes() }}"]) }}
{%- set previous_build = journey_atc.previous_profiles_build() -%}
{%- set rfm_window = '-1 * ' ~ var('atc__rfm_window_days') %}

-- depends_on: {{ ref('int_events_stitched') }}
-- depends_on: {{ ref('identity_person_changes') }}

with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

{% if previous_build is none %}

    reasons as (
        select distinct
            person_id,
            'everyone' as affected_by
        from person_map
        where person_id is not null
    ),

    final as (
        select
            person_id,
            affected_by,
            cast(null as {{ dbt.type_timestamp() }}) as previous_as_of
        from reasons
    )

{% else %}

    {%- set since = "cast('" ~ previous_build['as_of'] ~ "' as " ~ dbt.type_timestamp() ~ ")" %}
    {#- after a build that shared that as_of, its stamps may be new here -#}
    {%- set after = '>=' if previous_build['inclusive'] else '>' %}

    -- changed after the previous build, or in this run (two runs may share an as_of)
    person_changes as (
        select * from {{ ref('identity_person_changes') }}
        where
            changed_at {{ after }} {{ since }}
            or {{ journey_atc.changed_in_this_run('changed_at') }}
    ),

    run_window as (
        select
            {{ since }} as previous_as_of,
            {{ since }} > {{ journey_atc.as_of() }}
            or {{ since }} < {{ journey_atc.person_changes_kept_since() }}
            or exists (select 1 from person_changes where change_type = 'full_build') as is_everyone
    ),

    everyone as (
        select distinct
            person_map.person_id,
            'everyone' as affected_by
        from person_map
        cross join run_window
        where
            run_window.is_everyone
            and person_map.person_id is not null
    ),

    -- one scan of the stitched events (a CTE read twice would be copied whole
    -- first); an event both staged and newly counted says staged_events
    event_changes as (
        select distinct
            person_id,
            case
                when _staged_at {{ after }} {{ since }} or {{ journey_atc.changed_in_this_run('_staged_at') }}
                    then 'staged_events'
                else 'time'
            end as affected_by
        from {{ ref('int_events_stitched') }}
        where
            person_id is not null
            and (
                -- staged after the previous build, or in this run (two runs may share an as_of)
                _staged_at {{ after }} {{ since }}
                or {{ journey_atc.changed_in_this_run('_staged_at') }}
                -- now counted: dated after the previous as_of, at most this one
                or (
                    occurred_at > {{ since }}
                    and occurred_at <= {{ journey_atc.as_of() }}
                )
                -- an order that left the RFM window
                or (
                    event_name = 'order_completed'
                    and occurred_at > {{ dbt.dateadd('day', rfm_window, since) }}
                    and occurred_at <= {{ dbt.dateadd('day', rfm_window, journey_atc.as_of()) }}
                )
            )
    ),

    identity_changes as (
        select distinct
            person_id,
            'identity' as affected_by
        from person_changes
        where person_id is not null
    ),

    -- when everyone is affected, nothing else is needed
    reasons as (
        select * from everyone
        union all
        select identity_changes.*
        from identity_changes
        cross join run_window
        where not run_window.is_everyone
        union all
        select event_changes.*
        from event_changes
        cross join run_window
        where not run_window.is_everyone
    ),

    final as (
        select
            reasons.person_id,
            {{ journey_atc.sorted_string_agg('reasons.affected_by') }} as affected_by,
            max(run_window.previous_as_of) as previous_as_of
        from reasons
        cross join run_window
        group by reasons.person_id
    )

{% endif %}

select * from final
