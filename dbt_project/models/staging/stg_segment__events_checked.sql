{#- Every raw event, parsed once and checked once. Each row carries either a
    null reason_code (it passed every check) or the first quarantine reason
    that applies, in the order the data contract lists them.
    stg_segment__events and stg_segment__events_quarantined both read this
    table, so raw events and their JSON are scanned and parsed only once.
    Repeated deliveries of a message_id are ranked apart, on a few narrow
    columns (stg_segment__events_later_deliveries): a window over these wide
    rows would hold all of them in memory at once, more than a laptop has at
    tens of millions of events, while this model streams from raw to table.
    Incremental (docs/incremental.md): a run parses only the raw rows loaded
    since the newest staged row, less var atc__incremental_lookback_hours, that
    are not staged yet, plus the rows quarantined as absurd_timestamp that as_of
    may now let through. Rows are replaced on (_source_file, _source_line). -#}
{{ config(
    materialized=journey_atc.incremental_or_table(),
    incremental_strategy='delete+insert',
    unique_key=['_source_file', '_source_line'],
    on_schema_change='fail',
) }}
{%- set default_region = var('atc__default_region', 'US') -%}
{#- Each JSON document is read once for all the paths taken from it. -#}
{%- set context_paths = [
    '$.device.id', '$.device.type', '$.locale', '$.timezone', '$.ip', '$.location.country',
    '$.traits.email', '$.traits.phone',
] -%}
{%- set traits_paths = ['$.email', '$.phone'] -%}
{%- set properties_paths = [
    '$.category', '$.product_id', '$.show_id', '$.venue_id', '$.order_id', '$.cart_id',
    '$.ticket_type', '$.quantity', '$.revenue', '$.currency',
] -%}

with

{% if is_incremental() %}

source as (

    {{ journey_atc.incremental_raw_rows(source('raw', 'events'), 'occurred_at') }}

),

{% else %}

    source as (

        select * from {{ source('raw', 'events') }}

    ),

{% endif %}

phone_lookups as (

    {{ journey_atc.phone_lookups() }}

),

event_name_map as (

    select * from {{ ref('event_name_map') }}

),

known_event_names as (

    select distinct
        lower(trim(raw_event_name)) as event_key,
        event_name
    from event_name_map

),

parsed as (

    select
        nullif(trim(message_id), '') as event_id,
        message_id as raw_message_id,
        type as raw_type,
        lower(trim(type)) as event_type,
        nullif(trim(event), '') as raw_event_name,
        nullif(trim(anonymous_id), '') as anonymous_id,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(previous_id), '') as previous_id,
        {{ adapter.quote('timestamp') }} as raw_timestamp,
        received_at as raw_received_at,
        {{ journey_atc.parse_timestamp_utc(adapter.quote('timestamp')) }} as occurred_at,
        {{ journey_atc.parse_timestamp_utc('received_at') }} as parsed_received_at,
        context as raw_context,
        properties as raw_properties,
        traits as raw_traits,
        {{ journey_atc.parse_json('context') }} as context_json,
        {{ journey_atc.parse_json('properties') }} as properties_json,
        {{ journey_atc.parse_json('traits') }} as traits_json,
        _source_file,
        _source_line,
        _loaded_at
    from source

),

documents as (

    select
        *,
        {{ journey_atc.json_texts('context_json', context_paths) }} as context_values,
        {{ journey_atc.json_texts('traits_json', traits_paths) }} as traits_values,
        {{ journey_atc.json_texts('properties_json', properties_paths) }} as properties_values
    from parsed

),

extracted as (

    select
        *,
        nullif(trim({{ journey_atc.list_item('context_values', 1) }}), '') as device_id,
        lower(nullif(trim({{ journey_atc.list_item('context_values', 2) }}), '')) as device_type,
        nullif(trim({{ journey_atc.list_item('context_values', 3) }}), '') as locale, -- noqa: RF04
        nullif(trim({{ journey_atc.list_item('context_values', 4) }}), '') as timezone, -- noqa: RF04
        nullif(trim({{ journey_atc.list_item('context_values', 5) }}), '') as ip,
        upper(trim({{ journey_atc.list_item('context_values', 6) }})) as location_country,
        coalesce(
            {{ journey_atc.list_item('traits_values', 1) }},
            {{ journey_atc.list_item('context_values', 7) }}
        ) as raw_email,
        coalesce(
            nullif(trim({{ journey_atc.list_item('traits_values', 2) }}), ''),
            nullif(trim({{ journey_atc.list_item('context_values', 8) }}), '')
        ) as phone_raw,
        nullif(trim({{ journey_atc.list_item('properties_values', 1) }}), '') as category,
        nullif(trim({{ journey_atc.list_item('properties_values', 2) }}), '') as product_id,
        nullif(trim({{ journey_atc.list_item('properties_values', 3) }}), '') as show_id,
        nullif(trim({{ journey_atc.list_item('properties_values', 4) }}), '') as venue_id,
        nullif(trim({{ journey_atc.list_item('properties_values', 5) }}), '') as order_id,
        nullif(trim({{ journey_atc.list_item('properties_values', 6) }}), '') as cart_id,
        lower(nullif(trim({{ journey_atc.list_item('properties_values', 7) }}), '')) as ticket_type,
        {{ journey_atc.json_number(journey_atc.list_item('properties_values', 8)) }} as raw_quantity,
        {{ journey_atc.json_number(journey_atc.list_item('properties_values', 9)) }} as revenue,
        upper(nullif(trim({{ journey_atc.list_item('properties_values', 10) }}), '')) as currency
    from documents

),

located as (

    select
        *,
        {{ journey_atc.normalize_email('raw_email') }} as email,
        coalesce(
            case
                when {{ journey_atc.regexp_matches_text('location_country', '^[A-Z]{2}$') }}
                    then location_country
            end,
            upper({{ journey_atc.regexp_extract_text('locale', '^[A-Za-z]{2,3}[-_]([A-Za-z]{2})([-_.@].*)?$', 1) }})
        ) as country
    from extracted

),

named as (

    select
        located.*,
        case
            when located.event_type = 'track' then known_event_names.event_name
            when located.event_type = 'page' then 'page_viewed'
            when located.event_type = 'screen' then 'screen_viewed'
            when located.event_type = 'identify' then 'identified'
            when located.event_type = 'alias' then 'aliased'
        end as event_name,
        {{ journey_atc.phone_cleaned('located.phone_raw') }} as phone_cleaned,
        {{ journey_atc.phone_country_facts(
            'phone_lookups', "coalesce(located.country, '" ~ default_region ~ "')", 'located.phone_raw'
        ) }} as phone_country
    from located
    cross join phone_lookups
    left join known_event_names
        on lower(located.raw_event_name) = known_event_names.event_key

),

phoned as (

    select
        named.*,
        {{ journey_atc.phone_e164(
            'named.phone_raw', 'named.phone_cleaned', 'named.phone_country', 'phone_lookups'
        ) }} as phone_e164
    from named
    cross join phone_lookups

),

-- only the columns the rest needs: the window below sorts whole rows, so the
-- parsed documents and their value lists are dropped before it
checked as (

    select
        event_id,
        raw_message_id,
        raw_type,
        event_type,
        event_name,
        raw_event_name,
        anonymous_id,
        user_id,
        previous_id,
        device_id,
        device_type,
        email,
        phone_raw,
        phone_e164,
        raw_timestamp,
        raw_received_at,
        occurred_at,
        parsed_received_at,
        timezone,
        locale,
        country,
        ip,
        category,
        product_id,
        show_id,
        venue_id,
        order_id,
        cart_id,
        ticket_type,
        raw_quantity,
        revenue,
        currency,
        case when properties_json is not null then raw_properties end as properties,
        case
            when raw_context is not null and trim(raw_context) != '' and context_json is null then 'context'
            when raw_properties is not null and trim(raw_properties) != '' and properties_json is null
                then 'properties'
            else 'traits'
        end as invalid_json_field,
        substring(
            case
                when raw_context is not null and trim(raw_context) != '' and context_json is null then raw_context
                when raw_properties is not null and trim(raw_properties) != '' and properties_json is null
                    then raw_properties
                else raw_traits
            end,
            1,
            80
        ) as invalid_json_text,
        _source_file,
        _source_line,
        _loaded_at,
        case
            when event_id is null then 'missing_message_id'
            when raw_context is not null and trim(raw_context) != '' and context_json is null then 'invalid_json'
            when raw_properties is not null and trim(raw_properties) != '' and properties_json is null
                then 'invalid_json'
            when raw_traits is not null and trim(raw_traits) != '' and traits_json is null then 'invalid_json'
            when event_type is null or event_type not in ('track', 'identify', 'page', 'screen', 'alias')
                then 'unknown_type'
            when user_id is null and anonymous_id is null and device_id is null and email is null
                then 'no_identifier'
            when occurred_at is null then 'unparseable_timestamp'
            when nullif(trim(raw_received_at), '') is not null and parsed_received_at is null
                then 'unparseable_timestamp'
            when {{ journey_atc.is_absurd_timestamp('occurred_at') }} then 'absurd_timestamp'
            when event_type = 'track' and event_name is null then 'unknown_event'
        end as check_reason_code
    from phoned

),

final as (

    select
        event_id,
        raw_message_id,
        event_type,
        event_name,
        raw_event_name,
        anonymous_id,
        user_id,
        previous_id,
        device_id,
        device_type,
        email,
        phone_raw,
        phone_e164,
        occurred_at,
        coalesce(parsed_received_at, occurred_at) as received_at,
        coalesce(
            coalesce(parsed_received_at, occurred_at) > {{ dbt.dateadd('hour', 24, 'occurred_at') }},
            false
        ) as is_late_arriving,
        timezone,
        locale,
        country,
        ip,
        category,
        product_id,
        show_id,
        venue_id,
        order_id,
        cart_id,
        ticket_type,
        case
            -- a whole number an integer holds (a larger one would fail the cast)
            when raw_quantity = floor(raw_quantity) and abs(raw_quantity) < 2147483648
                then cast(raw_quantity as {{ dbt.type_int() }})
        end as quantity,
        revenue,
        currency,
        properties,
        check_reason_code as reason_code,
        case check_reason_code
            when 'missing_message_id' then 'message_id is missing or empty'
            when 'invalid_json' then {{ dbt.concat([
                "invalid_json_field", "' is not valid JSON: '", "invalid_json_text",
            ]) }}
            when 'unknown_type' then {{ dbt.concat([
                "'type '", "coalesce(" ~ dbt.concat(["''''", "raw_type", "''''"]) ~ ", 'null')",
                "' is not one of track, identify, page, screen, alias'",
            ]) }}
            when 'no_identifier' then 'none of user_id, anonymous_id, context.device.id or email is present'
            when 'unparseable_timestamp' then {{ dbt.concat([
                "case when occurred_at is null then 'timestamp ' else 'received_at ' end",
                "coalesce(" ~ dbt.concat([
                    "''''",
                    "case when occurred_at is null then raw_timestamp else raw_received_at end",
                    "''''",
                ]) ~ ", 'null')",
                "' is not an ISO-8601 date-time'",
            ]) }}
            when 'absurd_timestamp' then {{ journey_atc.absurd_timestamp_reason(
                'timestamp', 'raw_timestamp', 'occurred_at'
            ) }}
            when 'unknown_event' then {{ dbt.concat([
                "'event '", "coalesce(" ~ dbt.concat(["''''", "raw_event_name", "''''"]) ~ ", 'null')",
                "' is not a known event name (seed event_name_map)'",
            ]) }}
        end as reason,
        _source_file,
        _source_line,
        _loaded_at,
        {{ journey_atc.as_of() }} as _staged_at
    from checked

)

select * from final
