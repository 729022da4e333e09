{{ config(severity='error') }}

-- Fails when label propagation stopped at atc__max_identity_iterations before
-- every label settled: the components (and every person_id built on them) would
-- be incomplete. One row per component that is not known to be complete.
with

components as (
    select * from {{ ref('int_identity__components') }}
),

unconverged as (
    select
        component_id,
        max(iterations) as iterations,
        count(*) as node_count
    from components
    where not is_converged
    group by component_id
),

final as (
    select
        component_id,
        iterations,
        node_count,
        {{ dbt.concat([
            "'identity components did not converge after '",
            "cast(iterations as " ~ dbt.type_string() ~ ")",
            "' rounds: raise var atc__max_identity_iterations (now "
                ~ var('atc__max_identity_iterations', 40) ~ ")'",
        ]) }} as failure_reason
    from unconverged
)

select * from final
