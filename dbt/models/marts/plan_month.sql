-- Plan x month: members, premium, claims and their ratios (MARTS.md "Shared definitions").
-- Rows: every plan and month, up to and including the as-of month, with member months > 0,
-- at least one current premium row, or at least one current non-REVERSED claim line.
-- Refresh: full rebuild from the core facts on each run (a few rows per plan and month).
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

member_months as (
    select month, hios_plan_id, count(*) as member_months
    from {{ ref('fct_member_months') }}
    group by month, hios_plan_id
),

premiums as (
    select
        p.coverage_month as month,
        p.hios_plan_id,
        sum(p.premium_billed) as premium_earned,
        sum(p.aptc_amount) as aptc_earned
    from {{ ref('fct_premiums') }} as p
    cross join as_of
    where p.coverage_month <= as_of.as_of_month
    group by p.coverage_month, p.hios_plan_id
),

claims as (
    select
        c.service_month as month,
        c.hios_plan_id,
        sum(c.paid_amount) as claims_paid,
        sum(c.allowed_amount) as claims_allowed,
        sum(case when c.is_counted_line then 1 else 0 end) as claim_lines,
        count(distinct case when c.is_counted_line then c.claim_id end) as distinct_claims
    from {{ ref('fct_claim_lines') }} as c
    cross join as_of
    where c.service_month <= as_of.as_of_month
    group by c.service_month, c.hios_plan_id
),

plan_months as (
    select month, hios_plan_id from member_months where member_months > 0
    union
    select month, hios_plan_id from premiums
    union
    select month, hios_plan_id from claims where claim_lines > 0
),

final as (
    select
        pm.month,
        pm.hios_plan_id,
        {{ year_of('pm.month') }} as plan_year,
        case when pm.hios_plan_id = 'UNKNOWN' then null else left(pm.hios_plan_id, 5) end as issuer_id,
        attrs.metal_tier,
        attrs.state,
        cast(coalesce(mm.member_months, 0) as integer) as member_months,
        {{ money('coalesce(pr.premium_earned, 0)') }} as premium_earned,
        {{ money('coalesce(pr.aptc_earned, 0)') }} as aptc_earned,
        {{ money('coalesce(cl.claims_paid, 0)') }} as claims_paid,
        {{ money('coalesce(cl.claims_allowed, 0)') }} as claims_allowed,
        cast(coalesce(cl.claim_lines, 0) as integer) as claim_lines,
        cast(coalesce(cl.distinct_claims, 0) as integer) as distinct_claims,
        {{ safe_ratio('coalesce(cl.claims_paid, 0)', 'mm.member_months') }} as pmpm_paid,
        {{ safe_ratio('coalesce(cl.claims_paid, 0)', 'pr.premium_earned') }} as loss_ratio,
        {{ safe_ratio('coalesce(cl.distinct_claims, 0)', 'mm.member_months', 12000) }} as utilization_per_1000
    from plan_months as pm
    left join member_months as mm on mm.month = pm.month and mm.hios_plan_id = pm.hios_plan_id
    left join premiums as pr on pr.month = pm.month and pr.hios_plan_id = pm.hios_plan_id
    left join claims as cl on cl.month = pm.month and cl.hios_plan_id = pm.hios_plan_id
    {{ plan_month_attributes_join('attrs', 'pm.hios_plan_id', 'pm.month') }}
)

select * from final
