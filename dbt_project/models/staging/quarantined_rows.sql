{#- Every quarantined raw row of every source table, one place to look. -#}
with

quarantined_events as (

    select * from {{ ref('stg_segment__events_quarantined') }}

),

quarantined_message_events as (

    select * from {{ ref('stg_channels__message_events_quarantined') }}

),

quarantined_consents as (

    select * from {{ ref('stg_consents__consents_quarantined') }}

),

unioned as (

    {% for relation in ['quarantined_events', 'quarantined_message_events', 'quarantined_consents'] -%}
    select
        quarantine_id,
        source_table,
        record_id,
        reason_code,
        reason,
        _source_file,
        _source_line,
        quarantined_at
    from {{ relation }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
