-- Months that entered the marts' window in this run: after the as-of month of the last
-- successful build, up to and including the current as-of month (every month up to it on a
-- first build). Member months, member-month summaries and earned premium gain these months for
-- every member, not only for the members whose files changed.
with as_of as (
    select as_of_month, previous_as_of_month from {{ ref('int_as_of_moves') }}
),

final as (
    select d.date_day as month
    from {{ ref('dim_date') }} as d
    cross join as_of as a
    where d.date_day = d.month_start_date
      and d.date_day <= a.as_of_month
      and (a.previous_as_of_month is null or d.date_day > a.previous_as_of_month)
)

select * from final
