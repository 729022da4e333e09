{#- The build log of the incremental models (docs/incremental.md).

    Every dbt run or build that selects one of the incremental models records
    a row in atc_incremental_builds: 'started' when it begins, then 'complete'
    when every model of the incremental chain ran and succeeded, or
    'incomplete' when one failed, was skipped or was not selected. A process
    that dies leaves 'started'. `atc build` and the Dagster runs read the last
    row (journey_atc/incremental_state.py) and build with --full-refresh when
    it is not 'complete': an incremental run only processes what changed since
    the last complete one. DuckDB only: elsewhere the models are tables. -#}

{% macro incremental_chain() -%}
    {{ return([
        'stg_segment__events_checked',
        'stg_segment__events_later_deliveries',
        'int_identity__identifier_sets',
        'int_identity__nodes',
        'int_identity__edges',
        'int_identity__components',
        'identity_person_map',
        'int_events_stitched',
        'int_persons_affected',
        'int_persons_timezones',
        'int_persons_identifiers',
        'int_persons_orders',
    ]) }}
{%- endmacro %}

{% macro build_log_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema, identifier='atc_incremental_builds')) }}
{%- endmacro %}

{% macro build_log_applies() -%}
    {%- if not execute or flags.WHICH not in ('run', 'build') or journey_atc.incremental_or_table() != 'incremental' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- for unique_id in selected_resources -%}
        {%- if unique_id.startswith('model.') and unique_id.split('.')[-1] in journey_atc.incremental_chain() -%}
            {{ return(true) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(false) }}
{%- endmacro %}

{% macro build_log_start() -%}
    {%- if journey_atc.build_log_applies() -%}
        {%- set log_relation = journey_atc.build_log_relation() -%}
        {%- do run_query(
            'create table if not exists ' ~ log_relation
            ~ ' (build_number integer, invocation_id varchar, as_of timestamp, status varchar, full_refresh boolean)'
        ) -%}
        insert into {{ log_relation }}
        select
            coalesce(max(build_number), 0) + 1,
            '{{ invocation_id }}',
            {{ journey_atc.as_of() }},
            'started',
            {{ 'true' if flags.FULL_REFRESH else 'false' }}
        from {{ log_relation }}
    {%- else -%}
        select 1 as nothing_to_record
    {%- endif -%}
{%- endmacro %}

{% macro build_log_end(results) -%}
    {%- if journey_atc.build_log_applies() -%}
        {%- set succeeded = [] -%}
        {%- for result in results -%}
            {%- if result.node.resource_type == 'model' and result.status == 'success'
                and result.node.name in journey_atc.incremental_chain() -%}
                {%- do succeeded.append(result.node.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- set complete = succeeded | unique | list | length == journey_atc.incremental_chain() | length -%}
        update {{ journey_atc.build_log_relation() }}
        set status = '{{ "complete" if complete else "incomplete" }}'
        where invocation_id = '{{ invocation_id }}'
    {%- else -%}
        select 1 as nothing_to_record
    {%- endif -%}
{%- endmacro %}

{#- The as_of of the last complete build in the log, as text, or none on a
    full refresh, at parse time, or when no complete build is logged (then
    every person is affected: int_persons_affected). -#}
{% macro previous_complete_build_as_of() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set log_relation = journey_atc.build_log_relation() -%}
    {%- if adapter.get_relation(log_relation.database, log_relation.schema, log_relation.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        'select cast(as_of as ' ~ dbt.type_string() ~ ') from ' ~ log_relation
        ~ " where status = 'complete' order by build_number desc limit 1"
    ) -%}
    {{ return(found.columns[0].values()[0] if found.rows | length > 0 else none) }}
{%- endmacro %}
