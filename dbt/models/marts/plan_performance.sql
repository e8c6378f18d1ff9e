{{ config(materialized='incremental', replace_key='day', replace_tombstone_column='hios_plan_id') }}
-- depends_on: {{ ref('claims_daily') }}, {{ ref('dim_date') }}, {{ ref('int_as_of_moves') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_claim_lines_touched') }}
-- Plan performance by day: paid on current claim lines with a service date in the 30 days
-- ending on the day (day - 29 .. day), the same 30-day window one year earlier (ending on
-- day - 1 year; 29 Feb maps to 28 Feb), and the year-over-year change in percent (null when
-- the prior-year window paid 0). One row per plan with claims and day, from the first service
-- date in the data to the as-of date. Daily paid comes from claims_daily.
-- Refresh: incremental by day. A run recomputes, for every plan, the days whose windows contain
-- a service date of a touched claim line (that date .. +29 days, and the same a year later) and
-- the days that entered the as-of window. When the plans with claims or the first service date
-- changed, every day is recomputed (and days no longer in the grid are deleted).
{%- set all_rows = not is_incremental() %}
{%- if is_incremental() and execute %}
    {%- set check -%}
        with mart as (select distinct hios_plan_id, min(day) over () as first_day from {{ this }}),
        daily as (
            select distinct hios_plan_id, min(service_date) over () as first_day from {{ ref('claims_daily') }}
        )
        select
            (select count(*) from (
                select hios_plan_id from mart except select hios_plan_id from daily
            ) as gone)
            + (select count(*) from (
                select hios_plan_id from daily except select hios_plan_id from mart
            ) as new)
            + (select count(*) from (
                select first_day from mart except select first_day from daily
            ) as moved)
    {%- endset -%}
    {%- set all_rows = run_query(check).columns[0].values()[0] > 0 %}
{%- endif %}

with as_of as (
    select as_of_date, previous_as_of_date from {{ ref('int_as_of_moves') }}
),

daily_paid as (
    select hios_plan_id, service_date as day, sum(paid) as paid
    from {{ ref('claims_daily') }}
    group by hios_plan_id, service_date
),

bounds as (
    select min(d.day) as first_day, max(a.as_of_date) as last_day
    from daily_paid as d
    cross join as_of as a
),

plans as (
    select distinct hios_plan_id from daily_paid
),

{% if all_rows %}
work_days as (
    select dd.date_day as day
    from {{ ref('dim_date') }} as dd
    cross join bounds as b
    where dd.date_day between b.first_day and b.last_day
),
{% else %}
changed_dates as (
    select distinct service_from_date as changed_date from {{ ref('int_claim_lines_touched') }}
),

work_days as (
    -- the 30-day windows a changed date is in, this year and as the prior year of next year's days
    select dd.date_day as day
    from {{ ref('dim_date') }} as dd
    inner join changed_dates as c
        on dd.date_day between c.changed_date and {{ add_days('c.changed_date', 29) }}
        or dd.date_day between {{ add_days(add_months('c.changed_date', 12), -1) }}
        and {{ add_days(add_months('c.changed_date', 12), 30) }}
    union
    -- the days that entered the as-of window
    select dd.date_day
    from {{ ref('dim_date') }} as dd
    cross join as_of as a
    where dd.date_day <= a.as_of_date
      and (a.previous_as_of_date is null or dd.date_day > a.previous_as_of_date)
),
{% endif %}

grid_bounds as (
    -- the days whose rolling sums the work days need: 29 days before, and a year before that
    select
        greatest(b.first_day, {{ add_days(add_months('min(w.day)', -12), -31) }}) as grid_from,
        least(b.last_day, max(w.day)) as grid_to
    from work_days as w
    cross join bounds as b
    group by b.first_day, b.last_day
),

grid as (
    select p.hios_plan_id, dd.date_day as day
    from plans as p
    cross join grid_bounds as g
    inner join {{ ref('dim_date') }} as dd on dd.date_day between g.grid_from and g.grid_to
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

performance as (
    select
        r.day,
        r.hios_plan_id,
        {{ money('r.paid_rolling_30d') }} as paid_rolling_30d,
        {{ money('coalesce(prior.paid_rolling_30d, 0)') }} as paid_same_30d_prior_year,
        {{ safe_ratio('r.paid_rolling_30d - coalesce(prior.paid_rolling_30d, 0)', 'prior.paid_rolling_30d', 100) }}
            as yoy_change_pct
    from rolling as r
    -- sqlfluff's DuckDB grammar cannot parse "date + n * interval" in this join: PRS waived below
    left join rolling as prior
        on prior.hios_plan_id = r.hios_plan_id  -- noqa: PRS
       and prior.day = {{ add_months('r.day', -12) }}
    cross join bounds as b
    where r.day >= b.first_day
      and r.day in (select day from work_days)
),

final as (
    select * from performance
    {% if all_rows and is_incremental() %}
    union all
    -- days no longer in the grid: tombstones (their rows are deleted, nothing is inserted)
    select distinct
        t.day,
        cast(null as {{ text_type() }}) as hios_plan_id,
        cast(null as decimal(18, 2)) as paid_rolling_30d,
        cast(null as decimal(18, 2)) as paid_same_30d_prior_year,
        cast(null as decimal(38, 10)) as yoy_change_pct
    from {{ this }} as t
    where t.day not in (select day from work_days)
    {% endif %}
)

select {{ contract_columns() }}
from final
