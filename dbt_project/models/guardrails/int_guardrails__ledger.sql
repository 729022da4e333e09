{#- What counts against caps: one row per message a person received or is
    about to receive, in the last 7 days (the widest window) up to as_of.
      reported  a message a channel tool reported as sent or delivered
                (int_message_events_stitched), once per message_id, at its
                first report;
      synced    a send a channel tool acknowledged through the sync engine
                (atc_sync.sync_acknowledgements with a message_key: the
                decision's idempotency key), once per (person, channel,
                message_key) however many syncs carried it, at its first
                acknowledged_at, until a report carries that key as
                message_id;
      planned   a send journey-atc decided at an earlier as_of (the decision
                log, decision = send) that no sync acknowledged and no
                channel tool reported yet, counted at decided_at for var
                atc__guardrails_reporting_delay_hours after it was decided.
    So two runs inside the reporting delay cannot double-send, and a send a
    tool received keeps counting after the delay until the tool reports it. -#}
{%- set as_of = journey_atc.as_of() -%}
{%- set decision_log = journey_atc.guardrails_decision_log_relation() -%}
{%- set acknowledgements = journey_atc.guardrails_sync_acknowledgements_relation() -%}
{%- set delay_hours = var('atc__guardrails_reporting_delay_hours', 6) -%}

with

message_events as (
    select * from {{ ref('int_message_events_stitched') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

decision_log as (
    {{ journey_atc.relation_or_empty(decision_log, [
        ('idempotency_key', dbt.type_string()),
        ('person_id', dbt.type_string()),
        ('journey_id', dbt.type_string()),
        ('journey_category', dbt.type_string()),
        ('channel', dbt.type_string()),
        ('decision', dbt.type_string()),
        ('decided_at', dbt.type_timestamp()),
    ]) }}
),

acknowledgements as (
    {{ journey_atc.relation_or_empty(acknowledgements, [
        ('person_id', dbt.type_string()),
        ('channel', dbt.type_string()),
        ('journey_id', dbt.type_string()),
        ('message_key', dbt.type_string()),
        ('acknowledged_at', dbt.type_timestamp()),
    ]) }}
),

reported_events as (
    select
        person_id,
        channel,
        journey_id,
        coalesce(message_id, message_event_id) as message_key,
        occurred_at
    from message_events
    where
        person_id is not null
        and event_type in ('sent', 'delivered')
        and occurred_at <= {{ as_of }}
        and occurred_at > {{ dbt.dateadd('day', -7, as_of) }}
),

reported_sends as (
    select
        person_id,
        channel,
        message_key,
        max(journey_id) as journey_id,
        min(occurred_at) as sent_at
    from reported_events
    group by person_id, channel, message_key
),

acknowledged_sends as (
    select
        person_id,
        channel,
        message_key,
        max(journey_id) as journey_id,
        min(acknowledged_at) as sent_at
    from acknowledgements
    where
        person_id is not null
        and channel is not null
        and message_key is not null
        and acknowledged_at <= {{ as_of }}
    group by person_id, channel, message_key
),

acknowledged_keys as (
    select distinct
        person_id,
        message_key
    from acknowledged_sends
),

synced_sends as (
    select
        acknowledged_sends.person_id,
        acknowledged_sends.channel,
        acknowledged_sends.message_key,
        acknowledged_sends.journey_id,
        acknowledged_sends.sent_at
    from acknowledged_sends
    left join reported_sends
        on
            acknowledged_sends.person_id = reported_sends.person_id
            and acknowledged_sends.message_key = reported_sends.message_key
    where
        acknowledged_sends.sent_at > {{ dbt.dateadd('day', -7, as_of) }}
        and reported_sends.message_key is null
),

planned_sends as (
    select
        decision_log.person_id,
        decision_log.channel,
        decision_log.idempotency_key as message_key,
        decision_log.journey_id,
        decision_log.journey_category,
        decision_log.decided_at as sent_at
    from decision_log
    left join reported_sends
        on
            decision_log.person_id = reported_sends.person_id
            and decision_log.idempotency_key = reported_sends.message_key
    left join acknowledged_keys
        on
            decision_log.person_id = acknowledged_keys.person_id
            and decision_log.idempotency_key = acknowledged_keys.message_key
    where
        decision_log.decision = 'send'
        and decision_log.decided_at < {{ as_of }}
        and decision_log.decided_at >= {{ dbt.dateadd('hour', -1 * delay_hours, as_of) }}
        and reported_sends.message_key is null
        and acknowledged_keys.message_key is null
),

reported_entries as (
    select
        reported_sends.person_id,
        reported_sends.channel,
        reported_sends.message_key,
        reported_sends.journey_id,
        journeys.category as journey_category,
        reported_sends.sent_at,
        'reported' as ledger_source
    from reported_sends
    left join journeys
        on reported_sends.journey_id = journeys.journey_id
),

synced_entries as (
    select
        synced_sends.person_id,
        synced_sends.channel,
        synced_sends.message_key,
        synced_sends.journey_id,
        journeys.category as journey_category,
        synced_sends.sent_at,
        'synced' as ledger_source
    from synced_sends
    left join journeys
        on synced_sends.journey_id = journeys.journey_id
),

planned_entries as (
    select
        person_id,
        channel,
        message_key,
        journey_id,
        journey_category,
        sent_at,
        'planned' as ledger_source
    from planned_sends
),

entries as (
    select * from reported_entries
    union all
    select * from synced_entries
    union all
    select * from planned_entries
),

final as (
    select
        {{ journey_atc.stable_hash(['ledger_source', 'person_id', 'channel', 'message_key']) }} as ledger_entry_id,
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(journey_category as {{ dbt.type_string() }}) as journey_category,
        cast(message_key as {{ dbt.type_string() }}) as message_key,
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(ledger_source as {{ dbt.type_string() }}) as ledger_source
    from entries
)

select * from final
