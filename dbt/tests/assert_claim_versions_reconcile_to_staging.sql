{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_claim_line_versions'}}}) }}
-- Money reconciles: count and sums of fct_claim_line_versions equal the staged claim versions
-- after the cross-load rule (stg_claims). A mismatch means the incremental facts missed a change
-- or kept a stale version.
with expected as (
    select count(*) as version_rows, coalesce(sum(paid_amount), 0) as paid,
           coalesce(sum(allowed_amount), 0) as allowed, coalesce(sum(billed_amount), 0) as billed
    from {{ ref('stg_claims') }}
),

actual as (
    select count(*) as version_rows, coalesce(sum(paid_amount), 0) as paid,
           coalesce(sum(allowed_amount), 0) as allowed, coalesce(sum(billed_amount), 0) as billed
    from {{ ref('fct_claim_line_versions') }}
)

select e.version_rows as expected_rows, a.version_rows as actual_rows,
       e.paid as expected_paid, a.paid as actual_paid
from expected as e
cross join actual as a
where e.version_rows <> a.version_rows or e.paid <> a.paid or e.allowed <> a.allowed or e.billed <> a.billed
