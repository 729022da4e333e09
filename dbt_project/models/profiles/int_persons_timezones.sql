-- One row per person: time zone, locale and region.
-- timezone: the recognised IANA zone the person's events carry most often
-- (ties: most recently seen, then name), else the default zone of their
-- country, else var atc__default_timezone; timezone_source says which.
-- region: the country of the most recent event naming one, else the region
-- of the most recent locale, else var atc__default_region.
-- locale: the most recent locale sent (with - as separator), else the
-- region's default locale.
-- Incremental per person (macros/incremental/affected_persons.sql): a run
-- computes again only the persons of int_persons_affected.
{{ journey_atc.per_person_model() }}

with

person_map as (
    select * from {{ ref('identity_person_map') }}
),

events as (
    select * from {{ ref('int_events_stitched') }}
),

iana_timezones as (
    select * from {{ ref('iana_timezones') }}
),

country_defaults as (
    select * from {{ ref('country_defaults') }}
),

persons as (
    select distinct person_id
    from person_map
    where
        person_id is not null
        and {{ journey_atc.persons_in_scope() }}
),

-- one pass over the events, grouped by the raw values (a person has a few
-- combinations): trimming, case folding and the zone lookup then run once
-- per distinct value, not once per event, and each attribute's counts and
-- latest sightings are summed up from these groups
raw_values as (
    select
        person_id,
        timezone as raw_timezone,
        locale as raw_locale,
        country as raw_country,
        count(*) as event_count,
        max(occurred_at) as last_seen_at,
        max(event_id) as last_event_id
    from events
    where
        person_id is not null
        and occurred_at <= {{ journey_atc.as_of() }}
        and {{ journey_atc.persons_in_scope() }}
    group by person_id, timezone, locale, country
),

values_cleaned as (
    select
        person_id,
        trim(raw_timezone) as timezone,
        nullif(replace(trim(raw_locale), '_', '-'), '') as locale,  -- noqa: RF04
        upper(nullif(trim(raw_country), '')) as country,
        event_count,
        last_seen_at,
        last_event_id
    from raw_values
),

timezone_votes as (
    select
        values_cleaned.person_id,
        iana_timezones.timezone,
        sum(values_cleaned.event_count) as event_count,
        max(values_cleaned.last_seen_at) as last_seen_at
    from values_cleaned
    inner join iana_timezones
        on lower(values_cleaned.timezone) = lower(iana_timezones.timezone)
    group by values_cleaned.person_id, iana_timezones.timezone
),

timezones_ranked as (
    select
        person_id,
        timezone,
        row_number() over (
            partition by person_id
            order by event_count desc, last_seen_at desc, timezone asc
        ) as vote_rank
    from timezone_votes
),

event_timezones as (
    select
        person_id,
        timezone
    from timezones_ranked
    where vote_rank = 1
),

countries_seen as (
    select
        person_id,
        country,
        max(last_seen_at) as last_seen_at,
        max(last_event_id) as last_event_id
    from values_cleaned
    where country is not null
    group by person_id, country
),

countries_ranked as (
    select
        person_id,
        country,
        row_number() over (
            partition by person_id
            order by last_seen_at desc, last_event_id desc
        ) as recency_rank
    from countries_seen
),

event_countries as (
    select
        person_id,
        country
    from countries_ranked
    where recency_rank = 1
),

locales_seen as (
    select
        person_id,
        locale,
        max(last_seen_at) as last_seen_at,
        max(last_event_id) as last_event_id
    from values_cleaned
    where locale is not null
    group by person_id, locale
),

locales_ranked as (
    select
        person_id,
        locale,
        upper({{ dbt.split_part("locale", "'-'", 2) }}) as locale_region,
        row_number() over (
            partition by person_id
            order by last_seen_at desc, last_event_id desc
        ) as recency_rank
    from locales_seen
),

event_locales as (
    select
        person_id,
        locale,
        case when {{ dbt.length('locale_region') }} = 2 then locale_region end as locale_region
    from locales_ranked
    where recency_rank = 1
),

persons_places as (
    select
        persons.person_id,
        event_timezones.timezone as event_timezone,
        event_locales.locale as event_locale,
        coalesce(event_countries.country, event_locales.locale_region) as known_country,
        case
            when event_countries.country is not null then 'event_country'
            when event_locales.locale_region is not null then 'locale'
            else 'default'
        end as region_source
    from persons
    left join event_timezones
        on persons.person_id = event_timezones.person_id
    left join event_countries
        on persons.person_id = event_countries.person_id
    left join event_locales
        on persons.person_id = event_locales.person_id
),

persons_resolved as (
    select
        persons_places.person_id,
        coalesce(
            persons_places.event_timezone,
            known_country_defaults.default_timezone,
            '{{ var("atc__default_timezone") }}'
        ) as timezone,
        case
            when persons_places.event_timezone is not null then 'event'
            when known_country_defaults.default_timezone is not null then 'country'
            else 'default'
        end as timezone_source,
        coalesce(persons_places.known_country, '{{ var("atc__default_region") }}') as region,
        persons_places.region_source,
        persons_places.event_locale
    from persons_places
    left join country_defaults as known_country_defaults
        on persons_places.known_country = known_country_defaults.country
),

final as (
    select
        persons_resolved.person_id,
        persons_resolved.timezone,
        persons_resolved.timezone_source,
        coalesce(persons_resolved.event_locale, region_defaults.default_locale) as locale,  -- noqa: RF04
        persons_resolved.region,
        persons_resolved.region_source
    from persons_resolved
    left join country_defaults as region_defaults
        on persons_resolved.region = region_defaults.country
)

select * from final
