{#- Every identifier seen on a clean event, with when it was first and last
    seen and on how many events, aggregated from the identifier sets.
    Incremental (docs/incremental.md): only the identifiers of the sets written
    in this run are aggregated again, from the sets holding them; one left
    with no events gets event_count 0 and the post-hook removes its row. -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='node',
    on_schema_change='fail',
    post_hook=["{{ journey_atc.delete_from_this_where('event_count = 0') }}"],
) }}

-- depends_on: {{ ref('int_identity__identifier_sets') }}

with

{% if is_incremental() %}

changed_values as (
    {{ journey_atc.identity_changed_values() }}
),

{% endif %}

identifier_sets as (
    -- a set whose only event was replaced by a later delivery keeps a row
    -- with event_count 0: left out
    {{ journey_atc.identity_sets_in_scope('changed_values') }}
),

-- every identifier an event carries, as raw values (cheaper to group than nodes)
sightings as (
    select
        'user_id' as identifier_type,
        user_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    -- an alias call's previous_id is the id the person had before: an anonymous id
    select
        'anonymous_id' as identifier_type,
        previous_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    where previous_id <> anonymous_id or anonymous_id is null
    union all
    select
        'device_id' as identifier_type,
        device_id as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'email' as identifier_type,
        email as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
    union all
    select
        'phone' as identifier_type,
        phone_e164 as identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from identifier_sets
),

aggregated as (
    select
        identifier_type,
        identifier_value,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as event_count
    from sightings
    where identifier_value is not null and identifier_value <> ''
    group by identifier_type, identifier_value
),

{% if is_incremental() %}

-- the changed identifiers only; one left with no events keeps a row with
-- event_count 0 until the post-hook
scoped as (
    select
        changed_values.identifier_type,
        changed_values.identifier_value,
        aggregated.first_seen_at,
        aggregated.last_seen_at,
        coalesce(aggregated.event_count, 0) as event_count
    from changed_values
    left join aggregated
        on
            changed_values.identifier_type = aggregated.identifier_type
            and changed_values.identifier_value = aggregated.identifier_value
),

{% else %}

    scoped as (
        select * from aggregated
    ),

{% endif %}

final as (
    select
        {{ journey_atc.identity_node('identifier_type', 'identifier_value', type_is_column=true) }} as node,
        identifier_type,
        identifier_value,
        first_seen_at,
        last_seen_at,
        event_count
    from scoped
)

select * from final
