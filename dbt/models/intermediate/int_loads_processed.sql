-- depends_on: {{ ref('fct_claim_lines') }}, {{ ref('fct_premiums') }}, {{ ref('fct_member_months') }}, {{ ref('fct_applications') }}, {{ ref('fct_coverage_spans') }}, {{ ref('dim_geography') }}
-- depends_on: {{ ref('claims_daily') }}, {{ ref('plan_month') }}, {{ ref('utilization_month') }}, {{ ref('member_month_summary') }}, {{ ref('member_value') }}, {{ ref('plan_performance') }}, {{ ref('claims_cube') }}, {{ ref('mlr_plan_year') }}
-- The ledger: the loads the warehouse reflects, written as the last step of a successful build
-- (it depends on every incremental model and mart, so a failed model or blocking test skips it
-- and the next run redoes the same changes). It is exactly the loads this build saw at its start
-- (stg_load_changes without the removed ones); the next build's stg_load_changes compares
-- staging with it.
select feed, load_date, load_id
from {{ ref('stg_load_changes') }}
where change <> 'removed'
