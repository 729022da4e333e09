{%- set as_of = journey_atc.as_of() -%}

with

prior_map as (
    select * from {{ ref('int_identity__prior_person_map') }}
),

touched_nodes as (
    select * from {{ ref('int_identity__touched_nodes') }}
),

-- only the components re-labelled in this run (every component on a full build)
components as (
    select components.*
    from {{ ref('int_identity__components') }} as components
    inner join touched_nodes
        on components.node = touched_nodes.node
),

-- how many of each prior person's nodes every new component holds
prior_overlaps as (
    select
        prior_map.person_id as prior_person_id,
        components.component_id,
        min(prior_map.person_created_at) as prior_person_created_at,
        count(*) as prior_node_count
    from prior_map
    inner join components
        on prior_map.node = components.node
    group by prior_map.person_id, components.component_id
),

-- a prior person_id is claimed by the component holding most of its nodes
ranked_claims as (
    select
        prior_person_id,
        component_id,
        prior_person_created_at,
        prior_node_count,
        row_number() over (
            partition by prior_person_id
            order by prior_node_count desc, component_id asc
        ) as claim_rank
    from prior_overlaps
),

claims as (
    select
        prior_person_id,
        component_id,
        prior_person_created_at
    from ranked_claims
    where claim_rank = 1
),

-- a component keeps the earliest-created person_id it claimed
ranked_survivors as (
    select
        component_id,
        prior_person_id,
        prior_person_created_at,
        row_number() over (
            partition by component_id
            order by prior_person_created_at asc, prior_person_id asc
        ) as survivor_rank
    from claims
),

survivors as (
    select
        component_id,
        prior_person_id as person_id,
        prior_person_created_at as person_created_at
    from ranked_survivors
    where survivor_rank = 1
),

component_list as (
    select component_id
    from components
    group by component_id
),

-- a component that claimed nothing is a new person
component_persons as (
    select
        component_list.component_id,
        coalesce(
            survivors.person_id,
            {{ dbt.concat([
                "'per_'",
                "substring(" ~ journey_atc.stable_hash(['component_list.component_id', as_of]) ~ ", 1, 20)",
            ]) }}
        ) as person_id,
        coalesce(survivors.person_created_at, {{ as_of }}) as person_created_at,
        survivors.person_id is null as is_new_person
    from component_list
    left join survivors
        on component_list.component_id = survivors.component_id
),

assignments as (
    select
        component_persons.component_id,
        component_persons.person_id,
        component_persons.person_created_at,
        component_persons.is_new_person,
        ranked_claims.prior_person_id,
        coalesce(ranked_claims.prior_node_count, 0) as prior_node_count,
        case
            when ranked_claims.prior_person_id is null then 'new'
            when ranked_claims.prior_person_id = component_persons.person_id then 'kept'
            when ranked_claims.claim_rank = 1 then 'merge'
            else 'split'
        end as assignment_type
    from component_persons
    left join ranked_claims
        on component_persons.component_id = ranked_claims.component_id
),

final as (
    select
        {{ journey_atc.stable_hash(['component_id', 'prior_person_id']) }} as assignment_id,
        component_id,
        person_id,
        person_created_at,
        is_new_person,
        prior_person_id,
        prior_node_count,
        assignment_type,
        {{ as_of }} as assigned_at
    from assignments
)

select * from final
