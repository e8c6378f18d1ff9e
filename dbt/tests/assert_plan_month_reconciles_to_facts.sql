{{ config(severity='error', meta={'dagster': {'ref': {'name': 'plan_month'}}}) }}
-- plan_month reconciles to the core facts month by month: claims paid and allowed (current
-- lines by service month), premium earned (by coverage month) and member months, all up to the
-- as-of month. (Plan-months left out hold only REVERSED lines, which carry 0.)
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

facts as (
    select month, sum(paid) as paid, sum(allowed) as allowed, sum(premium) as premium, sum(member_months) as member_months
    from (
        select service_month as month, paid_amount as paid, allowed_amount as allowed, 0 as premium, 0 as member_months
        from {{ ref('fct_claim_lines') }}
        union all
        select coverage_month, 0, 0, premium_billed, 0 from {{ ref('fct_premiums') }}
        union all
        select month, 0, 0, 0, 1 from {{ ref('fct_member_months') }}
    ) as f
    cross join as_of
    where f.month <= as_of.as_of_month
    group by month
),

mart as (
    select month, sum(claims_paid) as paid, sum(claims_allowed) as allowed, sum(premium_earned) as premium,
           sum(member_months) as member_months
    from {{ ref('plan_month') }}
    group by month
)

select coalesce(f.month, m.month) as month, f.paid as fact_paid, m.paid as mart_paid
from facts as f
full outer join mart as m on m.month = f.month
where coalesce(f.paid, 0) <> coalesce(m.paid, 0)
   or coalesce(f.allowed, 0) <> coalesce(m.allowed, 0)
   or coalesce(f.premium, 0) <> coalesce(m.premium, 0)
   or coalesce(f.member_months, 0) <> coalesce(m.member_months, 0)
