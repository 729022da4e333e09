{#- What the incremental nodes and edges recompute (docs/incremental.md).

    identity_changed_values(): every (identifier_type, identifier_value) of an
    identifier set written in this run. A node's or an edge's aggregate only
    changes when a set holding it changes, so only these identifiers' nodes,
    and only edges with such an endpoint, can change.

    identity_sets_in_scope(): the identifier sets with events that hold any of
    those values; every set holding a changed node or edge is among them, so
    aggregating them gives those nodes and edges whole. On a full build, or
    where these models are tables (Spark), every set with events. -#}

{% macro identity_changed_values() -%}
    {%- set sets = ref('int_identity__identifier_sets') -%}
    {%- for identifier_type, column in journey_atc.identifier_columns(with_previous_id=true) %}
        select distinct
            '{{ identifier_type }}' as identifier_type,
            {{ column }} as identifier_value
        from {{ sets }}
        where
            {{ journey_atc.changed_in_this_run('_changed_at') }}
            and {{ column }} is not null
            and {{ column }} <> ''
        {% if not loop.last %}union{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- `changed` names a relation (a CTE) holding identity_changed_values(). -#}
{% macro identity_sets_in_scope(changed) -%}
    select identifier_sets.*
    from {{ ref('int_identity__identifier_sets') }} as identifier_sets
    where
        identifier_sets.event_count > 0
        {%- if is_incremental() %}
            and (
                {%- for identifier_type, column in journey_atc.identifier_columns(with_previous_id=true) %}
                    {{ 'or ' if not loop.first }}identifier_sets.{{ column }} in (
                        select identifier_value from {{ changed }} where identifier_type = '{{ identifier_type }}'
                    )
                {%- endfor %}
            )
        {%- endif %}
{%- endmacro %}
