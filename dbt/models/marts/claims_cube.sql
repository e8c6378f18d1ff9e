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

claim_lines as (
    select
        c.service_month as month,
        coalesce(attrs.metal_tier, 'UNKNOWN') as metal_tier,
        coalesce(attrs.state, 'UNKNOWN') as state,
        c.claim_type,
        c.servicing_specialty as specialty,
        c.claim_id,
        c.is_counted_line,
        c.billed_amount,
        c.allowed_amount,
        c.paid_amount
    from {{ ref('fct_claim_lines') }} as c
    cross join as_of
    {{ plan_month_attributes_join('attrs', 'c.hios_plan_id', 'c.service_month') }}
    where c.service_month <= as_of.as_of_month
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
        sum(case when is_counted_line then 1 else 0 end) as claim_lines,
        count(distinct case when is_counted_line then claim_id end) as distinct_claims,
        sum(billed_amount) as billed,
        sum(allowed_amount) as allowed,
        sum(paid_amount) as paid
    from claim_lines
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
