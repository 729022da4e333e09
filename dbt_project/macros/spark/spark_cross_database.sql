{#- Spark versions of dbt's cross-database date macros, so that dbt.dateadd
    and dbt.datediff mean on Spark what they mean on DuckDB. A root-project
    spark__ macro takes precedence over the adapter's own. Only Spark reads
    this file; every other engine keeps dbt's implementation.

    dateadd: dbt-spark's version goes through unix seconds and drops the
    fraction of a second; timestampadd keeps it, like DuckDB's interval
    arithmetic (a day is 24 hours: the session time zone is UTC).

    datediff: DuckDB counts the boundaries crossed (date_diff('minute',
    12:00:59, 12:01:00) is 1, and 0 for 12:00:00 to 12:00:30); dbt-spark
    rounds elapsed seconds up instead. Both operands are truncated to the
    part first, so Spark counts boundaries too. -#}

{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    {%- set units = {
        'microsecond': 'MICROSECOND',
        'millisecond': 'MILLISECOND',
        'second': 'SECOND',
        'minute': 'MINUTE',
        'hour': 'HOUR',
        'day': 'DAY',
        'week': 'WEEK',
        'month': 'MONTH',
        'quarter': 'QUARTER',
        'year': 'YEAR',
    } -%}
    {%- if datepart | lower not in units -%}
        {{ exceptions.raise_compiler_error("dateadd is not implemented for datepart '" ~ datepart ~ "' on Spark") }}
    {%- endif -%}
    timestampadd({{ units[datepart | lower] }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- set seconds = {'second': 1, 'minute': 60, 'hour': 3600} -%}
    {%- set part = datepart | lower -%}
    {%- if part == 'day' -%}
        datediff(to_date({{ second_date }}), to_date({{ first_date }}))
    {%- elif part in seconds -%}
        (
            (
                unix_seconds(date_trunc('{{ part }}', cast({{ second_date }} as timestamp)))
                - unix_seconds(date_trunc('{{ part }}', cast({{ first_date }} as timestamp)))
            ) div {{ seconds[part] }}
        )
    {%- else -%}
        timestampdiff(
            {{ part | upper }},
            date_trunc('{{ part }}', cast({{ first_date }} as timestamp)),
            date_trunc('{{ part }}', cast({{ second_date }} as timestamp))
        )
    {%- endif -%}
{%- endmacro %}

{#- split_part as DuckDB has it: '' when the part does not exist (dbt-spark's
    gives null, and an error in ANSI mode), null for a null text, and a part
    number that may be a column. The delimiter is matched literally. -#}
{% macro spark__split_part(string_text, delimiter_text, part_number) -%}
    {%- set delimiter = delimiter_text | trim -%}
    {%- if delimiter | length == 3 and delimiter[0] == "'" and delimiter[2] == "'" and delimiter[1] not in '\\^[]' -%}
        {%- set pattern = "'[" ~ delimiter[1] ~ "]'" -%}
    {%- else -%}
        {%- set pattern = "concat('\\\\Q', " ~ delimiter_text ~ ", '\\\\E')" -%}
    {%- endif -%}
    case
        when {{ string_text }} is not null
            then coalesce(try_element_at(split({{ string_text }}, {{ pattern }}, -1), {{ part_number }}), '')
    end
{%- endmacro %}

{#- Seeds: dbt-spark's session method pastes every csv value between quotes
    unescaped, so an apostrophe ("New Year's Day") breaks the statement and an
    empty cell loads as the text 'None'. Here each value is an escaped
    literal and an empty cell is null, as on DuckDB. -#}
{% macro spark__load_csv_rows(model, agate_table) -%}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                    {%- set type = column_override.get(col_name, inferred_type) -%}
                    {%- set value = row[loop.index0] -%}
                    {%- if value is none -%}
                        cast(null as {{ type }})
                    {%- else -%}
                        cast('{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}' as {{ type }})
                    {%- endif -%}
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{%- endmacro %}
