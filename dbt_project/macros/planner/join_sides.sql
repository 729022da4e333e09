{#- Hash joins as written: the left side probes, the right side is hashed.

    DuckDB hashes the side of a join it estimates smaller. A filter it cannot
    estimate counts as keeping a fifth of the rows, so the clean events
    (stg_segment__events: the checked rows without a reason) look smaller
    than they are, and int_events_stitched hashed every wide event row to
    probe it with the few identifier combinations: at 1,000,000 people a
    hash table of 31 M rows with every staged column, 219 s of CPU and
    6.4 GiB, against 137 s and 5.9 GiB with the combinations hashed.

    keep_join_sides() is a pre-hook: it turns that one rule of DuckDB's
    optimizer (build_side_probe_side) off for the model's connection;
    restore_join_sides(), the post-hook, turns it back on. Use it only where
    the query's right sides are known to be the small ones: turned off for
    a whole build, it slowed other models down. A model that fails before
    its post-hook leaves the rule off on that connection for the rest of the
    run: later plans may differ, their results do not. Other engines: no
    statement. -#}
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
