{{ config(
    materialized='incremental',
    replace_key='month',
    replace_also=[{'column': 'month', 'work': 'int_months_touched'}],
    rebuild_if_changed=['members', 'plans']
) }}
-- depends_on: {{ ref('dim_plan') }}, {{ ref('fct_member_months') }}, {{ ref('int_claims_by_cell') }}, {{ ref('int_spread_claim_cells') }}, {{ ref('warehouse_as_of') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_months_touched') }}
-- Utilization per 1,000 by month and metal tier: distinct claims / member months * 12,000, with
-- member months, claim lines, claims paid and PMPM. metal_tier is the plan's for the month (as
-- in plan_month); 'UNKNOWN' for the unknown plan and plan years missing from the catalog.
-- Months up to the as-of month with member months or counted claim lines. Claims come from the
-- per-cell pre-aggregates, like plan_month.
-- Refresh: incremental by month, like plan_month.
{%- set all_rows = rebuild_all() %}
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

member_months as (
    select m.month, coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier, count(*) as member_months
    from {{ ref('fct_member_months') }} as m
    {{ plan_month_attributes_join('attrs', 'm.hios_plan_id', 'm.month') }}
    {% if not all_rows %}where m.month in (select month from {{ ref('int_months_touched') }}){% endif %}
    group by m.month, coalesce(attrs.metal_tier, 'UNKNOWN')
),

claim_cells as (
    select c.*, coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier
    from {{ ref('int_claims_by_cell') }} as c
    cross join as_of
    {{ plan_month_attributes_join('attrs', 'c.hios_plan_id', 'c.month') }}
    where c.month <= as_of.as_of_month
    {% if not all_rows %}and c.month in (select month from {{ ref('int_months_touched') }}){% endif %}
),

spread_claims as (
    select s.month, coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier, count(distinct s.claim_id) as spread_claims
    from {{ ref('int_spread_claim_cells') }} as s
    cross join as_of
    {{ plan_month_attributes_join('attrs', 's.hios_plan_id', 's.month') }}
    where s.month <= as_of.as_of_month
    {% if not all_rows %}and s.month in (select month from {{ ref('int_months_touched') }}){% endif %}
    group by s.month, coalesce(attrs.metal_tier, 'UNKNOWN')
),

claims as (
    select
        c.month,
        c.metal_tier,
        sum(c.single_cell_claims) + coalesce(max(sc.spread_claims), 0) as distinct_claims,
        sum(c.claim_lines) as claim_lines,
        sum(c.paid) as claims_paid
    from claim_cells as c
    left join spread_claims as sc on sc.month = c.month and sc.metal_tier = c.metal_tier
    group by c.month, c.metal_tier
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

select {{ contract_columns() }}
from final
