{#- The raw rows a checked staging model parses on an incremental run
    (docs/incremental.md), as the body of its `source` CTE:

    - rows loaded since the newest staged row, less var
      atc__incremental_lookback_hours, that are not staged yet (only staged
      rows of the same window can be the same raw row; a raw row loaded again,
      with a newer _loaded_at, is staged again);
    - rows without a load time (written by hand, not by the loader) that are
      not staged yet;
    - rows quarantined as absurd_timestamp whose time (checked_time_column
      of this model) is now at most atc__max_clock_skew_hours after as_of:
      the only rows whose verdict changes as as_of moves on (macros/staging/
      absurd_timestamp.sql);
    - with id_column (raw) and staged_id_column (this model): the rows already
      staged that share an id with any of those, or with the staged version
      of a re-loaded row, so the model's ranking of repeated ids sees every
      row of an id again.

    The watermark is read before the query and written into it as a constant,
    so the scans skip every block loaded before it. Each relation is named
    where it is read, not through a shared CTE: DuckDB materialises a CTE read
    twice whole, tens of millions of rows. -#}
{% macro incremental_raw_rows(raw_relation, checked_time_column, id_column=none, staged_id_column=none) -%}
    {%- set lookback_hours = var('atc__incremental_lookback_hours', 6) | int -%}
    {%- set loaded_since = '1900-01-01 00:00:00' -%}
    {%- if execute -%}
        {%- set watermark_query -%}
            select cast(
                coalesce(max(_loaded_at), cast('1900-01-01 00:00:00' as timestamp))
                - to_hours({{ lookback_hours }}) as varchar
            )
            from {{ this }}
        {%- endset -%}
        {%- set loaded_since = run_query(watermark_query).columns[0].values()[0] -%}
    {%- endif -%}
    {%- set since = "cast('" ~ loaded_since ~ "' as timestamp)" %}
    {{ journey_atc._raw_rows_not_staged(raw_relation, since, 'raw_rows.*') }}
    union all
    -- staged, and checked again
    select raw_rows.*
    from {{ raw_relation }} as raw_rows
    inner join {{ this }} as staged
        on
            raw_rows._source_file = staged._source_file
            and raw_rows._source_line = staged._source_line
            and raw_rows._loaded_at is not distinct from staged._loaded_at
    where
        (
            staged.reason_code = 'absurd_timestamp'
            and {{ journey_atc.absurd_timestamp_may_pass('staged.' ~ checked_time_column) }}
        )
        {%- if id_column is not none %}
            or staged.{{ staged_id_column }} in (
                -- the ids of the rows above
                select nullif(trim(raw_id), '')
                from (
                    {{ journey_atc._raw_rows_not_staged(raw_relation, since, 'raw_rows.' ~ id_column ~ ' as raw_id') }}
                ) as new_rows
                union
                select {{ staged_id_column }}
                from {{ this }}
                where
                    reason_code = 'absurd_timestamp'
                    and {{ journey_atc.absurd_timestamp_may_pass(checked_time_column) }}
                union
                -- and the ids of the staged rows a re-loaded raw row replaces
                -- (a new id frees the old one's other rows)
                select replaced.{{ staged_id_column }}
                from {{ this }} as replaced
                inner join (
                    {{ journey_atc._raw_rows_not_staged(
                        raw_relation, since, 'raw_rows._source_file, raw_rows._source_line'
                    ) }}
                ) as reloaded
                    on
                        replaced._source_file = reloaded._source_file
                        and replaced._source_line = reloaded._source_line
            )
        {%- endif %}
{%- endmacro %}

{#- The raw rows loaded since `since`, or without a load time, that are not
    staged yet (`columns` of them, the raw table aliased raw_rows). -#}
{% macro _raw_rows_not_staged(raw_relation, since, columns) -%}
    -- loaded since the watermark, not staged yet
    select {{ columns }}
    from {{ raw_relation }} as raw_rows
    left join (
        select
            _source_file,
            _source_line,
            _loaded_at
        from {{ this }}
        where _loaded_at >= {{ since }}
    ) as staged
        on
            raw_rows._source_file = staged._source_file
            and raw_rows._source_line = staged._source_line
            and raw_rows._loaded_at = staged._loaded_at
    where
        raw_rows._loaded_at >= {{ since }}
        and staged._source_file is null
    union all
    -- without a load time, not staged yet
    select {{ columns }}
    from {{ raw_relation }} as raw_rows
    left join (
        select
            _source_file,
            _source_line
        from {{ this }}
        where _loaded_at is null
    ) as staged
        on
            raw_rows._source_file = staged._source_file
            and raw_rows._source_line = staged._source_line
    where
        raw_rows._loaded_at is null
        and staged._source_file is null
{%- endmacro %}
