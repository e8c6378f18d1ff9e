{{ config(
    materialized='incremental',
    replace_key='application_id',
    replace_also=[{'column': 'application_id', 'work': 'int_events_touched'}],
    rebuild_if_changed=['members']
) }}
-- depends_on: {{ ref('int_coverage_spans') }}, {{ ref('int_enrollment_events') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_events_touched') }}
-- Applications as an accumulating snapshot: one row per application_id, with the milestones
-- submitted -> plan selected -> effectuated, or cancelled / terminated, filled in as events
-- arrive. Milestone timestamps are the first occurrence of each event type (first delivery of
-- each event counts); days between milestones use UTC dates.
--   status: from the application's latest coverage event (effectuation, plan change, termination):
--           cancelled  = it is a termination and no coverage span survived (never in force)
--           terminated = it is a termination and coverage was in force
--           effectuated, selected, submitted = otherwise the furthest milestone reached
--   enrollment_count: distinct members on the application
--   monthly_premium_amount / monthly_aptc_amount: sum over members of their latest PlanSelected
-- Incremental: a run rebuilds the applications of int_events_touched from all their events
-- (of every member on them); a change of member snapshots rebuilds every application.
{%- set all_rows = rebuild_all() %}
with touched as (
    select distinct application_id from {{ ref('int_events_touched') }}
),

events as (
    select * from {{ ref('int_enrollment_events') }}
    {% if not all_rows %}where application_id in (select application_id from touched){% endif %}
),

spans as (
    select * from {{ ref('int_coverage_spans') }}
    {% if not all_rows %}where application_id in (select application_id from touched){% endif %}
),

milestones as (
    select
        application_id,
        min(case when event_type = 'ApplicationSubmitted' then occurred_at end) as submitted_at,
        min(case when event_type = 'PlanSelected' then occurred_at end) as plan_selected_at,
        min(case when event_type = 'CoverageEffectuated' then occurred_at end) as effectuated_at,
        min(case when event_type = 'CoverageTerminated' then occurred_at end) as terminated_at,
        sum(case when event_type = 'PlanChanged' then 1 else 0 end) as plan_change_count,
        count(*) as event_count,
        count(distinct exchange_member_key) as enrollment_count,
        max(enrollment_period) as enrollment_period,
        max(sep_reason) as sep_reason
    from events
    group by application_id
),

dated_milestones as (
    select
        *,
        {{ utc_date('submitted_at') }} as submitted_date,
        {{ utc_date('plan_selected_at') }} as plan_selected_date,
        {{ utc_date('effectuated_at') }} as effectuated_date,
        {{ utc_date('terminated_at') }} as terminated_date
    from milestones
),

subscriber as (
    select application_id, subscriber_member_key
    from (
        select
            application_id,
            subscriber_member_key,
            row_number() over (partition by application_id order by occurred_at, event_id) as event_order
        from events
    ) as e
    where event_order = 1
),

latest_selection as (
    select application_id, exchange_member_key, hios_plan_id, coverage_start, monthly_premium, aptc_amount
    from (
        select
            *,
            row_number() over (
                partition by application_id, exchange_member_key order by occurred_at desc, event_id desc
            ) as recency
        from events
        where event_type = 'PlanSelected'
    ) as s
    where recency = 1
),

selection_totals as (
    select
        application_id,
        sum(monthly_premium) as monthly_premium_amount,
        sum(aptc_amount) as monthly_aptc_amount,
        max(hios_plan_id) as selected_hios_plan_id,
        min(coverage_start) as requested_coverage_start
    from latest_selection
    group by application_id
),

latest_coverage_event as (
    select application_id, event_type as last_coverage_event_type
    from (
        select
            application_id,
            event_type,
            row_number() over (partition by application_id order by occurred_at desc, event_id desc) as recency
        from events
        where event_type in ('CoverageEffectuated', 'PlanChanged', 'CoverageTerminated')
    ) as c
    where recency = 1
),

latest_termination as (
    select application_id, coverage_end, termination_reason
    from (
        select
            *,
            row_number() over (partition by application_id order by occurred_at desc, event_id desc) as recency
        from events
        where event_type = 'CoverageTerminated'
    ) as t
    where recency = 1
),

coverage as (
    select
        application_id,
        min(span_start_date) as coverage_start_date,
        max(span_end_date) as coverage_end_date,
        count(*) as coverage_span_count
    from spans
    group by application_id
),

final as (
    select
        {{ surrogate_key(['m.application_id']) }} as application_key,
        m.application_id,
        sub.subscriber_member_key,
        m.enrollment_period,
        m.sep_reason,
        m.submitted_at,
        m.plan_selected_at,
        m.effectuated_at,
        m.terminated_at,
        m.submitted_date,
        m.plan_selected_date,
        m.effectuated_date,
        m.terminated_date,
        {{ days_between('m.submitted_date', 'm.plan_selected_date') }} as days_submitted_to_selected,
        {{ days_between('m.plan_selected_date', 'm.effectuated_date') }} as days_selected_to_effectuated,
        {{ days_between('m.submitted_date', 'm.effectuated_date') }} as days_submitted_to_effectuated,
        case
            when lc.last_coverage_event_type = 'CoverageTerminated' and coalesce(c.coverage_span_count, 0) = 0
                then 'cancelled'
            when lc.last_coverage_event_type = 'CoverageTerminated' then 'terminated'
            when c.coverage_span_count > 0 then 'effectuated'
            when m.plan_selected_at is not null then 'selected'
            else 'submitted'
        end as application_status,
        cast(m.enrollment_count as integer) as enrollment_count,
        cast(m.plan_change_count as integer) as plan_change_count,
        cast(m.event_count as integer) as event_count,
        s.selected_hios_plan_id,
        s.requested_coverage_start,
        {{ money('coalesce(s.monthly_premium_amount, 0)') }} as monthly_premium_amount,
        {{ money('coalesce(s.monthly_aptc_amount, 0)') }} as monthly_aptc_amount,
        c.coverage_start_date,
        c.coverage_end_date,
        cast(coalesce(c.coverage_span_count, 0) as integer) as coverage_span_count,
        t.coverage_end as terminated_coverage_end,
        t.termination_reason
    from dated_milestones as m
    left join subscriber as sub on sub.application_id = m.application_id
    left join selection_totals as s on s.application_id = m.application_id
    left join latest_termination as t on t.application_id = m.application_id
    left join latest_coverage_event as lc on lc.application_id = m.application_id
    left join coverage as c on c.application_id = m.application_id
)

select * from final
