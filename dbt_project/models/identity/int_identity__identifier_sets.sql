{#- Clean events reduced to their distinct combinations of identifiers and call
    type, with when they were seen and how many events carry them: the nodes
    and edges of the identity graph are built from these few rows instead of
    from every event.
    Incremental (docs/incremental.md): a run adds the events staged in this run
    to their sets. When the kept version of an event changed (a later-arriving
    delivery with an earlier received_at, a raw row loaded again with other
    content), the set that held the version counted before (read from
    int_events_stitched, not yet rebuilt) is counted again from the clean
    events; a set left with no events keeps a row with event_count 0, so the
    nodes it held are re-stitched. Rows written in this run carry
    _changed_at = as_of.
    Written for DuckDB's planner (docs/incremental.md): wide rows of earlier
    runs are read only for events that had a delivery or a counted version
    before (found with narrow scans first), and on an incremental run the
    few changed ids are the hashed side of those scans (keep_join_sides()). -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='identifier_set_id',
    on_schema_change='fail',
    pre_hook=["{% if is_incremental() %}{{ journey_atc.keep_join_sides() }}{% endif %}"],
    post_hook=["{{ journey_atc.restore_join_sides() }}"],
) }}
{%- set set_columns = ['user_id', 'anonymous_id', 'previous_id', 'device_id', 'email', 'phone_e164', 'event_type'] -%}
{%- set previous_events = journey_atc.previous_relation('int_events_stitched') -%}

-- depends_on: {{ ref('stg_segment__events_checked') }}

with

events as (
    select * from {{ ref('stg_segment__events') }}
),

{% if is_incremental() %}

