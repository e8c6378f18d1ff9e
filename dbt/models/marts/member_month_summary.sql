{{ config(
    materialized='incremental',
    replace_key=['member_key', 'month'],
    replace_also=[
        {'column': 'member_key', 'work': 'int_members_touched'},
        {'column': 'month', 'work': 'int_months_entering_as_of'},
    ],
    rebuild_if_changed=['members', 'plans']
) }}
-- depends_on: {{ ref('dim_plan') }}, {{ ref('fct_claim_lines') }}, {{ ref('fct_member_months') }}, {{ ref('fct_premiums') }}, {{ ref('warehouse_as_of') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_members_touched') }}, {{ ref('int_months_entering_as_of') }}
-- One row per member (pseudonymous member_key) and month up to the as-of month in which the
-- member was covered, was billed premium (as subscriber) or had a claim line in service:
-- coverage plan and metal tier, premium earned, claims paid, claim lines, distinct claims.
-- Refresh: incremental: every month of the members in int_members_touched, and the months that
-- entered the as-of window for every member; a change of member or plan snapshots (member keys,
-- plan attributes) rebuilds every row.
{%- set all_rows = rebuild_all() %}

with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

work_members as (
    select member_key from {{ ref('int_members_touched') }}
),

work_months as (
    select month from {{ ref('int_months_entering_as_of') }}
),

coverage as (
    select member_key, month, hios_plan_id
    from {{ ref('fct_member_months') }}
    {% if not all_rows %}
    where member_key in (select member_key from work_members) or month in (select month from work_months)
    {% endif %}
),

premiums as (
    select p.member_key, p.coverage_month as month, sum(p.premium_billed) as premium_earned
    from {{ ref('fct_premiums') }} as p
    cross join as_of
    where p.coverage_month <= as_of.as_of_month
    {% if not all_rows %}
      and (
          p.member_key in (select member_key from work_members)
          or p.coverage_month in (select month from work_months)
      )
    {% endif %}
    group by p.member_key, p.coverage_month
),

claims as (
    select
        c.member_key,
        c.service_month as month,
        sum(c.paid_amount) as claims_paid,
        sum(case when c.is_counted_line then 1 else 0 end) as claim_lines,
        count(distinct case when c.is_counted_line then c.claim_id end) as distinct_claims
    from {{ ref('fct_claim_lines') }} as c
    cross join as_of
    where c.service_month <= as_of.as_of_month
    {% if not all_rows %}
      and (
          c.member_key in (select member_key from work_members)
          or c.service_month in (select month from work_months)
      )
    {% endif %}
    group by c.member_key, c.service_month
),

keys as (
    select member_key, month from coverage
    union
    select member_key, month from premiums
    union
    select member_key, month from claims
),

final as (
    select
        k.member_key,
        k.month,
        cv.member_key is not null as is_covered,
        cv.hios_plan_id as coverage_hios_plan_id,
        attrs.metal_tier as coverage_metal_tier,
        {{ money('coalesce(pr.premium_earned, 0)') }} as premium_earned,
        {{ money('coalesce(cl.claims_paid, 0)') }} as claims_paid,
        cast(coalesce(cl.claim_lines, 0) as integer) as claim_lines,
        cast(coalesce(cl.distinct_claims, 0) as integer) as distinct_claims
    from keys as k
    left join coverage as cv on cv.member_key = k.member_key and cv.month = k.month
    left join premiums as pr on pr.member_key = k.member_key and pr.month = k.month
    left join claims as cl on cl.member_key = k.member_key and cl.month = k.month
    {{ plan_month_attributes_join('attrs', 'cv.hios_plan_id', 'k.month') }}
)

select {{ contract_columns() }}
from final
