-- Member months. Grain: one row per member and calendar month in which a coverage span covers
-- at least one day, for months up to and including the month of the data's as-of date (months
-- before the first file count when coverage reaches back). The month belongs to the plan of the
-- latest-starting span covering it (a tie goes to the span of the later event).
-- Full rebuild on each run (derived from the coverage spans).
with spans as (
    select * from {{ ref('int_coverage_spans') }}
),

as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

months as (
    select date_day as month_start_date, {{ add_days(add_months('date_day', 1), -1) }} as month_end_date
    from {{ ref('dim_date') }}
    where day_of_month = 1
),

span_months as (
    select
        s.member_id,
        s.member_key,
        s.application_id,
        s.hios_plan_id,
        s.created_by_event_id,
        s.span_start_date,
        s.span_end_date,
        s.event_seq,
        mo.month_start_date,
        case when s.span_start_date > mo.month_start_date then s.span_start_date else mo.month_start_date end
            as covered_from,
        case when s.span_end_date < mo.month_end_date then s.span_end_date else mo.month_end_date end
            as covered_to,
        mo.month_end_date
    from spans as s
    inner join months as mo
        on mo.month_start_date <= s.span_end_date
       and mo.month_end_date >= s.span_start_date
    cross join as_of
    where mo.month_start_date <= as_of.as_of_month
),

ranked as (
    select
        *,
        row_number() over (
            partition by member_id, month_start_date
            order by span_start_date desc, event_seq desc
        ) as span_rank,
        count(*) over (partition by member_id, month_start_date) as spans_in_month
    from span_months
),

final as (
    select
        {{ surrogate_key(['r.member_key', 'r.month_start_date']) }} as member_month_key,
        r.member_key,
        m.member_version_key,
        r.month_start_date as month,
        r.hios_plan_id,
        {{ plan_key_expr('p') }} as plan_key,
        r.application_id,
        {{ surrogate_key(['r.created_by_event_id']) }} as coverage_span_key,
        {{ days_between('r.covered_from', 'r.covered_to') }} + 1 as covered_days_on_span,
        r.covered_from = r.month_start_date and r.covered_to = r.month_end_date as is_full_month_on_span,
        cast(r.spans_in_month as integer) as spans_in_month
    from ranked as r
    {{ member_version_join('m', 'r.member_key', 'r.month_start_date') }}
    {{ plan_version_joins('p', "coalesce(r.hios_plan_id, 'UNKNOWN')", 'r.month_start_date') }}
    where r.span_rank = 1
)

select * from final
