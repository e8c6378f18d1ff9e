-- Simplified medical loss ratio per issuer, state and plan year: the plan_month rows (the
-- UNKNOWN plan excluded) summed by (issuer_id, state, plan_year); mlr = claims paid / premium
-- earned. The regulatory MLR (45 CFR 158) also adds quality-improvement spending, subtracts
-- taxes and fees, and averages three years; this one does not.
-- Refresh: full rebuild from plan_month on each run.
with plan_month as (
    select * from {{ ref('plan_month') }}
    where hios_plan_id <> 'UNKNOWN'
),

final as (
    select
        issuer_id,
        state,
        plan_year,
        cast(sum(member_months) as integer) as member_months,
        {{ money('sum(premium_earned)') }} as premium_earned,
        {{ money('sum(aptc_earned)') }} as aptc_earned,
        {{ money('sum(claims_paid)') }} as claims_paid,
        {{ money('sum(claims_allowed)') }} as claims_allowed,
        {{ safe_ratio('sum(claims_paid)', 'sum(premium_earned)') }} as mlr
    from plan_month
    group by issuer_id, state, plan_year
)

select * from final
