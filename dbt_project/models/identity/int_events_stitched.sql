{#- Every clean event with the person it belongs to, looked up once per
    combination of its identifiers (a full build looks them all up; an
    incremental run reads int_identity__set_persons).
    Incremental (docs/incremental.md): the events staged in this run are
    stitched and replace their rows on event_id; then the post-hook gives the
    older events of every combination holding a touched identifier their new
    person, in place: only the two person columns change, so no wide event
    row is read or written again.
    The wide events probe the combinations' hash table, not the other way
    round (keep_join_sides()). -#}
{%- set stitch_keys = journey_atc.stitch_keys() -%}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
    pre_hook=["{{ journey_atc.keep_join_sides() }}"],
    post_hook=["{{ journey_atc.restore_join_sides() }}", "{{ journey_atc.restitch_events() }}"],
) }}

-- depends_on: {{ ref('int_identity__set_persons') }}
-- depends_on: {{ ref('identity_person_map') }}
-- depends_on: {{ ref('int_identity__identifier_sets') }}

with

events as (
    select * from {{ ref('stg_segment__events') }}
    {%- if is_incremental() %}
        where {{ journey_atc.changed_in_this_run('_staged_at') }}
    {%- endif %}
),

{% if is_incremental() %}

    set_persons as (
        select * from {{ ref('int_identity__set_persons') }}
    ),

{% else %}

    -- a full build looks every combination up itself: int_identity__set_persons
    -- may hold only the last incremental run's combinations (a build that
    -- selects this model alone)
    combinations as (
        select distinct {{ stitch_keys | join(', ') }}
        from {{ ref('int_identity__identifier_sets') }}
        where event_count > 0
    ),

    set_persons as (
        {{ journey_atc.persons_of_combinations('combinations') }}
    ),

{% endif %}

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
