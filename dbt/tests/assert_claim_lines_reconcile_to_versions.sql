{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_claim_lines'}}}) }}
-- fct_claim_lines holds exactly one row per claim line of fct_claim_line_versions, the one with
-- the highest claim_version, with the same amounts.
with current_versions as (
    select claim_line_key, max(claim_version) as claim_version
    from {{ ref('fct_claim_line_versions') }}
    group by claim_line_key
),

expected as (
    select v.claim_line_key, v.claim_version, v.paid_amount, v.member_version_key, v.plan_key
    from {{ ref('fct_claim_line_versions') }} as v
    inner join current_versions as c on c.claim_line_key = v.claim_line_key and c.claim_version = v.claim_version
)

select coalesce(e.claim_line_key, l.claim_line_key) as claim_line_key
from expected as e
full outer join {{ ref('fct_claim_lines') }} as l on l.claim_line_key = e.claim_line_key
where e.claim_line_key is null
   or l.claim_line_key is null
   or e.claim_version <> l.claim_version
   or e.paid_amount <> l.paid_amount
   or e.member_version_key <> l.member_version_key
   or e.plan_key <> l.plan_key
