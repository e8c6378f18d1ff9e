{{ config(materialized='table', post_hook="{{ analyze_table() }}") }}
-- Enrollment events that count: the first delivery of each event_id (earliest load date, then
-- source line); later copies are ignored. event_seq orders each member's events by occurred_at
-- as an instant, then event_id -- the order in which coverage-span rules apply.
-- A table (not ephemeral) so the planner has statistics; it keeps no source member ids: the
-- exchange member is identified by exchange_member_key, a keyed hash of member_id (one per
-- member_id, whether or not a snapshot maps it to a member number yet).
with deliveries as (
    select
        *,
        row_number() over (partition by event_id order by _load_date, _source_line) as delivery_no
    from {{ source('staging', 'enrollment_events') }}
),

first_deliveries as (
    select
        *,
        row_number() over (partition by member_id order by occurred_at, event_id) as event_seq
    from deliveries
    where delivery_no = 1
),

identity as (
    select * from {{ ref('int_member_identity') }}
),

exchange_keys as (
    -- one keyed hash per exchange member id (events' members and subscribers)
    select member_id, {{ member_key_from_exchange_id('member_id') }} as exchange_member_key
    from (
        select member_id from first_deliveries
        union
        select subscriber_id from first_deliveries
    ) as ids
),

final as (
    select
        e.event_id,
        e.event_type,
        e.occurred_at,
        cast(e.occurred_at at time zone 'UTC' as date) as occurred_date_utc,
        e.application_id,
        x.exchange_member_key,
        coalesce(i.member_key, x.exchange_member_key) as member_key,
        coalesce(s.member_key, xs.exchange_member_key) as subscriber_member_key,
        e.enrollment_period,
        e.sep_reason,
        e.hios_plan_id,
        cast(e.coverage_start as date) as coverage_start,
        cast(e.coverage_end as date) as coverage_end,
        cast(e.monthly_premium as decimal(18, 2)) as monthly_premium,
        cast(e.aptc_amount as decimal(18, 2)) as aptc_amount,
        e.termination_reason,
        cast(e._load_date as date) as _load_date,
        cast(e.event_seq as integer) as event_seq
    from first_deliveries as e
    inner join exchange_keys as x on x.member_id = e.member_id
    inner join exchange_keys as xs on xs.member_id = e.subscriber_id
    left join identity as i on i.member_id = e.member_id
    left join identity as s on s.member_id = e.subscriber_id
)

select * from final
