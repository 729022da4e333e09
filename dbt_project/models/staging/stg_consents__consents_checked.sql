{#- Every raw consent record, normalised and checked once. reason_code is null
    for rows that become clean consents, else the first reason that applies in
    the contract's order.
    Incremental (docs/incremental.md): a run parses only the raw rows loaded
    since the newest staged row, less var atc__incremental_lookback_hours, that
    are not staged yet, the rows quarantined as absurd_timestamp that as_of may now
    let through, and the staged rows sharing a consent_id with any of them
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

    {{ journey_atc.incremental_raw_rows(source('raw', 'consents'), 'recorded_at', 'consent_id', 'consent_id') }}

),

{% else %}

    source as (

        select * from {{ source('raw', 'consents') }}

    ),

{% endif %}

phone_lookups as (

    {{ journey_atc.phone_lookups() }}

),

parsed as (

    select
        nullif(trim(consent_id), '') as consent_id,
        consent_id as raw_consent_id,
        identifier_type as raw_identifier_type,
        lower(trim(identifier_type)) as identifier_type,
        identifier as raw_identifier,
        channel as raw_channel,
        lower(trim(channel)) as channel,
        lower(nullif(trim(purpose), '')) as purpose,
        granted as raw_granted,
        case lower(trim(granted))
            when 'true' then true
            when 'false' then false
        end as is_granted,
        upper(nullif(trim(region), '')) as region,
        recorded_at as raw_recorded_at,
        {{ journey_atc.parse_timestamp_utc('recorded_at') }} as recorded_at,
        nullif(trim(source), '') as source, -- noqa: RF04
        _source_file,
        _source_line,
        _loaded_at
    from source

),

phone_parts as (

    select
        parsed.*,
        case
            when parsed.identifier_type = 'phone' then {{ journey_atc.phone_cleaned('parsed.raw_identifier') }}
        end as phone_cleaned,
        {{ journey_atc.phone_country_facts(
            'phone_lookups', "coalesce(parsed.region, '" ~ default_region ~ "')",
            "case when parsed.identifier_type = 'phone' then parsed.raw_identifier end"
        ) }} as phone_country
    from parsed
    cross join phone_lookups

),

identified as (

    select
        phone_parts.consent_id,
        phone_parts.raw_consent_id,
        phone_parts.raw_identifier_type,
        phone_parts.identifier_type,
        phone_parts.raw_identifier,
        phone_parts.raw_channel,
        phone_parts.channel,
        phone_parts.purpose,
        phone_parts.raw_granted,
        phone_parts.is_granted,
        phone_parts.region,
        phone_parts.raw_recorded_at,
        phone_parts.recorded_at,
        phone_parts.source,
        phone_parts._source_file,
        phone_parts._source_line,
        phone_parts._loaded_at,
        case phone_parts.identifier_type
            when 'email' then {{ journey_atc.normalize_email('phone_parts.raw_identifier') }}
            when 'phone' then {{ journey_atc.phone_e164(
                'phone_parts.raw_identifier', 'phone_parts.phone_cleaned', 'phone_parts.phone_country', 'phone_lookups'
            ) }}
            when 'user_id' then nullif(trim(phone_parts.raw_identifier), '')
        end as identifier
    from phone_parts
    cross join phone_lookups

),

checked as (

    select
        *,
        case
            when consent_id is null then 'missing_consent_id'
            when identifier_type is null or identifier_type not in ('user_id', 'email', 'phone')
                then 'unknown_identifier_type'
            when identifier is null then 'no_identifier'
            when channel is null or channel not in ('email', 'sms', 'push', 'whatsapp')
                then 'unknown_channel'
            when is_granted is null then 'unparseable_granted'
            when recorded_at is null then 'unparseable_timestamp'
            when {{ journey_atc.is_absurd_timestamp('recorded_at') }} then 'absurd_timestamp'
        end as check_reason_code
    from identified

),

ranked as (

    select
        *,
        row_number() over (
            partition by consent_id, check_reason_code
            order by recorded_at, _source_file, _source_line
        ) as delivery_number
    from checked

),

reasoned as (

    select
        *,
        case
            when check_reason_code is not null then check_reason_code
            when delivery_number > 1 then 'duplicate_consent_id'
        end as reason_code
    from ranked

),

final as (

    select
        consent_id,
        raw_consent_id,
        identifier_type,
        identifier,
        channel,
        purpose,
        is_granted,
        region,
        recorded_at,
        source,
        reason_code,
        case reason_code
            when 'missing_consent_id' then 'consent_id is missing or empty'
            when 'unknown_identifier_type' then {{ dbt.concat([
                "'identifier_type '",
                "coalesce(" ~ dbt.concat(["''''", "raw_identifier_type", "''''"]) ~ ", 'null')",
                "' is not one of user_id, email, phone'",
            ]) }}
            when 'no_identifier' then {{ dbt.concat([
                "'identifier '", "coalesce(" ~ dbt.concat(["''''", "raw_identifier", "''''"]) ~ ", 'null')",
                "' is not a valid '", "identifier_type",
            ]) }}
            when 'unknown_channel' then {{ dbt.concat([
                "'channel '", "coalesce(" ~ dbt.concat(["''''", "raw_channel", "''''"]) ~ ", 'null')",
                "' is not one of email, sms, push, whatsapp'",
            ]) }}
            when 'unparseable_granted' then {{ dbt.concat([
                "'granted '", "coalesce(" ~ dbt.concat(["''''", "raw_granted", "''''"]) ~ ", 'null')",
                "' is neither true nor false'",
            ]) }}
            when 'unparseable_timestamp' then {{ dbt.concat([
                "'recorded_at '", "coalesce(" ~ dbt.concat(["''''", "raw_recorded_at", "''''"]) ~ ", 'null')",
                "' is not an ISO-8601 date-time'",
            ]) }}
            when 'absurd_timestamp' then {{ journey_atc.absurd_timestamp_reason(
                'recorded_at', 'raw_recorded_at', 'recorded_at'
            ) }}
            when 'duplicate_consent_id' then {{ dbt.concat([
                "'consent_id '''", "consent_id",
                "''' was already recorded earlier; the earliest record is kept'",
            ]) }}
        end as reason,
        _source_file,
        _source_line,
        _loaded_at,
        {{ journey_atc.as_of() }} as _staged_at
    from reasoned

)

select * from final
