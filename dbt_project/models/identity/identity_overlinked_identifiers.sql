{%- set threshold = var('atc__max_identifier_links', 25) | int -%}
{%- set max_user_ids = var('atc__max_user_ids_per_identifier', 3) | int -%}

with

-- read twice below: named columns, or DuckDB would copy every column of the edges
-- (docs/incremental.md, "Written for DuckDB's planner")
edges as (
    select
        node_a,
        node_b
    from {{ ref('int_identity__edges') }}
),

-- both directions of every undirected edge: each row is one node and one of its links
endpoints as (
    select
        node_a as node,
        node_b as linked_node
    from edges
    union all
    select
        node_b as node,
        node_a as linked_node
    from edges
),

typed_endpoints as (
    select
        node,
        linked_node,
        {{ journey_atc.identity_node_type('node') }} as identifier_type,
        {{ journey_atc.identity_node_type('linked_node') }} as linked_identifier_type
    from endpoints
),

-- edges are distinct pairs, so counting rows counts distinct linked identifiers
link_counts as (
    select
        node,
        identifier_type,
        sum(
            case when linked_identifier_type <> identifier_type then 1 else 0 end
        ) as linked_identifier_count,
        sum(
            case when linked_identifier_type = 'user_id' then 1 else 0 end
        ) as linked_user_id_count
    from typed_endpoints
    group by node, identifier_type
),

overlinked as (
    select
        node,
        identifier_type,
        linked_identifier_count,
        linked_user_id_count
    from link_counts
    where
        linked_identifier_count > {{ threshold }}
        -- a device, browser, email or phone shared by several accounts
        -- (test@test.com, a box-office kiosk) is not one person
        or (identifier_type <> 'user_id' and linked_user_id_count > {{ max_user_ids }})
),

final as (
    select
        node,
        identifier_type,
        {{ journey_atc.identity_node_value('node') }} as identifier_value,
        linked_identifier_count,
        {{ threshold }} as threshold,
        case
            when linked_identifier_count > {{ threshold }}
                then {{ dbt.concat([
                    "node",
                    "' is linked to '",
                    "cast(linked_identifier_count as " ~ dbt.type_string() ~ ")",
                    "' identifiers of other types, more than the limit of " ~ threshold
                        ~ " (atc__max_identifier_links): it is treated as shared"
                        ~ " (a kiosk, a family tablet, a placeholder address) and links nobody'",
                ]) }}
            else {{ dbt.concat([
                "node",
                "' is used by '",
                "cast(linked_user_id_count as " ~ dbt.type_string() ~ ")",
                "' different accounts, more than the limit of " ~ max_user_ids
                    ~ " (atc__max_user_ids_per_identifier): it is treated as shared"
                    ~ " and links nobody'",
            ]) }}
        end as reason
    from overlinked
)

select * from final
