-- Plan performance by day: paid on current claim lines with a service date in the 30 days
-- ending on the day (day - 29 .. day), the same 30-day window one year earlier (ending on
-- day - 1 year; 29 Feb maps to 28 Feb), and the year-over-year change in percent (null when
-- the prior-year window paid 0). One row per plan with claims and day, from the first service
-- date in the data to the as-of date.
-- Refresh: full rebuild on each run (dense plan x day grid, window sums).
with as_of as (
    select as_of_date from {{ ref('warehouse_as_of') }}
),

daily_paid as (
    select hios_plan_id, service_from_date as day, sum(paid_amount) as paid
    from {{ ref('fct_claim_lines') }}
    group by hios_plan_id, service_from_date
),

bounds as (
    select min(d.day) as first_day, max(a.as_of_date) as last_day
    from daily_paid as d
    cross join as_of as a
),

plans as (
    select distinct hios_plan_id from daily_paid
),

grid as (
    select p.hios_plan_id, dd.date_day as day
    from plans as p
    cross join bounds as b
    inner join {{ ref('dim_date') }} as dd on dd.date_day between b.first_day and b.last_day
),

rolling as (
    select
        g.hios_plan_id,
        g.day,
        sum(coalesce(d.paid, 0)) over (
            partition by g.hios_plan_id order by g.day rows between 29 preceding and current row
        ) as paid_rolling_30d
    from grid as g
    left join daily_paid as d on d.hios_plan_id = g.hios_plan_id and d.day = g.day
),

final as (
    select
        r.day,
        r.hios_plan_id,
        {{ money('r.paid_rolling_30d') }} as paid_rolling_30d,
        {{ money('coalesce(prior.paid_rolling_30d, 0)') }} as paid_same_30d_prior_year,
        {{ safe_ratio('r.paid_rolling_30d - coalesce(prior.paid_rolling_30d, 0)', 'prior.paid_rolling_30d', 100) }}
            as yoy_change_pct
    from rolling as r
    -- sqlfluff's DuckDB grammar cannot parse "date - interval" in this join: PRS waived below
    left join rolling as prior
        on prior.hios_plan_id = r.hios_plan_id  -- noqa: PRS
       and prior.day = cast(r.day - interval '1 year' as date)
)

select * from final
