{{ config(severity='error', meta={'dagster': {'ref': {'name': 'claims_daily'}}}) }}
-- The incremental claims_daily equals a fresh aggregation of the current claim lines per
-- service date (lines, billed, allowed, paid).
with expected as (
    select service_from_date as service_date,
           sum(case when is_counted_line then 1 else 0 end) as claim_lines,
           sum(billed_amount) as billed, sum(allowed_amount) as allowed, sum(paid_amount) as paid
    from {{ ref('fct_claim_lines') }}
    group by service_from_date
),

actual as (
    select service_date, sum(claim_lines) as claim_lines, sum(billed) as billed, sum(allowed) as allowed,
           sum(paid) as paid
    from {{ ref('claims_daily') }}
    group by service_date
)

select coalesce(e.service_date, a.service_date) as service_date, e.paid as expected_paid, a.paid as actual_paid
from expected as e
full outer join actual as a on a.service_date = e.service_date
where e.service_date is null or a.service_date is null
   or e.claim_lines <> a.claim_lines or e.billed <> a.billed or e.allowed <> a.allowed or e.paid <> a.paid
