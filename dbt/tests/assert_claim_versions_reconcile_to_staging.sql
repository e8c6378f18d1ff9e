{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_claim_line_versions'}}}) }}
-- Money reconciles: count and sums of fct_claim_line_versions equal the staged accepted claim
-- rows after cross-load replacement (per version key, the row of the latest load date), computed
-- here independently of the model. A mismatch means a missed or stale incremental window.
with staged as (
    select claim_id, line_number, claim_version, billed_amount, allowed_amount, paid_amount,
           row_number() over (
               partition by claim_id, line_number, claim_version order by _load_date desc, _source_line desc
           ) as load_rank
    from {{ source('staging', 'claims') }}
),

expected as (
    select count(*) as version_rows, coalesce(sum(paid_amount), 0) as paid,
           coalesce(sum(allowed_amount), 0) as allowed, coalesce(sum(billed_amount), 0) as billed
    from staged
    where load_rank = 1
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
