{#- A phone number in E.164 form ('+' then 8 to 15 digits), or null.

    Formatting (spaces, dots, dashes, slashes, parentheses, a "(0)" trunk
    hint) is stripped. A leading '+' or '00' marks an international number;
    anything else is national: its trunk prefix is dropped and the calling
    code of the country (ISO alpha-2) is put in front. Calling codes, trunk
    prefixes and plausible national lengths come from the seed
    country_calling_codes. International numbers whose calling code is in the
    seed must have a plausible national length too.

    Two steps, so the long expression reads columns instead of computing the
    cleaned text and the lookups again for every mention:

        phone_lookups as ({{ journey_atc.phone_lookups() }}),
        ...
        select
            {{ journey_atc.phone_cleaned('phone_raw') }} as phone_cleaned,
            {{ journey_atc.phone_country_facts('phone_lookups', 'country', 'phone_raw') }} as phone_country
        from ... cross join phone_lookups
        ...
        select
            {{ journey_atc.phone_e164('phone_raw', 'phone_cleaned', 'phone_country', 'phone_lookups') }}
        from ... cross join phone_lookups

    phone_lookups is one row: by_country (ISO alpha-2 -> calling code, trunk
    prefix, national lengths) and by_code (calling code -> national lengths),
    built with the project's cross-engine struct (queue_struct) and map_agg. -#}
{% macro phone_lookups() -%}
    {%- set codes = ref('country_calling_codes') -%}
    {%- set text = dbt.type_string() -%}
    {%- set int = dbt.type_int() -%}
    select
        (
            select
                {{ journey_atc.map_agg('upper(trim(country))', journey_atc.queue_struct({
                    'calling_code': 'cast(calling_code as ' ~ text ~ ')',
                    'trunk_prefix': "coalesce(cast(trunk_prefix as " ~ text ~ "), '')",
                    'min_digits': 'cast(min_national_digits as ' ~ int ~ ')',
                    'max_digits': 'cast(max_national_digits as ' ~ int ~ ')',
                })) }}
            from {{ codes }}
        ) as by_country,
        (
            select
                {{ journey_atc.map_agg('calling_code', journey_atc.queue_struct({
                    'min_digits': 'min_digits',
                    'max_digits': 'max_digits',
                })) }}
            from (
                select
                    cast(calling_code as {{ text }}) as calling_code,
                    min(cast(min_national_digits as {{ int }})) as min_digits,
                    max(cast(max_national_digits as {{ int }})) as max_digits
                from {{ codes }}
                group by 1
            ) as calling_code_ranges
        ) as by_code
{%- endmacro %}

{#- Aggregate: a map from key_expr to value_expr over the rows. -#}
{% macro map_agg(key_expr, value_expr) -%}
    {{ return(adapter.dispatch('map_agg', 'journey_atc')(key_expr, value_expr)) }}
{%- endmacro %}

{% macro default__map_agg(key_expr, value_expr) -%}
    map_from_entries(list(row({{ key_expr }}, {{ value_expr }})))
{%- endmacro %}

{% macro spark__map_agg(key_expr, value_expr) -%}
    map_from_entries(collect_list(struct({{ key_expr }}, {{ value_expr }})))
{%- endmacro %}

{#- The country's facts from phone_lookups (a struct), null when unknown or
    when expr holds no phone number (a map lookup per row costs). -#}
{% macro phone_country_facts(lookups, country_expr, expr) -%}
    case
        when nullif(trim({{ expr }}), '') is not null
            then {{ lookups }}.by_country[upper(trim({{ country_expr }}))]
    end
{%- endmacro %}

{#- The E.164 number of expr, from its phone_cleaned() text and its
    phone_country_facts() (columns of an earlier step). -#}
{% macro phone_e164(expr, cleaned, country, lookups) -%}
    case
        when nullif(trim({{ expr }}), '') is not null
            then {{ journey_atc._phone_e164_expression(cleaned, country, lookups ~ '.by_code') }}
    end
{%- endmacro %}

{#- Digits with an optional leading '+': formatting and a "(0)" hint removed. -#}
{% macro phone_cleaned(expr) -%}
    {{ journey_atc.regexp_replace_all("replace(trim(" ~ expr ~ "), '(0)', '')", "[ ./()-]", "") }}
{%- endmacro %}

{#- The shared logic: cleaned is the cleaned text, country the country's facts
    (a struct, null when unknown), by_code a map from calling code to lengths. ITU
    calling codes are prefix-free, so at most one of the 1-, 2- and 3-digit
    prefixes of an international number is a known code. -#}
{% macro _phone_e164_expression(cleaned, country, by_code) -%}
    {%- set intl = "substring(" ~ cleaned ~ ", case when " ~ cleaned ~ " like '+%' then 2 else 3 end)" -%}
    {%- set national -%}
        case
            when
                {{ country }}.trunk_prefix != ''
                and substring({{ cleaned }}, 1, length({{ country }}.trunk_prefix)) = {{ country }}.trunk_prefix
                then substring({{ cleaned }}, length({{ country }}.trunk_prefix) + 1)
            else {{ cleaned }}
        end
    {%- endset -%}
    {%- set known_code -%}
        coalesce(
            {{ by_code }}[substring({{ intl }}, 1, 1)],
            {{ by_code }}[substring({{ intl }}, 1, 2)],
            {{ by_code }}[substring({{ intl }}, 1, 3)]
        )
    {%- endset -%}
    {%- set known_code_length -%}
        case
            when {{ by_code }}[substring({{ intl }}, 1, 1)] is not null then 1
            when {{ by_code }}[substring({{ intl }}, 1, 2)] is not null then 2
            else 3
        end
    {%- endset -%}
    case
        when not {{ journey_atc.regexp_matches_text(cleaned, "^([+]|00)?[0-9]+$") }} then null
        when {{ cleaned }} like '+%' or {{ cleaned }} like '00%'
            then case
                when
                    length({{ intl }}) between 8 and 15
                    and substring({{ intl }}, 1, 1) != '0'
                    and (
                        {{ known_code }} is null
                        or length({{ intl }}) - {{ known_code_length }}
                        between {{ known_code }}.min_digits and {{ known_code }}.max_digits
                    )
                    then concat('+', {{ intl }})
            end
        when
            {{ country }} is not null
            and length({{ national }}) between {{ country }}.min_digits and {{ country }}.max_digits
            and length({{ country }}.calling_code) + length({{ national }}) between 8 and 15
            then concat('+', {{ country }}.calling_code, {{ national }})
    end
{%- endmacro %}
