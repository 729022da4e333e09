{#- Data tests that check only new rows on an incremental build
    (docs/incremental.md, "Tests on incremental runs").

    The event tables hold tens of millions of rows that an incremental run
    never changes: it adds the rows it stages, stamped _staged_at = as_of. A
    test on such a table opts in with

        config:
          meta:
            new_rows: {staged_at: _staged_at}                 # a check of each row
            new_rows: {staged_at: _staged_at, key: event_id}  # unique: every row sharing a key with a new one
            new_rows: {staged_at: _staged_at, key: event_id, keys_from: stg_segment__events_checked}

    and then, in a `dbt build`, tests only the rows staged after the last
    build in the build log whose opted-in tests all ran and all passed
    (new_rows_checked): the rows of every build after it, whose as_of is their
    _staged_at. Every other row passed those tests then, and has not changed
    (a raw row loaded again may bring an older delivery back into
    stg_segment__events with its old stamp; that needs a full refresh anyway,
    which `atc build` and the Dagster runs start by themselves).
    keys_from takes the keys from another table of the same schema: the view
    stg_segment__events shows one delivery per message, and a run that stages
    a delivery ranks all of that message's deliveries again, so the keys are
    those of every delivery staged since, shown or not. A failed test leaves
    new_rows_checked false, so the next build tests its rows again, and fails
    again, until they are mended.

    The whole table is tested by `dbt test`, on a full refresh (the nightly
    full_rebuild) and by every build after one until a build passes, on Spark
    (no build log: the models are tables), when no build in the log was
    checked, and at parse time. -#}

{#- dbt's get_where_subquery() (the relation a generic test reads, filtered by
    its `where` config) with the new-rows condition added; DuckDB only, dbt's
    own elsewhere. dbt dispatches it from its own namespace, where the
    project's macros are not defined when sqlfluff's templater compiles the
    tests: the condition is found with adapter.dispatch() instead. -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set new_rows = adapter.dispatch('new_rows_condition', 'journey_atc')(relation) -%}
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
    {%- if not execute or flags.WHICH != 'build' or flags.FULL_REFRESH
        or journey_atc.incremental_or_table() != 'incremental' -%}
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
    {#- a full refresh since the checked build rewrote rows whose stamp it
        may have kept (int_events_stitched keeps staging's) -#}
    {%- set found = run_query(
        'select cast(checked.as_of as ' ~ dbt.type_string() ~ '),'
        ~ ' cast(min(later.as_of) as ' ~ dbt.type_string() ~ '),'
        ~ ' coalesce(min(later.as_of) <= checked.as_of, false),'
        ~ ' coalesce(bool_or(later.full_refresh), false)'
        ~ ' from (select build_number, as_of from ' ~ log_relation
        ~ ' where new_rows_checked order by build_number desc limit 1) as checked'
        ~ ' left join ' ~ log_relation ~ ' as later on later.build_number > checked.build_number'
        ~ ' group by checked.as_of'
    ) -%}
    {%- if found.rows | length == 0 or found.rows[0][3] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if found.rows[0][2] -%}
        {{ return({'from': found.rows[0][1]}) }}
    {%- endif -%}
    {{ return({'after': found.rows[0][0]}) }}
{%- endmacro %}

{#- The condition a generic test adds for its `new_rows` meta, or none
    (dispatched: see duckdb__get_where_subquery). -#}
{% macro default__new_rows_condition(relation) -%}
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
        {%- set keys_from = relation -%}
        {%- if scope.get('keys_from') -%}
            {%- set keys_from = adapter.get_relation(relation.database, relation.schema, scope['keys_from']) -%}
            {%- if keys_from is none -%}
                {{ return(none) }}
            {%- endif -%}
        {%- endif -%}
        {#- The keys are collected into one list and unnested: DuckDB then hashes
            the few new keys and streams the table past them. As a plain
            subquery it took the filtered table (the view stg_segment__events,
            whose filters make it look small) for the smaller side and hashed
            all of its 31 million rows at 1,000,000 people: the view's unique
            test took 3.53 s of a micro_batch build, 1.78 s with the list.
            Made for the few thousand keys of a five-minute run: with millions
            of new keys (as_of moved back, many failed builds) the one list
            costs a little more than the plain subquery. DuckDB SQL: only
            duckdb__get_where_subquery() adds this condition. -#}
        {{ return(scope['key'] ~ ' in (select unnest(list(' ~ scope['key'] ~ ')) from ' ~ keys_from
            ~ ' where ' ~ staged ~ ')') }}
    {%- endif -%}
    {{ return(staged) }}
{%- endmacro %}
