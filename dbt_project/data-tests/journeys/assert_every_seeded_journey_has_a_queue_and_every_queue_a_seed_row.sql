-- Registering a journey is one queue model (tag journey_queue) plus one row in
-- the journeys seed. Fails with a row per journey that has only one of the two.
with

journeys as (
    select * from {{ ref('journeys') }}
),

queue_models as (
    {{ journey_atc.journey_queue_models_sql() }}
),

seeded_without_queue as (
    select
        journeys.journey_id,
        'seeded journey has no queue model queue_' || journeys.journey_id as problem
    from journeys
    left join queue_models
        on journeys.journey_id = queue_models.journey_id
    where queue_models.journey_id is null
),

queue_without_seed as (
    select
        queue_models.journey_id,
        'queue model ' || queue_models.queue_model || ' has no row in the journeys seed' as problem
    from queue_models
    left join journeys
        on queue_models.journey_id = journeys.journey_id
    where journeys.journey_id is null
),

final as (
    select * from seeded_without_queue
    union all
    select * from queue_without_seed
)

select * from final