{#- Each large relation is named where it is read: a CTE read twice is
    materialised whole by DuckDB. -#}
-- message ids with a delivery that passed its checks in this run
changed_ids as (
    select distinct event_id
    from {{ ref('stg_segment__events_checked') }}
    where
        reason_code is null
        and {{ journey_atc.changed_in_this_run('_staged_at') }}
),

-- the version each of those events is kept in now: the first of its passing
-- deliveries, as stg_segment__events keeps it
ranked_deliveries as (
    select
        deliveries.*,
        row_number() over (
            partition by deliveries.event_id
            order by deliveries.received_at, deliveries._source_file, deliveries._source_line
        ) as version_rank
    from {{ journey_atc.passing_deliveries_of('changed_ids', ['event_id'] + set_columns + [
        'occurred_at', 'received_at', '_source_file', '_source_line',
    ]) }} as deliveries
),

new_versions as (
    select
        event_id,
        {% for column in set_columns -%}
            {{ column }},
        {% endfor -%}
        occurred_at
    from ranked_deliveries
    where version_rank = 1
),

-- the version the previous run counted: the event as int_events_stitched
-- still holds it (this model runs before that one is rebuilt), looked up
-- with the same narrow scan first
old_versions as (
    select *
    from {{ journey_atc.rows_of_event_ids(
        '(' ~ journey_atc.relation_or_empty(previous_events, [
            ('event_id', dbt.type_string()),
            ('user_id', dbt.type_string()),
            ('anonymous_id', dbt.type_string()),
            ('previous_id', dbt.type_string()),
            ('device_id', dbt.type_string()),
            ('email', dbt.type_string()),
            ('phone_e164', dbt.type_string()),
            ('event_type', dbt.type_string()),
            ('occurred_at', dbt.type_timestamp()),
        ]) ~ ')',
        'changed_ids',
        ['event_id'] + set_columns + ['occurred_at'],
    ) }} as previous_versions
),

-- an event counts again only when what it contributes changed
unchanged as (
    select new_versions.event_id
    from new_versions
    inner join old_versions
        on
            new_versions.event_id = old_versions.event_id
            and {{ journey_atc.null_safe_match('new_versions', 'old_versions', set_columns + ['occurred_at']) }}
),

added as (
    select new_versions.*
    from new_versions
    left join unchanged
        on new_versions.event_id = unchanged.event_id
    where unchanged.event_id is null
),

removed as (
    select old_versions.*
    from old_versions
    left join unchanged
        on old_versions.event_id = unchanged.event_id
    where unchanged.event_id is null
),

-- sets that lost an event are counted again from every clean event
recount_keys as (
    select distinct
        {{ journey_atc.stable_hash(set_columns) }} as identifier_set_id,
        {% for column in set_columns -%}
            {{ column }}{{ "," if not loop.last }}
        {% endfor -%}
    from removed
),

-- the clean events are scanned only when there is a set to recount, which a
-- run of new events never has (without this guard, and with DuckDB's own
-- choice of join sides, every clean event was hashed: about 19 s of CPU at
-- 1,000,000 people for nothing)
events_to_recount as (
    select events.*
    from events
    where exists (select 1 from recount_keys)
),

recounted_events as (
    select
        recount_keys.identifier_set_id,
        min(events_to_recount.occurred_at) as first_seen_at,
        max(events_to_recount.occurred_at) as last_seen_at,
        count(*) as event_count
    from events_to_recount
    inner join recount_keys
        on {{ journey_atc.null_safe_match('events_to_recount', 'recount_keys', set_columns) }}
    group by recount_keys.identifier_set_id
),

-- a set left without events keeps a row with event_count 0
recounted as (
    select
        {% for column in set_columns -%}
            recount_keys.{{ column }},
        {% endfor -%}
        recounted_events.first_seen_at,
        recounted_events.last_seen_at,
        coalesce(recounted_events.event_count, 0) as event_count
    from recount_keys
    left join recounted_events
        on recount_keys.identifier_set_id = recounted_events.identifier_set_id
),

added_sets as (
    select
        {{ journey_atc.stable_hash(set_columns) }} as identifier_set_id,
        {% for column in set_columns -%}
            {{ column }},
        {% endfor -%}
        min(occurred_at) as first_seen_at,
        max(occurred_at) as last_seen_at,
        count(*) as event_count
    from added
    group by
        {% for column in set_columns -%}
            {{ column }}{{ "," if not loop.last }}
        {% endfor %}
),

-- the earlier counts of the sets that gained events (the few added sets are
-- the hashed side, not the whole table)
previous_sets as (
    select
        identifier_set_id,
        first_seen_at,
        last_seen_at,
        event_count
    from {{ this }}
    where identifier_set_id in (select added_sets.identifier_set_id from added_sets)
),

-- sets that only gained events: their earlier counts plus the new events
-- (least and greatest skip a null: a set new in this run)
merged as (
    select
        {% for column in set_columns -%}
            added_sets.{{ column }},
        {% endfor -%}
        least(added_sets.first_seen_at, previous_sets.first_seen_at) as first_seen_at,
        greatest(added_sets.last_seen_at, previous_sets.last_seen_at) as last_seen_at,
        added_sets.event_count + coalesce(previous_sets.event_count, 0) as event_count
    from added_sets
    left join previous_sets
        on added_sets.identifier_set_id = previous_sets.identifier_set_id
    left join recount_keys
        on added_sets.identifier_set_id = recount_keys.identifier_set_id
    where recount_keys.identifier_set_id is null
),

sets as (
    select * from merged
    union all
    select * from recounted
),

{% else %}

    sets as (
        select
            user_id,
            anonymous_id,
            previous_id,
            device_id,
            email,
            phone_e164,
            event_type,
            min(occurred_at) as first_seen_at,
            max(occurred_at) as last_seen_at,
            count(*) as event_count
        from events
        group by user_id, anonymous_id, previous_id, device_id, email, phone_e164, event_type
    ),

{% endif %}

final as (
    select
        {{ journey_atc.stable_hash(set_columns) }} as identifier_set_id,
        {% for column in set_columns -%}
            {{ column }},
        {% endfor -%}
        first_seen_at,
        last_seen_at,
        cast(event_count as {{ dbt.type_bigint() }}) as event_count,
        {{ journey_atc.as_of() }} as _changed_at
    from sets
)

select * from final
