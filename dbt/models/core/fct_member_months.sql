{{ config(
    materialized='incremental',
    replace_key='member_month_key',
    replace_also=[
        {'column': 'exchange_member_key', 'work': 'int_events_touched'},
        {'column': 'month', 'work': 'int_months_entering_as_of'},
    ],
    rebuild_if_changed=['members', 'plans'],
    indexes=pg_indexes(['member_key', 'plan_key', 'month']),
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('dim_member') }}, {{ ref('dim_plan') }}, {{ ref('int_coverage_spans') }}, {{ ref('warehouse_as_of') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_events_touched') }}, {{ ref('int_months_entering_as_of') }}, {{ ref('int_coverage_months_touched') }}
-- Member months. Grain: one row per member and calendar month in which a coverage span covers
-- at least one day, for months up to and including the month of the data's as-of date (months
-- before the first file count when coverage reaches back). The month belongs to the plan of the
-- latest-starting span covering it (a tie goes to the span of the later event).
-- Incremental: every month of the exchange members in int_events_touched, and the months that
-- entered the as-of window (int_months_entering_as_of) for every member; a change of member or
-- plan snapshots re-keys and rebuilds every row.
{%- set all_rows = rebuild_all() %}
with spans as (
    select * from {{ ref('int_coverage_spans') }}
    {% if not all_rows %}
    where exchange_member_key in (select exchange_member_key from {{ ref('int_events_touched') }})
       or span_end_date >= (select min(month) from {{ ref('int_months_entering_as_of') }})
    {% endif %}
),

as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

-- a span lies within one calendar year, so it touches at most 12 months: offsets 0..11
month_offsets as (
    {% for i in range(12) %}select {{ i }} as month_offset{% if not loop.last %} union all {% endif %}{% endfor %}
),

span_months as (
    select
        s.exchange_member_key,
        s.member_key,
        s.application_id,
        s.hios_plan_id,
        s.created_by_event_id,
        s.span_start_date,
        s.span_end_date,
        s.event_seq,
        {{ add_months(month_start('s.span_start_date'), 'o.month_offset') }} as month_start_date
    from spans as s
    cross join month_offsets as o
),

covered_months as (
    select
        m.*,
        {{ add_days(add_months('m.month_start_date', 1), -1) }} as month_end_date
    from span_months as m
    cross join as_of
    where m.month_start_date <= m.span_end_date
      and m.month_start_date <= as_of.as_of_month
    {% if not all_rows %}
      and (
          m.exchange_member_key in (select exchange_member_key from {{ ref('int_events_touched') }})
          or m.month_start_date in (select month from {{ ref('int_months_entering_as_of') }})
      )
    {% endif %}
),

clipped as (
    select
        *,
        case when span_start_date > month_start_date then span_start_date else month_start_date end as covered_from,
        case when span_end_date < month_end_date then span_end_date else month_end_date end as covered_to
    from covered_months
),

ranked as (
    select
        *,
        row_number() over (
            partition by exchange_member_key, month_start_date
            order by span_start_date desc, event_seq desc
        ) as span_rank,
        count(*) over (partition by exchange_member_key, month_start_date) as spans_in_month
    from clipped
),

final as (
    select
        {{ surrogate_key(['r.member_key', 'r.month_start_date']) }} as member_month_key,
        r.member_key,
        r.exchange_member_key,
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
