{#- Identity graph nodes are identifiers written as '<type>:<value>', where type is
    one of user_id, anonymous_id, device_id, email, phone. These helpers build a
    node from a column and split one back into its type and value, with dbt's
    cross-database macros only, so the graph reads the same on every engine. -#}

{#- The node for value_expr, or null when the value is null or empty. identifier_type
    is a literal type name, or a column holding it when type_is_column is true. -#}
{% macro identity_node(identifier_type, value_expr, type_is_column=false) -%}
    {%- set type_expr = identifier_type if type_is_column else "'" ~ identifier_type ~ "'" -%}
    case
        when {{ value_expr }} is not null and {{ value_expr }} <> ''
            then {{ dbt.concat([type_expr, "':'", value_expr]) }}
    end
{%- endmacro %}

{#- The identifier type of a node: the text before the first ':'. -#}
{% macro identity_node_type(node_expr) -%}
    {{ dbt.split_part(node_expr, "':'", 1) }}
{%- endmacro %}

{#- The identifier value of a node: everything after the first ':' (values may hold ':'). -#}
{% macro identity_node_value(node_expr) -%}
    substring({{ node_expr }}, {{ dbt.length(dbt.split_part(node_expr, "':'", 1)) }} + 2)
{%- endmacro %}

{#- Each identifier type with the identifier-set column holding it, in
    stitch_keys() order; with previous_id, an alias call's previous_id too
    (an anonymous id). -#}
{% macro identifier_columns(with_previous_id=false) -%}
    {%- set columns = [('user_id', 'user_id'), ('anonymous_id', 'anonymous_id')] -%}
    {%- if with_previous_id -%}
        {%- do columns.append(('anonymous_id', 'previous_id')) -%}
    {%- endif -%}
    {%- do columns.extend([('device_id', 'device_id'), ('email', 'email'), ('phone', 'phone_e164')]) -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The five event columns whose combination decides an event's person, in
    the order they are tried (int_identity__set_persons, int_events_stitched). -#}
{% macro stitch_keys() -%}
    {{ return(['user_id', 'anonymous_id', 'device_id', 'email', 'phone_e164']) }}
{%- endmacro %}

{#- The person of each combination of stitch identifiers in the relation
    `combinations` (its five stitch_keys() columns): the first identifier
    found in identity_person_map, tried in stitch_keys() order. Over-linked
    identifiers are absent from the person map, so the first one found is
    the first that is not over-linked. Each lookup reads the map's nodes of
    one type by their stored identifier_type and identifier_value, so it
    hashes only the nodes of that type and builds no node text per combination (a
    node is never made of an empty value, so an empty one finds no person,
    as before). -#}
{% macro persons_of_combinations(combinations) -%}
    {%- set person_map = ref('identity_person_map') -%}
    {%- set lookups = [] -%}
    {%- for identifier_type, column in journey_atc.identifier_columns() -%}
        {%- do lookups.append(('by_' ~ identifier_type, identifier_type, column)) -%}
    {%- endfor %}
    select
        {% for key in journey_atc.stitch_keys() -%}
            {{ combinations }}.{{ key }},
        {% endfor -%}
        coalesce(
            {%- for alias, _, _ in lookups %}
                {{ alias }}.person_id{{ ',' if not loop.last }}
            {%- endfor %}
        ) as person_id,
        case
            {%- for alias, identifier_type, _ in lookups %}
                when {{ alias }}.person_id is not null then '{{ identifier_type }}'
            {%- endfor %}
        end as stitched_via
    from {{ combinations }}
    {%- for alias, identifier_type, column in lookups %}
        left join (
            select
                identifier_value,
                person_id
            from {{ person_map }}
            where identifier_type = '{{ identifier_type }}'
        ) as {{ alias }}
            on {{ combinations }}.{{ column }} = {{ alias }}.identifier_value
    {%- endfor %}
{%- endmacro %}
