{{ config(
    materialized='incremental',
    replace_key='month',
    replace_also=[{'column': 'month', 'work': 'int_months_touched'}],
    rebuild_if_changed=['members', 'plans']
) }}
-- depends_on: {{ ref('dim_plan') }}, {{ ref('fct_member_months') }}, {{ ref('fct_premiums') }}, {{ ref('int_claims_by_cell') }}, {{ ref('int_spread_claim_cells') }}, {{ ref('warehouse_as_of') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_months_touched') }}
-- Plan x month: members, premium, claims and their ratios (MARTS.md "Shared definitions").
-- Rows: every plan and month, up to and including the as-of month, with member months > 0,
-- at least one current premium row, or at least one current non-REVERSED claim line.
-- Claims come from the per-cell pre-aggregates (int_claims_by_cell: sums and single-cell
-- claims; int_spread_claim_cells: claims spread over several cells, counted distinctly).
-- Refresh: incremental by month: a run recomputes the months in int_months_touched; a change of
-- member or plan snapshots (member months, plan attributes) recomputes every month.
{%- set all_rows = rebuild_all() %}
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

months as (
    {% if all_rows %}
    select distinct month from {{ ref('int_claims_by_cell') }}
    union
    select distinct month from {{ ref('fct_member_months') }}
    union
    select distinct coverage_month from {{ ref('fct_premiums') }}
    {% else %}
    select month from {{ ref('int_months_touched') }}
    {% endif %}
),

member_months as (
    select month, hios_plan_id, count(*) as member_months
    from {{ ref('fct_member_months') }}
    {% if not all_rows %}where month in (select month from months){% endif %}
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
    {% if not all_rows %}and p.coverage_month in (select month from months){% endif %}
    group by p.coverage_month, p.hios_plan_id
),

claim_cells as (
    select c.*
    from {{ ref('int_claims_by_cell') }} as c
    cross join as_of
    where c.month <= as_of.as_of_month
    {% if not all_rows %}and c.month in (select month from months){% endif %}
),

spread_claims as (
    select s.month, s.hios_plan_id, count(distinct s.claim_id) as spread_claims
    from {{ ref('int_spread_claim_cells') }} as s
    cross join as_of
    where s.month <= as_of.as_of_month
    {% if not all_rows %}and s.month in (select month from months){% endif %}
    group by s.month, s.hios_plan_id
),

claims as (
    select
        c.month,
        c.hios_plan_id,
        sum(c.paid) as claims_paid,
        sum(c.allowed) as claims_allowed,
        sum(c.claim_lines) as claim_lines,
        sum(c.single_cell_claims) as single_cell_claims
    from claim_cells as c
    group by c.month, c.hios_plan_id
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
        cast(coalesce(cl.single_cell_claims, 0) + coalesce(sc.spread_claims, 0) as integer) as distinct_claims,
        {{ safe_ratio('coalesce(cl.claims_paid, 0)', 'mm.member_months') }} as pmpm_paid,
        {{ safe_ratio('coalesce(cl.claims_paid, 0)', 'pr.premium_earned') }} as loss_ratio,
        {{ safe_ratio('coalesce(cl.single_cell_claims, 0) + coalesce(sc.spread_claims, 0)', 'mm.member_months', 12000) }}
            as utilization_per_1000
    from plan_months as pm
    left join member_months as mm on mm.month = pm.month and mm.hios_plan_id = pm.hios_plan_id
    left join premiums as pr on pr.month = pm.month and pr.hios_plan_id = pm.hios_plan_id
    left join claims as cl on cl.month = pm.month and cl.hios_plan_id = pm.hios_plan_id
    left join spread_claims as sc on sc.month = pm.month and sc.hios_plan_id = pm.hios_plan_id
    {{ plan_month_attributes_join('attrs', 'pm.hios_plan_id', 'pm.month') }}
)

select {{ contract_columns() }}
from final
