{#- The person of each distinct combination of the five stitch identifiers
    (user_id, anonymous_id, device_id, email, phone): the first identifier of
    the combination found in the person map, so over-linked identifiers are
    skipped. The lookups run once per combination, not once per event: a
    browser or app install repeats the same few on every event.
    A full build holds every combination that has events. An incremental run
    (docs/incremental.md) holds only the combinations with a touched
    identifier (int_identity__touched_nodes) and those of the events staged in
    this run: int_events_stitched stitches its new events with them and gives
    its older events of these combinations their new person. -#}
{{ config(materialized='table') }}
{%- set stitch_keys = journey_atc.stitch_keys() -%}
{%- set incremental = journey_atc.incremental_or_table() == 'incremental' and not flags.FULL_REFRESH
    and journey_atc.previous_relation('int_events_stitched') is not none -%}

-- depends_on: {{ ref('int_identity__touched_nodes') }}
-- depends_on: {{ ref('stg_segment__events') }}

with

{% if incremental %}

-- the combinations holding a touched identifier: each identifier column is
-- matched to the touched values of its type, so no node text is built for
-- the millions of sets (and each read names the sets table: DuckDB would
-- materialise a CTE read five times whole)
combinations as (
    {% for identifier_type, column in journey_atc.identifier_columns() -%}
        select
            {% for key in stitch_keys -%}
                identifier_sets.{{ key }}{{ ',' if not loop.last }}
            {% endfor -%}
        from {{ ref('int_identity__identifier_sets') }} as identifier_sets
        inner join (
            select {{ journey_atc.identity_node_value('node') }} as identifier_value
            from {{ ref('int_identity__touched_nodes') }}
            where {{ journey_atc.identity_node_type('node') }} = '{{ identifier_type }}'
        ) as touched
            on identifier_sets.{{ column }} = touched.identifier_value
        where identifier_sets.event_count > 0
        union
    {% endfor -%}
    -- and those of the events staged in this run: a new version of an event
    -- with the same identifiers leaves its set unchanged, so untouched
    select distinct
        {% for key in stitch_keys -%}
            {{ key }}{{ ',' if not loop.last }}
        {% endfor -%}
    from {{ ref('stg_segment__events') }}
    where {{ journey_atc.changed_in_this_run('_staged_at') }}
),

{% else %}

    combinations as (
        select distinct {{ stitch_keys | join(', ') }}
        from {{ ref('int_identity__identifier_sets') }}
        where event_count > 0
    ),

{% endif %}

final as (
    {{ journey_atc.persons_of_combinations('combinations') }}
)

select * from final
