{{ config(materialized='table') }}

{#- Every queue model (tag journey_queue) is found in dbt's graph at execution
    time and read from here. dbt only orders models by the refs it sees while
    parsing, when the graph is still empty, so each queue is also named once
    below; a tagged queue missing from this list stops the run with the line
    to add, so a queue is never read before it is rebuilt. -#}
-- depends_on: {{ ref('queue_welcome') }}
-- depends_on: {{ ref('queue_abandoned_cart') }}
-- depends_on: {{ ref('queue_browse_abandonment') }}
-- depends_on: {{ ref('queue_pre_show') }}
-- depends_on: {{ ref('queue_pre_show_upsell') }}
-- depends_on: {{ ref('queue_post_purchase_cross_sell') }}
-- depends_on: {{ ref('queue_vip_loyalty') }}
-- depends_on: {{ ref('queue_win_back') }}
-- depends_on: {{ ref('queue_re_engagement') }}
-- depends_on: {{ ref('queue_category_education') }}

{%- set queues = journey_atc.journey_queue_models() -%}
{%- if execute -%}
    {%- for q in queues if q.unique_id not in model.depends_on.nodes -%}
        {{ exceptions.raise_compiler_error(
            "Journey queue model " ~ q.name ~ " is not declared in " ~ this.identifier
            ~ ".sql; add the line: -- depends_on: {{ ref('" ~ q.name ~ "') }}"
        ) }}
    {%- endfor -%}
{%- endif %}

with

-- only the people: read twice below, a `select *` would copy every column of
-- the profiles (docs/incremental.md, "Written for DuckDB's planner")
profiles as (
    select person_id from {{ ref('profiles') }}
),

queued as (
    {%- for q in queues %}
        select
            cast(person_id as {{ dbt.type_string() }}) as person_id,
            cast('{{ q.journey_id }}' as {{ dbt.type_string() }}) as journey_id,
            cast('{{ q.name }}' as {{ dbt.type_string() }}) as queue_model,
            cast(qualified_at as {{ dbt.type_timestamp() }}) as qualified_at,
            cast(entry_reason as {{ dbt.type_string() }}) as entry_reason,
            cast(relevance_score as double) as relevance_score,
            cast(urgency_score as double) as urgency_score,
            cast(event_at as {{ dbt.type_timestamp() }}) as event_at,
            cast(context_key as {{ dbt.type_string() }}) as context_key,
            cast(context as {{ dbt.type_string() }}) as context
        from {{ ref(q.name) }}
        where person_id is not null
        union all
    {%- endfor %}
    select
        cast(null as {{ dbt.type_string() }}) as person_id,
        cast(null as {{ dbt.type_string() }}) as journey_id,
        cast(null as {{ dbt.type_string() }}) as queue_model,
        cast(null as {{ dbt.type_timestamp() }}) as qualified_at,
        cast(null as {{ dbt.type_string() }}) as entry_reason,
        cast(null as double) as relevance_score,
        cast(null as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(null as {{ dbt.type_string() }}) as context_key,
        cast(null as {{ dbt.type_string() }}) as context
    where 1 = 0
),

prior_state as (
    select * from {{ ref('int_journey_prior_state') }}
),

-- people with a choice to make: in a queue, or in a journey that may end.
-- Everyone else would only get "none", chosen, with nothing to record: at
-- 1,000,000 people that was 0.74 M of the 1.7 M candidates every model after
-- this one scored, ranked and wrote again each run.
deciding as (
    select person_id from queued
    union
    select person_id from prior_state
    where is_active
),

-- the "no journey" option every such person has
no_journey as (
    select
        person_id,
        cast('none' as {{ dbt.type_string() }}) as journey_id,
        cast(null as {{ dbt.type_string() }}) as queue_model,
        cast(null as {{ dbt.type_timestamp() }}) as qualified_at,
        cast('No journey: nothing is sent.' as {{ dbt.type_string() }}) as entry_reason,
        cast(0 as double) as relevance_score,
        cast(0 as double) as urgency_score,
        cast(null as {{ dbt.type_timestamp() }}) as event_at,
        cast(null as {{ dbt.type_string() }}) as context_key,
        cast(null as {{ dbt.type_string() }}) as context
    from profiles
    where person_id in (select deciding.person_id from deciding)
),

-- queue rows for people the profiles do not know cannot be decided on
queued_known as (
    select queued.*
    from queued
    inner join profiles
        on queued.person_id = profiles.person_id
),

unioned as (
    select * from queued_known
    union all
    select * from no_journey
),

final as (
    select
        {{ journey_atc.stable_hash(['person_id', 'journey_id']) }} as candidate_id,
        person_id,
        journey_id,
        queue_model,
        qualified_at,
        entry_reason,
        relevance_score,
        urgency_score,
        event_at,
        context_key,
        context
    from unioned
)

select * from final
