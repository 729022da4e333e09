{#- The build log of the incremental models (docs/incremental.md).

    Every dbt run or build that selects one of the incremental models records
    a row in atc_incremental_builds: 'started' when it begins, then 'complete'
    when every model of the staging and identity chain ran and succeeded, or
    'incomplete' when one failed, was skipped or was left out while others
    of the chain ran. A build that selected none of that chain (the
    per-person profile models only) keeps the previous row's status. A
    process that dies leaves 'started'. `atc build` and the Dagster runs
    read the last row (journey_atc/incremental_state.py) and build with
    --full-refresh when it is not 'complete': staging and identity only
    process what changed since the last complete one.
    profiles_built says the per-person chain ran whole and succeeded: the
    next int_persons_affected looks for changes since that build's as_of (a
    failed per-person model only widens the next run's work).
    new_rows_checked says every test that checks only new rows ran and passed
    (new_rows_scope.sql): the next such tests start from this build. DuckDB only:
    elsewhere the models are tables. -#}

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
        'identity_person_changes',
    ]) }}
{%- endmacro %}

{#- The per-person incremental profile models (macros/incremental/affected_persons.sql):
    a second chain, run apart from the first by the profile_refresh job. -#}
{% macro person_chain() -%}
    {{ return([
        'int_persons_affected',
        'int_persons_timezones',
        'int_persons_identifiers',
        'int_persons_orders',
        'int_persons_event_activity',
    ]) }}
{%- endmacro %}

{% macro build_log_relation() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema, identifier='atc_incremental_builds')) }}
{%- endmacro %}

{% macro build_log_applies() -%}
    {%- if not execute or flags.WHICH not in ('run', 'build') or journey_atc.incremental_or_table() != 'incremental' -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set chained = journey_atc.incremental_chain() + journey_atc.person_chain() -%}
    {%- for unique_id in selected_resources -%}
        {%- if unique_id.startswith('model.') and unique_id.split('.')[-1] in chained -%}
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
        {#- logs written before the per-person models lack the column -#}
        {%- do run_query('alter table ' ~ log_relation ~ ' add column if not exists profiles_built boolean') -%}
        {#- ... and before the tests that check only new rows (new_rows_scope.sql) -#}
        {%- do run_query('alter table ' ~ log_relation ~ ' add column if not exists new_rows_checked boolean') -%}
        insert into {{ log_relation }}
            (build_number, invocation_id, as_of, status, full_refresh, profiles_built, new_rows_checked)
        select
            coalesce(max(build_number), 0) + 1,
            '{{ invocation_id }}',
            {{ journey_atc.as_of() }},
            'started',
            {{ 'true' if flags.FULL_REFRESH else 'false' }},
            false,
            false
        from {{ log_relation }}
    {%- else -%}
        select 1 as nothing_to_record
    {%- endif -%}
{%- endmacro %}

{#- Whether a chain's models were all selected and succeeded ('whole'), none of
    them was selected ('absent'), or neither ('broken'). -#}
{% macro chain_outcome(chain, results) -%}
    {%- set selected = [] -%}
    {%- set succeeded = [] -%}
    {%- for result in results -%}
        {%- if result.node.resource_type == 'model' and result.node.name in chain -%}
            {%- do selected.append(result.node.name) -%}
            {%- if result.status == 'success' -%}
                {%- do succeeded.append(result.node.name) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if selected | length == 0 -%}
        {{ return('absent') }}
    {%- endif -%}
    {{ return('whole' if succeeded | unique | list | length == chain | length else 'broken') }}
{%- endmacro %}

{% macro build_log_end(results) -%}
    {%- if journey_atc.build_log_applies() -%}
        {%- set staging_and_identity = journey_atc.chain_outcome(journey_atc.incremental_chain(), results) -%}
        {%- set persons = journey_atc.chain_outcome(journey_atc.person_chain(), results) -%}
        {%- set log_relation = journey_atc.build_log_relation() -%}
        update {{ log_relation }}
        set
            status = {% if staging_and_identity == 'whole' -%}
                'complete'
            {%- elif staging_and_identity == 'broken' -%}
                'incomplete'
            {%- else -%}
                coalesce((
                    select earlier.status
                    from {{ log_relation }} as earlier
                    where earlier.invocation_id <> '{{ invocation_id }}'
                    order by earlier.build_number desc
                    limit 1
                ), 'complete')
            {%- endif %},
            profiles_built = {{ 'true' if persons == 'whole' else 'false' }},
            new_rows_checked = {{ 'true' if journey_atc.new_rows_checked(results) else 'false' }}
        where invocation_id = '{{ invocation_id }}'
    {%- else -%}
        select 1 as nothing_to_record
    {%- endif -%}
{%- endmacro %}

{#- The last build in the log that ran the per-person models whole: its
    as_of as text, and whether a later build shared or preceded that as_of
    (then changes stamped with that very as_of may be new to the profiles,
    and int_persons_affected counts them too). None on a full refresh, at
    parse time, off DuckDB, when there is no such build, or when
    identity_person_changes does not exist yet (then every person is
    affected). -#}
{% macro previous_profiles_build() -%}
    {%- if not execute or flags.FULL_REFRESH or journey_atc.incremental_or_table() != 'incremental' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set log_relation = journey_atc.build_log_relation() -%}
    {%- if adapter.get_relation(log_relation.database, log_relation.schema, log_relation.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        'select cast(built.as_of as ' ~ dbt.type_string() ~ '), exists ('
        ~ ' select 1 from ' ~ log_relation ~ ' as later'
        ~ ' where later.build_number > built.build_number'
        ~ " and later.invocation_id <> '" ~ invocation_id ~ "'"
        ~ ' and later.as_of <= built.as_of)'
        ~ ' from ' ~ log_relation ~ ' as built'
        ~ ' where built.profiles_built order by built.build_number desc limit 1'
    ) -%}
    {#- before identity ever ran incrementally here, no change was logged -#}
    {%- if found.rows | length == 0 or load_relation(ref('identity_person_changes')) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'as_of': found.rows[0][0], 'inclusive': found.rows[0][1]}) }}
{%- endmacro %}
