{#- The deliveries that passed every check (stg_segment__events_checked rows
    without a reason) of the event ids in `ids` (a relation or CTE with an
    event_id column), with `columns`, as a subquery: an incremental run's
    lookup of every delivery of the messages it staged.

    Written for DuckDB's planner (docs/incremental.md). A plain join to the
    checked table would read every column asked for from all its tens of
    millions of rows. The deliveries staged in this run lie in the table's
    newest blocks, which the _staged_at filter alone reaches; the earlier
    deliveries of the same ids are found with a scan of event_id alone, and
    their wide rows are read only when there are some. Use with
    keep_join_sides(), so the few ids are the hashed side of that scan. A
    row without _staged_at (none is written so) counts as an earlier one. -#}
{% macro passing_deliveries_of(ids, columns) -%}
    {%- set checked = ref('stg_segment__events_checked') -%}
    (
        with

        ids_delivered_before as (
            select distinct checked_before.event_id
            from {{ checked }} as checked_before
            where
                checked_before.reason_code is null
                and not coalesce({{ journey_atc.changed_in_this_run('checked_before._staged_at') }}, false)
                and checked_before.event_id in (select {{ ids }}.event_id from {{ ids }})
        )

        select
            {% for column in columns -%}
                checked_now.{{ column }}{{ "," if not loop.last }}
            {% endfor -%}
        from {{ checked }} as checked_now
        where
            checked_now.reason_code is null
            and {{ journey_atc.changed_in_this_run('checked_now._staged_at') }}
            and checked_now.event_id in (select {{ ids }}.event_id from {{ ids }})

        union all

        select
            {% for column in columns -%}
                checked_before.{{ column }}{{ "," if not loop.last }}
            {% endfor -%}
        from {{ checked }} as checked_before
        inner join ids_delivered_before
            on checked_before.event_id = ids_delivered_before.event_id
        where
            checked_before.reason_code is null
            and not coalesce({{ journey_atc.changed_in_this_run('checked_before._staged_at') }}, false)
            and exists (select 1 from ids_delivered_before)
    )
{%- endmacro %}
