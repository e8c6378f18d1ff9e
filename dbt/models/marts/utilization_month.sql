-- Utilization per 1,000 by month and metal tier: distinct claims / member months * 12,000, with
-- member months, claim lines, claims paid and PMPM. metal_tier is the plan's for the month (as
-- in plan_month); 'UNKNOWN' for the unknown plan and plan years missing from the catalog.
-- Months up to the as-of month with member months or counted claim lines.
-- Refresh: full rebuild on each run.
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

member_months as (
    select m.month, coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier, count(*) as member_months
    from {{ ref('fct_member_months') }} as m
    {{ plan_month_attributes_join('attrs', 'm.hios_plan_id', 'm.month') }}
    group by m.month, coalesce(attrs.metal_tier, 'UNKNOWN')
),

claims as (
    select
        c.service_month as month,
        coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier,
        count(distinct case when c.is_counted_line then c.claim_id end) as distinct_claims,
        sum(case when c.is_counted_line then 1 else 0 end) as claim_lines,
        sum(c.paid_amount) as claims_paid
    from {{ ref('fct_claim_lines') }} as c
    cross join as_of
    {{ plan_month_attributes_join('attrs', 'c.hios_plan_id', 'c.service_month') }}
    where c.service_month <= as_of.as_of_month
    group by c.service_month, coalesce(attrs.metal_tier, 'UNKNOWN')
),

keys as (
    select month, metal_tier from member_months
    union
    select month, metal_tier from claims where claim_lines > 0
),

final as (
    select
        k.month,
        k.metal_tier,
        cast(coalesce(mm.member_months, 0) as integer) as member_months,
        cast(coalesce(c.distinct_claims, 0) as integer) as distinct_claims,
        cast(coalesce(c.claim_lines, 0) as integer) as claim_lines,
        {{ money('coalesce(c.claims_paid, 0)') }} as claims_paid,
        {{ safe_ratio('coalesce(c.distinct_claims, 0)', 'mm.member_months', 12000) }} as utilization_per_1000,
        {{ safe_ratio('coalesce(c.claims_paid, 0)', 'mm.member_months') }} as pmpm_paid
    from keys as k
    left join member_months as mm on mm.month = k.month and mm.metal_tier = k.metal_tier
    left join claims as c on c.month = k.month and c.metal_tier = k.metal_tier
)

select * from final
