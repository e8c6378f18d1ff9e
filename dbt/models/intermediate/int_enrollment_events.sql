{{ config(
    materialized='incremental',
    replace_key='event_id',
    replace_also=[{'column': 'exchange_member_key', 'work': 'int_events_touched'}],
    rebuild_if_changed=['members'],
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('stg_enrollment_events') }}, {{ ref('stg_member_identity') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_events_touched') }}
-- Counted enrollment events (stg_enrollment_events: first delivery of each event_id) with the
-- member keys the facts use, and each exchange member's event order: event_seq orders a
-- member's events by occurred_at as an instant, then event_id -- the order in which the
-- coverage-span rules apply. member_key is the claims-system member's key when a snapshot maps
-- the exchange member to a member number (stg_member_identity), else the exchange member's own
-- key. No source ids: members are identified by keyed hashes only.
-- Incremental: a run rebuilds the events of the exchange members in int_events_touched (their
-- order may have changed); a change of member snapshots (identity) rebuilds every event.
with events as (
    select * from {{ ref('stg_enrollment_events') }}
    {% if not rebuild_all() %}
    where exchange_member_key in (select exchange_member_key from {{ ref('int_events_touched') }})
    {% endif %}
),

identity as (
    select member_id, member_key from {{ ref('stg_member_identity') }}
),

sequenced as (
    select
        *,
        row_number() over (partition by exchange_member_key order by occurred_at, event_id) as event_seq
    from events
),

final as (
    select
        e.event_id,
        e.event_type,
        e.occurred_at,
        {{ utc_date('e.occurred_at') }} as occurred_date_utc,
        e.application_id,
        e.exchange_member_key,
        coalesce(i.member_key, e.exchange_member_key) as member_key,
        coalesce(s.member_key, e.exchange_subscriber_key) as subscriber_member_key,
        e.enrollment_period,
        e.sep_reason,
        e.hios_plan_id,
        cast(e.coverage_start as date) as coverage_start,
        cast(e.coverage_end as date) as coverage_end,
        cast(e.monthly_premium as decimal(18, 2)) as monthly_premium,
        cast(e.aptc_amount as decimal(18, 2)) as aptc_amount,
        e.termination_reason,
        cast(e._load_date as date) as _load_date,
        cast(e._load_id as {{ text_type() }}) as _load_id,
        cast(e.event_seq as integer) as event_seq
    from sequenced as e
    left join identity as i on i.member_id = e.member_id
    left join identity as s on s.member_id = e.subscriber_id
)

select * from final
