{#- Every clean event with the person it belongs to.
    Incremental (docs/incremental.md): a run stitches again the events staged
    in this run and every event carrying an identifier whose person may have
    changed (int_identity__touched_nodes), and replaces them on event_id. -#}
{%- set stitch_keys = ['user_id', 'anonymous_id', 'device_id', 'email', 'phone_e164'] -%}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('int_identity__touched_nodes') }}
-- depends_on: {{ ref('int_identity__identifier_sets') }}

with

{% if is_incremental() %}

touched_nodes as (
    select * from {{ ref('int_identity__touched_nodes') }}
),

-- the distinct identifier combinations that hold a touched identifier
all_identifier_sets as (
    select distinct
        user_id,
        anonymous_id,
        device_id,
        email,
        phone_e164
    from {{ ref('int_identity__identifier_sets') }}
),

{%- set stitch_columns = [
    ('user_id', 'user_id'), ('anonymous_id', 'anonymous_id'), ('device_id', 'device_id'),
    ('email', 'email'), ('phone', 'phone_e164'),
] %}
touched_sets as (
    {% for identifier_type, column in stitch_columns -%}
        select
            all_identifier_sets.user_id,
            all_identifier_sets.anonymous_id,
            all_identifier_sets.device_id,
            all_identifier_sets.email,
            all_identifier_sets.phone_e164
        from all_identifier_sets
        inner join touched_nodes
            on {{ journey_atc.identity_node(identifier_type, 'all_identifier_sets.' ~ column) }} = touched_nodes.node
        {% if not loop.last %}union{% endif %}
    {% endfor %}
),

-- one row per event: staged in this run, or holding a touched identifier
-- (the first part reads only the newest rows; the second probes every clean
-- event's identifiers against the few touched combinations)
events as (
    select all_events.*
    from {{ ref('stg_segment__events') }} as all_events
    where {{ journey_atc.changed_in_this_run('all_events._staged_at') }}
    union all
    select all_events.*
    from {{ ref('stg_segment__events') }} as all_events
    inner join touched_sets
        on {{ journey_atc.null_safe_match('all_events', 'touched_sets', stitch_keys) }}
    where not {{ journey_atc.changed_in_this_run('all_events._staged_at') }}
),

{% else %}

    events as (
        select * from {{ ref('stg_segment__events') }}
    ),

{% endif %}

person_map as (
    select * from {{ ref('identity_person_map') }}
),

-- the person lookups run once per distinct combination of identifiers, not
-- once per event: a browser or app install repeats the same few on every event.
-- They come from the identifier sets, not from the events, so the events are
-- read once (DuckDB materialises a CTE read twice: here every wide event row).
-- On an incremental run the events read above are few, and read twice.
identifier_sets as (
    select distinct
        user_id,
        anonymous_id,
        device_id,
        email,
        phone_e164
    {%- if is_incremental() %}
    from events
    {%- else %}
        from {{ ref('int_identity__identifier_sets') }}
        where event_count > 0
    {%- endif %}
),

-- over-linked identifiers are absent from the person map, so the first
-- identifier found there is the first one that is not over-linked
identifier_set_persons as (
    select
        identifier_sets.user_id,
        identifier_sets.anonymous_id,
        identifier_sets.device_id,
        identifier_sets.email,
        identifier_sets.phone_e164,
        coalesce(
            by_user.person_id,
            by_anonymous.person_id,
            by_device.person_id,
            by_email.person_id,
            by_phone.person_id
        ) as person_id,
        case
            when by_user.person_id is not null then 'user_id'
            when by_anonymous.person_id is not null then 'anonymous_id'
            when by_device.person_id is not null then 'device_id'
            when by_email.person_id is not null then 'email'
            when by_phone.person_id is not null then 'phone'
        end as stitched_via
    from identifier_sets
    left join person_map as by_user
        on {{ journey_atc.identity_node('user_id', 'identifier_sets.user_id') }} = by_user.node
    left join person_map as by_anonymous
        on {{ journey_atc.identity_node('anonymous_id', 'identifier_sets.anonymous_id') }} = by_anonymous.node
    left join person_map as by_device
        on {{ journey_atc.identity_node('device_id', 'identifier_sets.device_id') }} = by_device.node
    left join person_map as by_email
        on {{ journey_atc.identity_node('email', 'identifier_sets.email') }} = by_email.node
    left join person_map as by_phone
        on {{ journey_atc.identity_node('phone', 'identifier_sets.phone_e164') }} = by_phone.node
),

-- identifiers may be null, so they are matched null-safely
stitched as (
    select
        events.*,
        identifier_set_persons.person_id,
        identifier_set_persons.stitched_via
    from events
    left join identifier_set_persons
        on {{ journey_atc.null_safe_match('events', 'identifier_set_persons', stitch_keys) }}
),

final as (
    -- every staging column passes through unchanged, whatever staging adds later
    select * from stitched
)

select * from final  -- noqa: AM04
