{{ config(materialized='ephemeral') }}
-- Enrollment events that count: the first delivery of each event_id (earliest load date, then
-- source line); later copies are ignored. event_seq orders each member's events by occurred_at
-- as an instant, then event_id -- the order in which coverage-span rules apply.
with deliveries as (
    select
        *,
        row_number() over (partition by event_id order by _load_date, _source_line) as delivery_no
    from {{ source('staging', 'enrollment_events') }}
),

identity as (
    select * from {{ ref('int_member_identity') }}
),

final as (
    select
        e.event_id,
        e.event_type,
        e.occurred_at,
        cast(e.occurred_at at time zone 'UTC' as date) as occurred_date_utc,
        e.application_id,
        e.member_id,
        e.subscriber_id,
        coalesce(i.member_key, {{ member_key_from_exchange_id('e.member_id') }}) as member_key,
        coalesce(s.member_key, {{ member_key_from_exchange_id('e.subscriber_id') }}) as subscriber_member_key,
        e.enrollment_period,
        e.sep_reason,
        e.hios_plan_id,
        cast(e.coverage_start as date) as coverage_start,
        cast(e.coverage_end as date) as coverage_end,
        cast(e.monthly_premium as decimal(18, 2)) as monthly_premium,
        cast(e.aptc_amount as decimal(18, 2)) as aptc_amount,
        e.termination_reason,
        cast(e._load_date as date) as _load_date,
        row_number() over (partition by e.member_id order by e.occurred_at, e.event_id) as event_seq
    from deliveries as e
    left join identity as i on i.member_id = e.member_id
    left join identity as s on s.member_id = e.subscriber_id
    where e.delivery_no = 1
)

select * from final
