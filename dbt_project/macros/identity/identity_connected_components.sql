{#- Connected components of the identity graph by iterative label propagation.

    Every node starts labelled with its own index (nodes are numbered in sort
    order, so the smallest label of a component is its smallest node). Each round:
      1. a node takes the smallest label among itself and its neighbours;
      2. hooking: the node its old label points at takes the smallest label any
         of its followers just proposed;
      3. pointer jumping: a node takes its label's label (shortcutting).
    Labels only shrink and always name a node of the same component, so when a
    round changes nothing every component carries its smallest node. Steps 2
    and 3 make long chains converge in O(log n) rounds instead of O(n).

    The loop runs only while dbt executes models (run/build). It keeps narrow
    working tables (two integer columns per node, one per directed edge) next to
    the model, created with the adapter's own `create table ... as`, counts the
    labels that changed in each round, logs progress and stops when nothing
    changed or after var atc__max_identity_iterations rounds. The model's post
    hooks drop the working tables. Under parsing, `dbt compile` or a linter it
    returns a query of the same shape (every node its own component, not
    converged) without touching the warehouse. -#}

{% macro identity_working_relation(model_relation, name) -%}
    {{ return(api.Relation.create(
        database=model_relation.database,
        schema=model_relation.schema,
        identifier=model_relation.identifier ~ '__' ~ name,
        type='table',
    )) }}
{%- endmacro %}

{% macro identity_working_table_names() -%}
    {{ return(['node_index', 'adjacency', 'labels_a', 'labels_b']) }}
{%- endmacro %}

{#- One post-hook statement per working table (one statement each, for engines
    that run a single statement per call). -#}
{% macro identity_drop_working_table(model_relation, name) -%}
    drop table if exists {{ journey_atc.identity_working_relation(model_relation, name) }}
{%- endmacro %}

{% macro identity_connected_components(nodes, edges, overlinked, model_relation) -%}
    {%- set max_iterations = var('atc__max_identity_iterations', 40) | int -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {{ return(journey_atc.identity_propagate_labels(nodes, edges, overlinked, model_relation, max_iterations)) }}
    {%- else -%}
        {{ return(journey_atc.identity_components_placeholder(nodes, overlinked)) }}
    {%- endif -%}
{%- endmacro %}

{% macro identity_components_placeholder(nodes, overlinked) -%}
    select
        nodes.node,
        nodes.node as component_id,
        0 as iterations,
        false as is_converged
    from {{ nodes }} as nodes
    left join {{ overlinked }} as overlinked
        on nodes.node = overlinked.node
    where overlinked.node is null
{%- endmacro %}

{% macro identity_propagate_labels(nodes, edges, overlinked, model_relation, max_iterations) -%}
    {%- set node_index = journey_atc.identity_working_relation(model_relation, 'node_index') -%}
    {%- set adjacency = journey_atc.identity_working_relation(model_relation, 'adjacency') -%}
    {%- set labels_a = journey_atc.identity_working_relation(model_relation, 'labels_a') -%}
    {%- set labels_b = journey_atc.identity_working_relation(model_relation, 'labels_b') -%}
    {%- for name in journey_atc.identity_working_table_names() -%}
        {%- do adapter.drop_relation(journey_atc.identity_working_relation(model_relation, name)) -%}
    {%- endfor -%}

    {#- Over-linked identifiers are left out of the graph entirely. -#}
    {%- set node_index_sql -%}
        select
            row_number() over (order by nodes.node) as node_key,
            nodes.node
        from {{ nodes }} as nodes
        left join {{ overlinked }} as overlinked
            on nodes.node = overlinked.node
        where overlinked.node is null
    {%- endset -%}
    {%- do run_query(get_create_table_as_sql(false, node_index, node_index_sql)) -%}

    {%- set adjacency_sql -%}
        with keyed as (
            select
                index_a.node_key as key_a,
                index_b.node_key as key_b
            from {{ edges }} as edges
            inner join {{ node_index }} as index_a
                on edges.node_a = index_a.node
            inner join {{ node_index }} as index_b
                on edges.node_b = index_b.node
        )
        select key_a as src, key_b as dst from keyed
        union all
        select key_b as src, key_a as dst from keyed
    {%- endset -%}
    {%- do run_query(get_create_table_as_sql(false, adjacency, adjacency_sql)) -%}

    {%- set labels_sql -%}
        select
            node_key,
            node_key as label,
            node_key as previous_label
        from {{ node_index }}
    {%- endset -%}
    {%- do run_query(get_create_table_as_sql(false, labels_a, labels_sql)) -%}

    {%- set state = {'labels': labels_a, 'iterations': 0, 'changed': none} -%}
    {%- for round_number in range(1, max_iterations + 1) -%}
        {%- set source = labels_a if round_number % 2 == 1 else labels_b -%}
        {%- set target = labels_b if round_number % 2 == 1 else labels_a -%}
        {%- do run_query(get_create_table_as_sql(false, target, journey_atc.identity_label_round_sql(source, adjacency))) -%}
        {%- set changed_query -%}
            select count(*) as changed from {{ target }} where label <> previous_label
        {%- endset -%}
        {%- set changed = run_query(changed_query).columns[0].values()[0] | int -%}
        {%- do adapter.drop_relation(source) -%}
        {%- do state.update({'labels': target, 'iterations': round_number, 'changed': changed}) -%}
        {%- do log(
            'identity components: round ' ~ round_number ~ ' of at most ' ~ max_iterations
                ~ ', ' ~ changed ~ ' labels changed',
            info=true,
        ) -%}
        {%- if changed == 0 -%}
            {%- break -%}
        {%- endif -%}
    {%- endfor -%}

    {%- set converged = state['changed'] == 0 -%}
    {%- if not converged -%}
        {%- do log(
            'identity components DID NOT CONVERGE: ' ~ state['changed'] ~ ' labels still changed in round '
                ~ state['iterations'] ~ ' (atc__max_identity_iterations = ' ~ max_iterations
                ~ '); components are incomplete, raise atc__max_identity_iterations',
            info=true,
        ) -%}
    {%- endif -%}

    {%- set final_sql -%}
        select
            members.node,
            roots.node as component_id,
            {{ state['iterations'] }} as iterations,
            {{ 'true' if converged else 'false' }} as is_converged
        from {{ state['labels'] }} as labels
        inner join {{ node_index }} as members
            on labels.node_key = members.node_key
        inner join {{ node_index }} as roots
            on labels.label = roots.node_key
    {%- endset -%}
    {{ return(final_sql) }}
{%- endmacro %}

{#- One round over the labels in `source`: neighbour minimum, hooking, pointer jumping. -#}
{% macro identity_label_round_sql(source, adjacency) -%}
    with labels as (
        select
            node_key,
            label
        from {{ source }}
    ),

    neighbour_minimum as (
        select
            adjacency.src as node_key,
            min(labels.label) as label
        from {{ adjacency }} as adjacency
        inner join labels
            on adjacency.dst = labels.node_key
        group by adjacency.src
    ),

    proposed as (
        select
            labels.node_key,
            labels.label as previous_label,
            case
                when neighbour_minimum.label < labels.label then neighbour_minimum.label
                else labels.label
            end as label
        from labels
        left join neighbour_minimum
            on labels.node_key = neighbour_minimum.node_key
    ),

    hooked as (
        select
            previous_label as node_key,
            min(label) as label
        from proposed
        group by previous_label
    ),

    after_hooking as (
        select
            proposed.node_key,
            proposed.previous_label,
            case
                when hooked.label < proposed.label then hooked.label
                else proposed.label
            end as label
        from proposed
        left join hooked
            on proposed.node_key = hooked.node_key
    )

    select
        after_hooking.node_key,
        case
            when parent.label < after_hooking.label then parent.label
            else after_hooking.label
        end as label,
        after_hooking.previous_label
    from after_hooking
    inner join after_hooking as parent
        on after_hooking.label = parent.node_key
{%- endmacro %}
