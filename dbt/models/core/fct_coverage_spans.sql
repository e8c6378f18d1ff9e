{{ config(
    materialized='incremental',
    replace_key='coverage_span_key',
    replace_also=[{'column': 'exchange_member_key', 'work': 'int_events_touched'}],
    rebuild_if_changed=['members', 'plans'],
    indexes=pg_indexes(['member_key', 'plan_key']),
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('dim_member') }}, {{ ref('dim_plan') }}, {{ ref('int_coverage_spans') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_events_touched') }}
-- Coverage spans in force, derived from all enrollment events received so far (see
-- int_coverage_spans for the rules). Grain: one row per span = per span-creating event
-- (CoverageEffectuated or PlanChanged) whose span survived the later cuts.
-- Member and plan versions are those valid on the span's first day.
-- Incremental: the spans of the exchange members in int_events_touched (a late event can change
-- any span of its member); a change of member or plan snapshots re-keys and rebuilds every span.
with spans as (
    select * from {{ ref('int_coverage_spans') }}
    {% if not rebuild_all() %}
    where exchange_member_key in (select exchange_member_key from {{ ref('int_events_touched') }})
    {% endif %}
),

final as (
    select
        {{ surrogate_key(['s.created_by_event_id']) }} as coverage_span_key,
        s.member_key,
        s.exchange_member_key,
        m.member_version_key,
        s.subscriber_member_key,
        s.application_id,
        s.hios_plan_id,
        {{ plan_key_expr('p') }} as plan_key,
        s.span_start_date,
        s.span_end_date,
        s.scheduled_end_date,
        s.end_reason,
        s.created_by_event_id,
        s.created_by_event_type,
        s.created_at,
        cast(s.event_seq as integer) as member_event_seq,
        s.cut_event_id as ended_by_event_id
    from spans as s
    {{ member_version_join('m', 's.member_key', 's.span_start_date') }}
    {{ plan_version_joins('p', "coalesce(s.hios_plan_id, 'UNKNOWN')", 's.span_start_date') }}
)

select * from final
