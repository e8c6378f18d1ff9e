-- depends_on: {{ ref('fct_claim_lines') }}, {{ ref('int_months_touched') }}
-- Current claim lines aggregated per claim and cell -- a cell is (service month, plan, claim
-- type, servicing specialty) -- for the claims with a current line in a month of
-- int_months_touched (every claim on a first build or a full refresh). The claims pre-aggregates
-- (int_claims_by_cell, int_spread_claim_cells) are rebuilt from it for those months.
-- counted_cells: in how many cells the claim has a counted (non-REVERSED) line, over all its
-- lines: a claim counted in exactly one cell adds 1 to distinct_claims wherever that cell rolls
-- up to, so distinct claims add up; a claim counted in several cells is "spread" and must be
-- counted distinctly wherever its cells meet.
{%- set all_rows = flags.FULL_REFRESH or existing_relation('int_claims_by_cell') is none %}

with lines as (
    select *
    from {{ ref('fct_claim_lines') }}
    {% if not all_rows %}
    where claim_id in (
        select claim_id from {{ ref('fct_claim_lines') }}
        where service_month in (select month from {{ ref('int_months_touched') }})
    )
    {% endif %}
),

cells as (
    select
        service_month as month,
        hios_plan_id,
        claim_type,
        servicing_specialty as specialty,
        claim_id,
        sum(case when is_counted_line then 1 else 0 end) as claim_lines,
        max(case when is_counted_line then 1 else 0 end) as has_counted_line,
        sum(billed_amount) as billed,
        sum(allowed_amount) as allowed,
        sum(paid_amount) as paid
    from lines
    group by service_month, hios_plan_id, claim_type, servicing_specialty, claim_id
),

final as (
    select
        month,
        hios_plan_id,
        claim_type,
        specialty,
        claim_id,
        cast(claim_lines as integer) as claim_lines,
        cast(has_counted_line as integer) as has_counted_line,
        cast(sum(has_counted_line) over (partition by claim_id) as integer) as counted_cells,
        billed,
        allowed,
        paid
    from cells
)

select * from final
