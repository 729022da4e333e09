{#- The one place the sync models read decisions from: one row per person in a
    journey whose current step the guardrails let through (send now, or defer
    to next_eligible_at), with the channel after fallback and the addresses the
    channel tools need. A step already planned by an earlier run (guardrail
    reason `duplicate`) keeps the row that run sent, so re-runs change nothing
    at the tools. Control-group members, silent enrichment and every other
    drop are left out, so mirror and audience syncs remove them.
    send_key is the decision's idempotency key when the row asks the tool to
    send (null for a deferral): the channel tools get it as the message id to
    report back, and the sync engine's acknowledgements carry it into the
    guardrails' ledger. -#}

with

decisions as (
    select * from {{ ref('guardrail_decisions') }}
),

decision_log as (
    select * from {{ ref('guardrail_decision_log') }}
),

assignments as (
    select * from {{ ref('journey_assignments') }}
),

profiles as (
    select * from {{ ref('profiles') }}
),

journeys as (
    select * from {{ ref('journeys') }}
),

earlier_sends as (
    select
        idempotency_key,
        channel,
        min(decided_at) as first_decided_at
    from decision_log
    where decision = 'send'
    group by idempotency_key, channel
),

earlier_send_per_key as (
    select
        idempotency_key,
        channel,
        row_number() over (
            partition by idempotency_key
            order by first_decided_at asc, channel asc
        ) as send_rank
    from earlier_sends
),

let_through as (
    select
        decisions.person_id,
        decisions.journey_id,
        decisions.idempotency_key,
        coalesce(decisions.channel, earlier_send_per_key.channel) as channel,
        case
            when decisions.reason_code = 'duplicate' then 'send'
            else decisions.decision
        end as decision,
        case
            when decisions.reason_code = 'duplicate' then 'ok'
            else decisions.reason_code
        end as reason_code,
        decisions.next_eligible_at
    from decisions
    left join earlier_send_per_key
        on
            decisions.idempotency_key = earlier_send_per_key.idempotency_key
            and earlier_send_per_key.send_rank = 1
    where
        decisions.decision in ('send', 'defer')
        or (decisions.decision = 'drop' and decisions.reason_code = 'duplicate')
),

messageable as (
    select
        let_through.person_id,
        let_through.journey_id,
        let_through.channel,
        let_through.decision,
        let_through.reason_code,
        case when let_through.decision = 'send' then let_through.idempotency_key end as send_key,
        assignments.entered_at,
        assignments.expected_end_at,
        assignments.context_key,
        assignments.context,
        -- a send may go from the step's start; a deferral names its own time
        coalesce(let_through.next_eligible_at, assignments.entered_at) as next_eligible_at
    from let_through
    inner join assignments
        on
            let_through.person_id = assignments.person_id
            and let_through.journey_id = assignments.journey_id
    where
        not assignments.is_holdout
        and let_through.channel is not null
),

with_profiles as (
    select
        messageable.*,
        profiles.primary_user_id as user_id,
        case when profiles.has_valid_email then profiles.email end as email,
        case when profiles.has_valid_phone then profiles.phone_e164 end as phone_e164,
        profiles.locale,
        profiles.timezone,
        journeys.journey_name
    from messageable
    inner join profiles
        on messageable.person_id = profiles.person_id
    left join journeys
        on messageable.journey_id = journeys.journey_id
),

final as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(phone_e164 as {{ dbt.type_string() }}) as phone_e164,
        cast(locale as {{ dbt.type_string() }}) as locale,  -- noqa: RF04
        cast(timezone as {{ dbt.type_string() }}) as timezone,  -- noqa: RF04
        cast(journey_id as {{ dbt.type_string() }}) as journey_id,
        cast(journey_name as {{ dbt.type_string() }}) as journey_name,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(decision as {{ dbt.type_string() }}) as decision,
        cast(reason_code as {{ dbt.type_string() }}) as reason_code,
        cast(send_key as {{ dbt.type_string() }}) as send_key,
        cast(entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        cast(expected_end_at as {{ dbt.type_timestamp() }}) as expected_end_at,
        cast(next_eligible_at as {{ dbt.type_timestamp() }}) as next_eligible_at,
        cast(context_key as {{ dbt.type_string() }}) as context_key,
        cast(context as {{ dbt.type_string() }}) as context
    from with_profiles
)

select * from final
