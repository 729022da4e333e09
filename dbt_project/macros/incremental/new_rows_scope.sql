{#- Data tests that check only new rows on an incremental run
    (docs/incremental.md, "Tests on incremental runs").

    The event tables hold tens of millions of rows that an incremental run
    never changes: it adds the rows it stages, stamped _staged_at = as_of, and
    rows only ever leave stg_segment__events (a later-found earlier delivery
    takes their place). A test on such a table opts in with

        config:
          meta:
            new_rows: {staged_at: _staged_at}                 # a check of each row
            new_rows: {staged_at: _staged_at, key: event_id}  # unique: every row sharing a key with a new one

    and then tests only the rows staged after the last build in the build log
    whose opted-in tests were all run and all passed (new_rows_checked): the
    rows of every build after it, whose as_of is their _staged_at. Every
    other row passed those tests then, and has not changed.
    A failed test leaves new_rows_checked false, so the next build tests its
    rows again, and fails again, until they are mended.

    The whole table is tested on a full refresh (the nightly full_rebuild), on
    Spark (no build log: the models are tables), when the log has no checked
    build, and at parse time. -#}

{#- dbt's get_where_subquery() (the relation a generic test reads, filtered by
    its `where` config) with the new-rows condition added. -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set new_rows = journey_atc.new_rows_condition(relation) -%}
    {%- if new_rows -%}
        {%- do conditions.append(new_rows) -%}
    {%- endif -%}
    {%- if conditions | length == 0 -%}
        {%- do return(relation) -%}
    {%- endif -%}
    {%- set filtered -%}
        (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
    {%- endset -%}
    {%- do return(filtered) -%}
{%- endmacro %}

{#- The opted-in tests of the project: unique ids. -#}
{% macro new_rows_tests() -%}
    {%- set found = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type == 'test' and (node.config.meta or {}).get('new_rows') -%}
            {%- do found.append(node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- Whether every opted-in test ran in this invocation and passed. -#}
{% macro new_rows_checked(results) -%}
    {%- set opted_in = journey_atc.new_rows_tests() -%}
    {%- set passed = [] -%}
    {%- for result in results -%}
        {%- if result.node.unique_id in opted_in and result.status == 'pass' -%}
            {%- do passed.append(result.node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(opted_in | length > 0 and passed | unique | list | length == opted_in | length) }}
{%- endmacro %}

{#- Which _staged_at values are new: none when the whole table must be
    tested, else {'after': the last checked build's as_of} when every build
    since then has a later as_of, or {'from': the earliest as_of of those
    builds} when one does not (as_of moved back or was reused). -#}
{% macro new_rows_since() -%}
    {%- if not execute or flags.FULL_REFRESH or journey_atc.incremental_or_table() != 'incremental' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set log_relation = journey_atc.build_log_relation() -%}
    {%- set log = adapter.get_relation(log_relation.database, log_relation.schema, log_relation.identifier) -%}
    {%- if log is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(log) | map(attribute='name') | list -%}
    {%- if 'new_rows_checked' not in columns -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        'select cast(checked.as_of as ' ~ dbt.type_string() ~ '),'
        ~ ' cast(min(later.as_of) as ' ~ dbt.type_string() ~ '),'
        ~ ' coalesce(min(later.as_of) <= checked.as_of, false)'
        ~ ' from (select build_number, as_of from ' ~ log_relation
        ~ ' where new_rows_checked order by build_number desc limit 1) as checked'
        ~ ' left join ' ~ log_relation ~ ' as later on later.build_number > checked.build_number'
        ~ ' group by checked.as_of'
    ) -%}
    {%- if found.rows | length == 0 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if found.rows[0][2] -%}
        {{ return({'from': found.rows[0][1]}) }}
    {%- endif -%}
    {{ return({'after': found.rows[0][0]}) }}
{%- endmacro %}

{#- The condition a generic test adds for its `new_rows` meta, or none. -#}
{% macro new_rows_condition(relation) -%}
    {%- set scope = (config.get('meta') or {}).get('new_rows') -%}
    {%- if not scope -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set since = journey_atc.new_rows_since() -%}
    {%- if since is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set staged = scope['staged_at']
        ~ (" > cast('" ~ since['after'] if 'after' in since else " >= cast('" ~ since['from'])
        ~ "' as " ~ dbt.type_timestamp() ~ ')' -%}
    {%- if scope.get('key') -%}
        {{ return(scope['key'] ~ ' in (select ' ~ scope['key'] ~ ' from ' ~ relation ~ ' where ' ~ staged ~ ')') }}
    {%- endif -%}
    {{ return(staged) }}
{%- endmacro %}
