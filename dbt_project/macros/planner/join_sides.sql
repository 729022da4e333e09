{#- Hash joins as written: the left side probes, the right side is hashed.

    DuckDB hashes the side of a join it estimates smaller. A filter it cannot
    estimate counts as keeping a fifth of the rows, so the clean events
    (stg_segment__events: the checked rows without a reason) look smaller
    than they are, and int_events_stitched hashed every wide event row to
    probe it with the few identifier combinations: at 1,000,000 people a
    hash table of 31 M rows with every staged column, 219 s of CPU and
    6.4 GiB, against 137 s and 5.9 GiB with the combinations hashed.

    keep_join_sides() is a pre-hook: it turns that one rule of DuckDB's
    optimizer (build_side_probe_side) off, and restore_join_sides(), the
    post-hook, turns it back on. DuckDB knows this setting only for the whole
    database, not per connection: while the model runs, a model the other
    dbt thread runs beside it plans without the rule too (the measured full
    build includes that). Every join of the model's query keeps its written
    sides, so use it only where each right side is the smaller one: turned
    off for a whole build, the rule's absence slowed other models down.
    on-run-end calls restore_join_sides() as well, so a model that failed
    before its post-hook does not leave the rule off. Restoring means DuckDB's
    default: a disabled_optimizers list set in profiles.yml would be lost.
    Other engines: no statement. -#}
{% macro keep_join_sides() -%}
    {{ return(adapter.dispatch('keep_join_sides', 'journey_atc')()) }}
{%- endmacro %}

{% macro default__keep_join_sides() -%}
{%- endmacro %}

{% macro duckdb__keep_join_sides() -%}
    set disabled_optimizers = 'build_side_probe_side'
{%- endmacro %}

{% macro restore_join_sides() -%}
    {{ return(adapter.dispatch('restore_join_sides', 'journey_atc')()) }}
{%- endmacro %}

{% macro default__restore_join_sides() -%}
{%- endmacro %}

{% macro duckdb__restore_join_sides() -%}
    reset disabled_optimizers
{%- endmacro %}
