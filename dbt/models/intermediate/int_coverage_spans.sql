{{ config(
    materialized='incremental',
    replace_key='created_by_event_id',
    replace_also=[{'column': 'exchange_member_key', 'work': 'int_events_touched'}],
    rebuild_if_changed=['members'],
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('int_enrollment_events') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_events_touched') }}
-- Coverage spans per member, following the landing contract's rules, applied in event_seq
-- order (occurred_at instant, then event_id):
--   1. CoverageEffectuated starts [coverage_start, 31 Dec of that year] on its plan.
--   2. PlanChanged cuts all spans of the member's application created by earlier events at
--      coverage_start - 1 day, then starts [coverage_start, 31 Dec of that year] on the new plan.
--   3. CoverageTerminated cuts the spans of the member's application created by earlier
--      events at coverage_end.
-- A cut at date c shortens a span ending after c to end on c and drops a span starting after c.
-- Cuts only ever lower the end, so a span's final state is its creating event's
-- [start, 31 Dec] cut at the minimum cut date of the later cutting events of the same member
-- and application; it is dropped when its start is after that minimum. PlanSelected never
-- creates coverage.
-- Incremental: the spans of the exchange members in int_events_touched are rebuilt from all
-- their events (a member's spans depend only on the member's own events).
with events as (
    select * from {{ ref('int_enrollment_events') }}
    {% if not rebuild_all() %}
    where exchange_member_key in (select exchange_member_key from {{ ref('int_events_touched') }})
    {% endif %}
),

span_creators as (
    select *
    from events
    where event_type in ('CoverageEffectuated', 'PlanChanged')
      and coverage_start is not null
),

cutters as (
    select
        exchange_member_key,
        application_id,
        event_seq,
        event_id,
        event_type,
        case
            when event_type = 'PlanChanged' then {{ add_days('coverage_start', -1) }}
            else coverage_end
        end as cut_date
    from events
    where (event_type = 'PlanChanged' and coverage_start is not null)
       or (event_type = 'CoverageTerminated' and coverage_end is not null)
),

later_cuts as (
    select
        s.event_id as span_event_id,
        k.cut_date,
        k.event_type as cut_event_type,
        k.event_id as cut_event_id,
        row_number() over (partition by s.event_id order by k.cut_date, k.event_seq) as cut_rank
    from span_creators as s
    inner join cutters as k
        on k.exchange_member_key = s.exchange_member_key
       and k.application_id = s.application_id
       and k.event_seq > s.event_seq
),

spans as (
    select
        s.event_id as created_by_event_id,
        s.event_type as created_by_event_type,
        s.event_seq,
        s.occurred_at as created_at,
        s.exchange_member_key,
        s.member_key,
        s.subscriber_member_key,
        s.application_id,
        s.hios_plan_id,
        s.coverage_start as span_start_date,
        make_date({{ year_of('s.coverage_start') }}, 12, 31) as scheduled_end_date,
        c.cut_date,
        c.cut_event_type,
        c.cut_event_id
    from span_creators as s
    left join later_cuts as c on c.span_event_id = s.event_id and c.cut_rank = 1
),

final as (
    select
        *,
        case
            when cut_date is not null and cut_date < scheduled_end_date then cut_date
            else scheduled_end_date
        end as span_end_date,
        case
            when cut_date is not null and cut_date < scheduled_end_date then
                case when cut_event_type = 'PlanChanged' then 'plan_changed' else 'terminated' end
            else 'plan_year_end'
        end as end_reason
    from spans
    where cut_date is null or span_start_date <= cut_date
)

select * from final
