{{ config(
    materialized='incremental',
    replace_key='month',
    replace_also=[{'column': 'month', 'work': 'int_months_touched'}]
) }}
-- depends_on: {{ ref('int_claim_cells_touched') }}
-- depends_on: {{ ref('int_months_touched') }}
-- Claims pre-aggregated per cell (service month, plan, claim type, servicing specialty): the
-- small table plan_month, utilization_month and claims_cube aggregate instead of claim lines.
-- claim_lines, billed, allowed and paid sum the current lines; single_cell_claims counts the
-- claims counted only in this cell. Distinct claims of any set of cells = the sum of their
-- single_cell_claims + the distinct spread claims among them (int_spread_claim_cells).
-- Incremental: a run rebuilds the months in int_months_touched.
with claim_cells as (
    select * from {{ ref('int_claim_cells_touched') }}
    {% if is_incremental() %}
    where month in (select month from {{ ref('int_months_touched') }})
    {% endif %}
),

final as (
    select
        month,
        hios_plan_id,
        claim_type,
        specialty,
        cast(sum(claim_lines) as integer) as claim_lines,
        cast(sum(case when has_counted_line = 1 and counted_cells = 1 then 1 else 0 end) as integer)
            as single_cell_claims,
        {{ money('sum(billed)') }} as billed,
        {{ money('sum(allowed)') }} as allowed,
        {{ money('sum(paid)') }} as paid
    from claim_cells
    group by month, hios_plan_id, claim_type, specialty
)

select * from final
