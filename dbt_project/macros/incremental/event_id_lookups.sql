{#- Lookups of an incremental run's event ids in tables of tens of millions
    of rows, written for DuckDB's planner (docs/incremental.md).

    A plain join to such a table reads every column asked for from all its
    rows, however few match: a scattered match still decompresses every
    block. Use these with keep_join_sides(), so the few ids are the hashed
    side of the scans. -#}

{#- The rows of `relation` (a table, or a subquery in parentheses) whose
    event_id is in `ids` (a relation or CTE with an event_id column) and that
    meet `condition` (written on the alias event_rows), with `columns`, as a
    subquery. The ids found are looked up with a scan of event_id (and the
    condition's columns) alone; the wide rows are read only when there are
    some, so a lookup that finds nothing reads no other column. -#}
{% macro rows_of_event_ids(relation, ids, columns, condition='1 = 1') -%}
    (
        with

        ids_found as (
            select distinct event_rows.event_id
            from {{ relation }} as event_rows
            where
                {{ condition }}
                and event_rows.event_id in (select {{ ids }}.event_id from {{ ids }})
        )

        select
            {% for column in columns -%}
                event_rows.{{ column }}{{ "," if not loop.last }}
            {% endfor -%}
        from {{ relation }} as event_rows
        inner join ids_found
            on event_rows.event_id = ids_found.event_id
        where
            {{ condition }}
            and exists (select 1 from ids_found)
    )
{%- endmacro %}

{#- The deliveries that passed every check (stg_segment__events_checked rows
    without a reason) of the event ids in `ids`, with `columns`, as a
    subquery: an incremental run's lookup of every delivery of the messages
    it staged. The deliveries staged in this run lie in the table's newest
    blocks, which the _staged_at filter alone reaches; the earlier ones are
    found with rows_of_event_ids(). A row without _staged_at (none is written
    so) counts as an earlier one. -#}
{% macro passing_deliveries_of(ids, columns) -%}
    {%- set checked = ref('stg_segment__events_checked') -%}
    (
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

        select *
        from {{ journey_atc.rows_of_event_ids(checked, ids, columns,
            'event_rows.reason_code is null and not coalesce('
            ~ journey_atc.changed_in_this_run('event_rows._staged_at') ~ ', false)'
        ) }} as delivered_before
    )
{%- endmacro %}
