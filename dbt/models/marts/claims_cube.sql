-- depends_on: {{ ref('dim_plan') }}, {{ ref('int_claims_by_cell') }}, {{ ref('int_spread_claim_cells') }}, {{ ref('plan_month') }}, {{ ref('warehouse_as_of') }}
-- OLAP cube of current claim lines: CUBE over (month, metal_tier, state, claim_type, specialty),
-- all 32 grouping sets. A null dimension means "all"; grouping_id says which are aggregated
-- (bit 16 month, 8 metal_tier, 4 state, 2 claim_type, 1 specialty; 0 = finest, 31 = grand
-- total). Plans without a metal tier or state (the UNKNOWN plan, plan years missing from the
-- catalog) show 'UNKNOWN' there, so that null keeps meaning "all".
-- month is the service month; metal_tier and state are the plan's for that month (as in
-- plan_month). member_months is filled where meaningful -- grouping sets that aggregate over
-- claim_type and specialty (grouping_id % 4 = 3) -- and null elsewhere.
-- Built from small pre-aggregates, never from claim lines: int_claims_by_cell (sums and the
-- claims counted in one cell only, which add up across cells), int_spread_claim_cells (claims
-- counted in several cells, counted distinctly per grouping set) and plan_month (member months).
-- Refresh: rebuilt on each run (its size is cells, not lines).
with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

claim_cells as (
    select
        cells.month,
        coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier,
        coalesce(attrs.state, 'UNKNOWN') as state,
        cells.claim_type,
        cells.specialty,
        cells.claim_lines,
        cells.single_cell_claims,
        cells.billed,
        cells.allowed,
        cells.paid
    from {{ ref('int_claims_by_cell') }} as cells
    cross join as_of
    {{ plan_month_attributes_join('attrs', 'cells.hios_plan_id', 'cells.month') }}
    where cells.month <= as_of.as_of_month
),

spread_cells as (
    select
        cells.month,
        coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier,
        coalesce(attrs.state, 'UNKNOWN') as state,
        cells.claim_type,
        cells.specialty,
        cells.claim_id
    from {{ ref('int_spread_claim_cells') }} as cells
    cross join as_of
    {{ plan_month_attributes_join('attrs', 'cells.hios_plan_id', 'cells.month') }}
    where cells.month <= as_of.as_of_month
),

member_months as (
    select
        month,
        coalesce(metal_tier, 'UNKNOWN') as metal_tier,
        coalesce(state, 'UNKNOWN') as state,
        member_months
    from {{ ref('plan_month') }}
    where member_months > 0
),

claims_cube as (
    select
        {{ grouping_id(['month', 'metal_tier', 'state', 'claim_type', 'specialty']) }} as grouping_id,
        month,
        metal_tier,
        state,
        claim_type,
        specialty,
        sum(claim_lines) as claim_lines,
        sum(single_cell_claims) as distinct_claims,
        sum(billed) as billed,
        sum(allowed) as allowed,
        sum(paid) as paid
    from claim_cells
    group by cube (month, metal_tier, state, claim_type, specialty)
),

-- the claims counted in several rows: their distinct count per cell, added to the sum above
spread_claims_cube as (
    select
        {{ grouping_id(['month', 'metal_tier', 'state', 'claim_type', 'specialty']) }} as grouping_id,
        month,
        metal_tier,
        state,
        claim_type,
        specialty,
        count(distinct claim_id) as distinct_claims
    from spread_cells
    group by cube (month, metal_tier, state, claim_type, specialty)
),

member_month_cube as (
    select
        {{ grouping_id(['month', 'metal_tier', 'state']) }} * 4 + 3 as grouping_id,
        month,
        metal_tier,
        state,
        sum(member_months) as member_months
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
        grouping_id, month, metal_tier, state, cast(null as {{ text_type() }}), cast(null as {{ text_type() }}),
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
