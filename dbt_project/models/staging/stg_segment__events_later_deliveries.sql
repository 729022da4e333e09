{#- Later deliveries of a message_id: Segment and RudderStack deliver at least
    once, so one message can arrive several times. Among the raw rows that
    passed every check, the earliest received_at wins (then the lowest file and
    line); every other delivery is listed here and quarantined as
    duplicate_message_id. A delivery that failed a check keeps its own reason
    and never hides a good one.
    Only the few narrow columns the ranking needs are read, and only message
    ids seen more than once are ranked. A raw row is identified by
    (_source_file, _source_line), which the loader keeps unique.
    Incremental (docs/incremental.md): a run ranks again only the message ids
    of rows staged in this run and replaces their rows. A message id's passing
    deliveries only ever grow, so each of them still has a row to replace.
    Their deliveries are looked up with passing_deliveries_of(), which reads
    wide rows of earlier runs only for ids delivered before. -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key='event_id',
    on_schema_change='fail',
    pre_hook=["{% if is_incremental() %}{{ journey_atc.keep_join_sides() }}{% endif %}"],
    post_hook=["{{ journey_atc.restore_join_sides() }}"],
) }}

with

checked_events as (

    select * from {{ ref('stg_segment__events_checked') }}

),

{% if is_incremental() %}

-- message ids of every row staged in this run, passing or not (a delivery
-- that now fails may have been the kept one)
ids_staged_now as (

    select distinct event_id
    from checked_events
    where {{ journey_atc.changed_in_this_run('_staged_at') }}

),

passed_checks as (

    select *
    from {{ journey_atc.passing_deliveries_of('ids_staged_now', [
        'event_id', 'raw_message_id', 'received_at', '_source_file', '_source_line',
    ]) }} as deliveries

),

{% else %}

    passed_checks as (

        select
            event_id,
            raw_message_id,
            received_at,
            _source_file,
            _source_line
        from checked_events
        where reason_code is null

    ),

{% endif %}

repeated_ids as (

    select event_id
    from passed_checks
    group by event_id
    having count(*) > 1

),

ranked as (

    select
        passed_checks.event_id,
        passed_checks.raw_message_id,
        passed_checks.received_at,
        passed_checks._source_file,
        passed_checks._source_line,
        row_number() over (
            partition by passed_checks.event_id
            order by passed_checks.received_at, passed_checks._source_file, passed_checks._source_line
        ) as delivery_number
    from passed_checks
    inner join repeated_ids
        on passed_checks.event_id = repeated_ids.event_id

),

first_deliveries as (

    select
        event_id,
        _source_file,
        _source_line
    from ranked
    where delivery_number = 1

),

-- a row that is the very same raw row as the first delivery (same file and
-- line: loaded twice outside the loader) is not listed, so the kept delivery
-- never disappears; the unique test on stg_segment__events.event_id then
-- fails loudly instead
later_deliveries as (

    select ranked.*
    from ranked
    left join first_deliveries
        on
            ranked.event_id = first_deliveries.event_id
            and ranked._source_file = first_deliveries._source_file
            and ranked._source_line = first_deliveries._source_line
    where
        ranked.delivery_number > 1
        and first_deliveries.event_id is null

),

final as (

    select
        event_id,
        raw_message_id,
        delivery_number,
        received_at,
        'duplicate_message_id' as reason_code,
        {{ dbt.concat([
            "'message_id '''", "event_id",
            "''' was already received earlier; the earliest delivery is kept'",
        ]) }} as reason,
        _source_file,
        _source_line
    from later_deliveries

)

select * from final
