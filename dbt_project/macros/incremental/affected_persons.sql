{#- Per-person incremental models (docs/incremental.md).

    Profile models whose rows are one person's aggregate of their events are
    incremental on the persons of int_persons_affected: on an incremental run
    their pre-hook deletes the affected persons' rows, and the model's query
    computes those persons again (persons_in_scope), from all their events.
    A person who left the graph (merged into another) is affected and gets no
    new row. On a full build persons_in_scope and delete_affected_persons do
    nothing. -#}

{#- A condition keeping only the affected persons on an incremental run. -#}
{% macro persons_in_scope(column='person_id') -%}
    {%- if is_incremental() -%}
        {{ column }} in (select person_id from {{ ref('int_persons_affected') }})
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}

{#- The pre-hook of the per-person incremental models: the affected persons'
    rows go, and every row when everyone is affected (so persons no longer
    in the person map, merged away before the changes log began, go too). -#}
{% macro delete_affected_persons() -%}
    {%- set affected = ref('int_persons_affected') -%}
    {{ journey_atc.delete_from_this_where(
        'person_id in (select person_id from ' ~ affected ~ ')'
        ~ " or exists (select 1 from " ~ affected ~ " where affected_by = 'everyone')"
    ) }}
{%- endmacro %}

{#- identity_person_changes' post-hook: rows older than the retention go. -#}
{% macro delete_expired_person_changes() -%}
    {{ journey_atc.delete_from_this_where('changed_at < ' ~ journey_atc.person_changes_kept_since()) }}
{%- endmacro %}

{#- int_persons_affected's post-hook: the changes older than the previous
    build of the per-person models were read by that build or an earlier
    one, and go (the log stays about two profile builds long). -#}
{% macro delete_consumed_person_changes() -%}
    {%- set previous_build = journey_atc.previous_profiles_build() -%}
    {%- if previous_build is none -%}
        select 1 as nothing_to_delete
    {%- else -%}
        delete from {{ ref('identity_person_changes') }}
        where changed_at < cast('{{ previous_build["as_of"] }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- The oldest change identity_person_changes still holds. -#}
{% macro person_changes_kept_since() -%}
    {{ dbt.dateadd('day', -1 * var('atc__person_changes_retention_days'), journey_atc.as_of()) }}
{%- endmacro %}

{#- The configuration of a per-person incremental model, called at its top:
    incremental (a table on Spark), appending the affected persons' new rows
    after the pre-hook deleted their old ones. -#}
{% macro per_person_model() -%}
    {{ config(
        materialized=journey_atc.incremental_or_table(),
        incremental_strategy='append',
        on_schema_change='fail',
        pre_hook=["{{ journey_atc.delete_affected_persons() }}"],
    ) }}
    -- depends_on: {{ ref('int_persons_affected') }}
{%- endmacro %}
