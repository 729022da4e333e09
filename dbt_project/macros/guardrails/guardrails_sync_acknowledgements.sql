{#- The sync engine's acknowledgements (source atc_sync.sync_acknowledgements),
    or none while the table does not exist (a warehouse where no sync engine
    ever created its tables). The source() call keeps the dependency in the
    lineage; the adapter tells whether the table is there. -#}
{% macro guardrails_sync_acknowledgements_relation() -%}
    {%- set declared = source('atc_sync', 'sync_acknowledgements') -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(declared.database, declared.schema, declared.identifier)) }}
{%- endmacro %}
