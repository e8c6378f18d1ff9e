-- depends_on: {{ ref('fct_claim_lines') }}, {{ ref('fct_premiums') }}, {{ ref('fct_member_months') }}
-- Work list of the month-grain marts and pre-aggregates for this run (int_claim_cells_touched and
-- what reads it, plan_month, utilization_month): every month whose totals may have changed since
-- the last build --
--   * the old and new service months of the touched claim lines, and every month in which a
--     claim with a touched line has a current line (a claim's lines elsewhere may have become,
--     or stopped being, spread over several cells: see int_claim_cells_touched);
--   * the old and new coverage months of the touched premiums;
--   * the months in which the members of int_events_touched had or have member months;
--   * the months that entered the as-of window.
-- Built after the facts, which it reads for the new state.
with claim_months as (
    select {{ month_start('service_from_date') }} as month from {{ ref('int_claim_lines_touched') }}
    union
    select l.service_month
    from {{ ref('fct_claim_lines') }} as l
    where l.claim_id in (select t.claim_id from {{ ref('int_claim_lines_touched') }} as t)
),

premium_months as (
    select coverage_month as month from {{ ref('int_premiums_touched') }}
),

member_months as (
    select month from {{ ref('int_coverage_months_touched') }}
    union
    select m.month
    from {{ ref('fct_member_months') }} as m
    where m.exchange_member_key in (select e.exchange_member_key from {{ ref('int_events_touched') }} as e)
),

final as (
    select month from claim_months
    union
    select month from premium_months
    union
    select month from member_months
    union
    select month from {{ ref('int_months_entering_as_of') }}
)

select cast(month as date) as month from final where month is not null
