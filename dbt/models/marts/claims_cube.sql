-- OLAP cube of current claim lines: CUBE over (month, metal_tier, state, claim_type, specialty),
-- all 32 grouping sets. A null dimension means "all"; grouping_id says which are aggregated
-- (bit 16 month, 8 metal_tier, 4 state, 2 claim_type, 1 specialty; 0 = finest, 31 = grand
-- total). Plans without a metal tier or state (the UNKNOWN plan, plan years missing from the
-- catalog) show 'UNKNOWN' there, so that null keeps meaning "all".
-- month is the service month; metal_tier and state are the plan's for that month (as in
-- plan_month). member_months is filled where meaningful -- grouping sets that aggregate over
-- claim_type and specialty (grouping_id % 4 = 3) -- and null elsewhere.
-- Refresh: full rebuild on each run.
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

-- One row per claim and finest cell. The plan attributes depend only on (plan, month), so they
-- are joined after this first aggregation, on far fewer rows than claim lines.
claim_cells_by_plan as (
    select
        c.service_month as month,
        c.hios_plan_id,
        c.claim_type,
        c.servicing_specialty as specialty,
        c.claim_id,
        sum(case when c.is_counted_line then 1 else 0 end) as claim_lines,
        max(case when c.is_counted_line then 1 else 0 end) as has_counted_line,
        sum(c.billed_amount) as billed,
        sum(c.allowed_amount) as allowed,
        sum(c.paid_amount) as paid
    from {{ ref('fct_claim_lines') }} as c
    cross join as_of
    where c.service_month <= as_of.as_of_month
    group by c.service_month, c.hios_plan_id, c.claim_type, c.servicing_specialty, c.claim_id
),

-- counted_cells: in how many rows of its claim the claim has a counted line. A claim counted in
-- exactly one row adds 1 to distinct_claims in every cell that row rolls up to, so a plain sum
-- is exact for it; only claims counted in several rows (lines of several months, specialties or
-- plans) need count(distinct) per grouping set, which is what made this cube slow at scale.
claim_cells as (
    select
        cells.month,
        coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier,
        coalesce(attrs.state, 'UNKNOWN') as state,
        cells.claim_type,
        cells.specialty,
        cells.claim_id,
        cells.claim_lines,
        cells.has_counted_line,
        sum(cells.has_counted_line) over (partition by cells.claim_id) as counted_cells,
        cells.billed,
        cells.allowed,
        cells.paid
    from claim_cells_by_plan as cells
    {{ plan_month_attributes_join('attrs', 'cells.hios_plan_id', 'cells.month') }}
),

member_months as (
    select
        m.month,
        coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier,
        coalesce(attrs.state, 'UNKNOWN') as state
    from {{ ref('fct_member_months') }} as m
    {{ plan_month_attributes_join('attrs', 'm.hios_plan_id', 'm.month') }}
),

claims_cube as (
    select
        cast(grouping(month, metal_tier, state, claim_type, specialty) as integer) as grouping_id,
        month,
        metal_tier,
        state,
        claim_type,
        specialty,
        sum(claim_lines) as claim_lines,
        sum(case when has_counted_line = 1 and counted_cells = 1 then 1 else 0 end) as distinct_claims,
        sum(billed) as billed,
        sum(allowed) as allowed,
        sum(paid) as paid
    from claim_cells
    group by cube (month, metal_tier, state, claim_type, specialty)
),

-- the claims counted in several rows: their distinct count per cell, added to the sum above
spread_claims_cube as (
    select
        cast(grouping(month, metal_tier, state, claim_type, specialty) as integer) as grouping_id,
        month,
        metal_tier,
        state,
        claim_type,
        specialty,
        count(distinct claim_id) as distinct_claims
    from claim_cells
    where has_counted_line = 1 and counted_cells > 1
    group by cube (month, metal_tier, state, claim_type, specialty)
),

member_month_cube as (
    select
        cast(grouping(month, metal_tier, state) as integer) * 4 + 3 as grouping_id,
        month,
        metal_tier,
        state,
        count(*) as member_months
    from member_months
    group by cube (month, metal_tier, state)
),

combined as (
    select
        grouping_id, month, metal_tier, state, claim_type, specialty,
        claim_lines, distinct_claims, billed, allowed, paid, cast(null as bigint) as member_months
    from claims_cube
    union all
    select
        grouping_id, month, metal_tier, state, claim_type, specialty,
        0, distinct_claims, 0, 0, 0, cast(null as bigint)
    from spread_claims_cube
    union all
    select
        grouping_id, month, metal_tier, state, cast(null as varchar), cast(null as varchar),
        0, 0, 0, 0, 0, member_months
    from member_month_cube
),

final as (
    select
        grouping_id,
        month,
        metal_tier,
        state,
        claim_type,
        specialty,
        cast(sum(claim_lines) as integer) as claim_lines,
        cast(sum(distinct_claims) as integer) as distinct_claims,
        {{ money('sum(billed)') }} as billed,
        {{ money('sum(allowed)') }} as allowed,
        {{ money('sum(paid)') }} as paid,
        case when grouping_id % 4 = 3 then cast(coalesce(sum(member_months), 0) as integer) end as member_months,
        case
            when grouping_id % 4 = 3
                then {{ safe_ratio('sum(paid)', 'sum(member_months)') }}
        end as pmpm_paid
    from combined
    group by grouping_id, month, metal_tier, state, claim_type, specialty
)

select * from final
