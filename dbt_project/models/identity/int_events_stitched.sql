{#- Every clean event with the person it belongs to, looked up once per
    combination of its identifiers in int_identity__set_persons.
    Incremental (docs/incremental.md): the events staged in this run are
    stitched and replace their rows on event_id; then the post-hook gives the
    older events of every combination holding a touched identifier their new
    person, in place: only the two person columns change, so no wide event
    row is read or written again. -#}
{%- set stitch_keys = journey_atc.stitch_keys() -%}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
    post_hook=["{{ journey_atc.restitch_events() }}"],
) }}

with

events as (
    select * from {{ ref('stg_segment__events') }}
    {%- if is_incremental() %}
        where {{ journey_atc.changed_in_this_run('_staged_at') }}
    {%- endif %}
),

set_persons as (
    select * from {{ ref('int_identity__set_persons') }}
),

-- identifiers may be null, so they are matched null-safely
stitched as (
    select
        events.*,
        set_persons.person_id,
        set_persons.stitched_via
    from events
    left join set_persons
        on {{ journey_atc.null_safe_match('events', 'set_persons', stitch_keys) }}
),

final as (
    -- every staging column passes through unchanged, whatever staging adds later
    select * from stitched
)

select * from final  -- noqa: AM04
