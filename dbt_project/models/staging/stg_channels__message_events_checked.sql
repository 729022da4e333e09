{#- Every raw message event, parsed and checked once. reason_code is null for
    rows that become clean delivery events, else the first reason that applies
    in the contract's order. Both stg_channels__message_events and its
    quarantine model read this table.
    Incremental (docs/incremental.md): a run parses only the raw rows loaded
    since the newest staged row, less var atc__incremental_lookback_hours, that
    are not staged yet, the rows quarantined as absurd_timestamp that as_of may now
    let through, and the staged rows sharing an event_id with any of them
    (ranked again with them). Rows are replaced on (_source_file, _source_line). -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key=['_source_file', '_source_line'],
    on_schema_change='fail',
) }}
{%- set default_region = var('atc__default_region', 'US') -%}

with

{% if is_incremental() %}

source as (

    {{ journey_atc.incremental_raw_rows(source('raw', 'message_events'), 'occurred_at', 'event_id', 'message_event_id') }}

),

{% else %}

    source as (

        select * from {{ source('raw', 'message_events') }}

    ),

{% endif %}

phone_lookups as (

    {{ journey_atc.phone_lookups() }}

),

parsed as (

    select
        nullif(trim(source.event_id), '') as message_event_id,
        source.event_id as raw_event_id,
        nullif(trim(source.message_id), '') as message_id,
        source.channel as raw_channel,
        lower(trim(source.channel)) as channel,
        nullif(trim(source.journey_id), '') as journey_id,
        source.event_type as raw_event_type,
        lower(trim(source.event_type)) as event_type,
        nullif(trim(source.user_id), '') as user_id,
        {{ journey_atc.normalize_email('source.email') }} as email,
        source.phone as raw_phone,
        {{ journey_atc.phone_cleaned('source.phone') }} as phone_cleaned,
        {{ journey_atc.phone_country_facts(
            'phone_lookups', "'" ~ default_region ~ "'", 'source.phone'
        ) }} as phone_country,
        source.{{ adapter.quote('timestamp') }} as raw_timestamp,
        {{ journey_atc.parse_timestamp_utc('source.' ~ adapter.quote('timestamp')) }} as occurred_at,
        source.properties as raw_properties,
        {{ journey_atc.parse_json('source.properties') }} as properties_json,
        source._source_file,
        source._source_line,
        source._loaded_at
    from source
    cross join phone_lookups

),

phoned as (

    select
        parsed.message_event_id,
        parsed.raw_event_id,
        parsed.message_id,
        parsed.raw_channel,
        parsed.channel,
        parsed.journey_id,
        parsed.raw_event_type,
        parsed.event_type,
        parsed.user_id,
        parsed.email,
        parsed.raw_timestamp,
        parsed.occurred_at,
        parsed.raw_properties,
        parsed.properties_json,
        parsed._source_file,
        parsed._source_line,
        parsed._loaded_at,
        {{ journey_atc.phone_e164(
            'parsed.raw_phone', 'parsed.phone_cleaned', 'parsed.phone_country', 'phone_lookups'
        ) }} as phone_e164
    from parsed
    cross join phone_lookups

),

checked as (

    select
        *,
        lower(trim({{ journey_atc.json_text('properties_json', '$.bounce_type') }})) as raw_bounce_type,
        case
            when message_event_id is null then 'missing_event_id'
            when raw_properties is not null and trim(raw_properties) != '' and properties_json is null
                then 'invalid_json'
            when channel is null or channel not in ('email', 'sms', 'push', 'whatsapp', 'in_app', 'ads')
                then 'unknown_channel'
            when
                event_type is null
                or event_type not in (
                    'sent', 'delivered', 'opened', 'clicked', 'bounced', 'complained', 'unsubscribed'
                )
                then 'unknown_event_type'
            when user_id is null and email is null and phone_e164 is null then 'no_identifier'
            when occurred_at is null then 'unparseable_timestamp'
            when {{ journey_atc.is_absurd_timestamp('occurred_at') }} then 'absurd_timestamp'
        end as check_reason_code
    from phoned

),

ranked as (

    select
        *,
        row_number() over (
            partition by message_event_id, check_reason_code
            order by occurred_at, _source_file, _source_line
        ) as delivery_number
    from checked

),

reasoned as (

    select
        *,
        case
            when check_reason_code is not null then check_reason_code
            when delivery_number > 1 then 'duplicate_event_id'
        end as reason_code
    from ranked

),

final as (

    select
        message_event_id,
        raw_event_id,
        message_id,
        channel,
        journey_id,
        event_type,
        user_id,
        email,
        phone_e164,
        occurred_at,
        case when raw_bounce_type in ('hard', 'soft') then raw_bounce_type end as bounce_type,
        case when properties_json is not null then raw_properties end as properties,
        reason_code,
        case reason_code
            when 'missing_event_id' then 'event_id is missing or empty'
            when 'invalid_json' then {{ dbt.concat([
                "'properties is not valid JSON: '", "substring(raw_properties, 1, 80)",
            ]) }}
            when 'unknown_channel' then {{ dbt.concat([
                "'channel '", "coalesce(" ~ dbt.concat(["''''", "raw_channel", "''''"]) ~ ", 'null')",
                "' is not one of email, sms, push, whatsapp, in_app, ads'",
            ]) }}
            when 'unknown_event_type' then {{ dbt.concat([
                "'event_type '", "coalesce(" ~ dbt.concat(["''''", "raw_event_type", "''''"]) ~ ", 'null')",
                "' is not one of sent, delivered, opened, clicked, bounced, complained, unsubscribed'",
            ]) }}
            when 'no_identifier' then 'none of user_id, a valid email or a valid phone is present'
            when 'unparseable_timestamp' then {{ dbt.concat([
                "'timestamp '", "coalesce(" ~ dbt.concat(["''''", "raw_timestamp", "''''"]) ~ ", 'null')",
                "' is not an ISO-8601 date-time'",
            ]) }}
            when 'absurd_timestamp' then {{ journey_atc.absurd_timestamp_reason(
                'timestamp', 'raw_timestamp', 'occurred_at'
            ) }}
            when 'duplicate_event_id' then {{ dbt.concat([
                "'event_id '''", "message_event_id",
                "''' was already seen earlier; the earliest occurrence is kept'",
            ]) }}
        end as reason,
        _source_file,
        _source_line,
        _loaded_at,
        {{ journey_atc.as_of() }} as _staged_at
    from reasoned

)

select * from final
