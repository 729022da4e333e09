{#- The persons whose event aggregates may differ from what the previous
    complete build computed (docs/incremental.md), one row each, read by the
    per-person incremental profile models:
    - events staged since then (new events, or new versions of events);
    - identity changes: the persons, before and after, of the components
      identity resolution labelled again in this run (merges, splits,
      re-stitched events);
    - time: events whose occurred_at passed from after the previous as_of to
      at most this one (they count from now on), and orders that left the
      RFM window in between.
    Everyone is affected on a full refresh, when no complete build is logged,
    or when as_of moved backwards. -#}
{%- set previous_as_of = journey_atc.previous_complete_build_as_of() -%}
{%- set rfm_window = '-1 * ' ~ var('atc__rfm_window_days') %}

-- depends_on: {{ ref('int_events_stitched') }}
-- depends_on: {{ ref('int_identity__prior_person_map') }}
-- depends_on: {{ ref('int_identity__touched_nodes') }}

with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

{% if previous_as_of is none %}

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

    events as (
        select * from {{ ref('int_events_stitched') }}
    ),

    run_window as (
        select
            cast('{{ previous_as_of }}' as {{ dbt.type_timestamp() }}) as previous_as_of,
            cast('{{ previous_as_of }}' as {{ dbt.type_timestamp() }}) > {{ journey_atc.as_of() }}
                as is_everyone
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

    -- staged after the previous build, or in this run (two runs may share an as_of)
    staged_events as (
        select distinct
            person_id,
            'staged_events' as affected_by
        from events
        where
            person_id is not null
            and (
                _staged_at > cast('{{ previous_as_of }}' as {{ dbt.type_timestamp() }})
                or {{ journey_atc.changed_in_this_run('_staged_at') }}
            )
    ),

    identity_changes as (
        select distinct
            changed.person_id,
            'identity' as affected_by
        from (
            select prior_person_map.person_id
            from {{ ref('int_identity__prior_person_map') }} as prior_person_map
            union all
            select person_map.person_id
            from person_map
            inner join {{ ref('int_identity__touched_nodes') }} as touched_nodes
                on person_map.node = touched_nodes.node
        ) as changed
        where changed.person_id is not null
    ),

    events_now_counted as (
        select distinct
            person_id,
            'time' as affected_by
        from events
        where
            person_id is not null
            and (
                (
                    occurred_at > cast('{{ previous_as_of }}' as {{ dbt.type_timestamp() }})
                    and occurred_at <= {{ journey_atc.as_of() }}
                )
                or (
                    event_name = 'order_completed'
                    and occurred_at > {{ dbt.dateadd(
                        'day', rfm_window, "cast('" ~ previous_as_of ~ "' as " ~ dbt.type_timestamp() ~ ")"
                    ) }}
                    and occurred_at <= {{ dbt.dateadd('day', rfm_window, journey_atc.as_of()) }}
                )
            )
    ),

    -- as_of moved backwards: everyone, and nothing else is needed
    reasons as (
        select * from everyone
        union all
        select identity_changes.*
        from identity_changes
        cross join run_window
        where not run_window.is_everyone
        union all
        select staged_events.*
        from staged_events
        cross join run_window
        where not run_window.is_everyone
        union all
        select events_now_counted.*
        from events_now_counted
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
