{#- Incremental processing (docs/incremental.md).

    incremental_or_table(): the materialization of the models that process
    only what new data changes. On engines with row-level deletes on plain
    tables (DuckDB) they are incremental; on Spark they build as tables, because
    dbt-spark deletes rows only on Delta, Iceberg or Hudi tables, and the local
    session target writes Parquet. Every incremental model gives the same rows
    either way (tests/test_incremental.py compares them). -#}
{% macro incremental_or_table() -%}
    {{ return(adapter.dispatch('incremental_or_table', 'journey_atc')()) }}
{%- endmacro %}

{% macro default__incremental_or_table() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__incremental_or_table() -%}
    {{ return('table') }}
{%- endmacro %}

{#- Whether a row was written by this run: incremental models stamp the rows
    they (re)write with as_of, so the next model reads only those. Two runs
    with the same as_of both count as "this run", which only widens the work. -#}
{% macro changed_in_this_run(column) -%}
    {{ column }} = {{ journey_atc.as_of() }}
{%- endmacro %}

{#- A post-hook statement deleting this model's rows that match `condition`,
    only after an incremental run (a full build has nothing stale to delete). -#}
{% macro delete_from_this_where(condition) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ condition }}
    {%- else -%}
        select 1 as nothing_to_delete
    {%- endif -%}
{%- endmacro %}

{#- The post-hook of the identity models keyed on node: after an incremental
    run, the touched nodes that left the graph (no events left, or now
    over-linked) lose their row. -#}
{% macro delete_nodes_that_left_the_graph() -%}
    {{ journey_atc.delete_from_this_where(
        'node in (select node from ' ~ ref('int_identity__touched_nodes') ~ ' where not is_graph_node)'
    ) }}
{%- endmacro %}

{#- The relation a model left behind on the previous run, or none on a full
    refresh or a first run (then readers see no rows: relation_or_empty). -#}
{% macro previous_relation(name) -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(this.database, this.schema, name)) }}
{%- endmacro %}

{#- int_events_stitched's post-hook after an incremental run: the older events
    of every identifier combination re-stitched in this run
    (int_identity__set_persons) take its person, where it changed. -#}
{% macro restitch_events() -%}
    {%- set stitch_keys = journey_atc.stitch_keys() -%}
    {%- if is_incremental() -%}
        update {{ this }} as stitched
        set
            person_id = set_persons.person_id,
            stitched_via = set_persons.stitched_via
        from {{ ref('int_identity__set_persons') }} as set_persons
        where
            {{ journey_atc.null_safe_match('stitched', 'set_persons', stitch_keys) }}
            and (
                stitched.person_id is distinct from set_persons.person_id
                or stitched.stitched_via is distinct from set_persons.stitched_via
            )
    {%- else -%}
        select 1 as nothing_to_restitch
    {%- endif -%}
{%- endmacro %}
