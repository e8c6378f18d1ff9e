{{ config(severity='error', meta={'dagster': {'ref': {'name': 'mlr_plan_year'}}}) }}
-- mlr_plan_year totals equal the plan_month totals without the UNKNOWN plan.
with plan_month as (
    select sum(member_months) as member_months, sum(premium_earned) as premium, sum(claims_paid) as paid
    from {{ ref('plan_month') }}
    where hios_plan_id <> 'UNKNOWN'
),

mlr as (
    select sum(member_months) as member_months, sum(premium_earned) as premium, sum(claims_paid) as paid
    from {{ ref('mlr_plan_year') }}
)

select *
from plan_month as p
cross join mlr as m
where coalesce(p.member_months, 0) <> coalesce(m.member_months, 0)
   or coalesce(p.premium, 0) <> coalesce(m.premium, 0)
   or coalesce(p.paid, 0) <> coalesce(m.paid, 0)
