{{ config(materialized='incremental', replace_key='event_id', replace_removed_loads=true) }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Enrollment events that count: the first delivery of each event_id (earliest load date, then
-- source line); a copy delivered again in a later file is ignored, as LANDING.md says. With the
-- exchange member and subscriber as pseudonymous keys. Grain: one row per event_id.
-- Incremental: recomputed for the event_ids of loads added since the last build and for those
-- whose first delivery was in a load that has been re-delivered.
with events as (
    select * from {{ source('staging', 'enrollment_events') }}
),

{% if is_incremental() %}
work as (
    select event_id from events where _load_id in {{ changed_loads('enrollment_events', 'added') }}
    union
    select event_id from {{ this }} where _load_id in {{ changed_loads('enrollment_events', 'removed') }}
),

candidates as (
    select e.*
    from events as e
    inner join work as w on w.event_id = e.event_id
),
{% else %}
candidates as (
    select * from events
),
{% endif %}

deliveries as (
    select
        *,
        row_number() over (partition by event_id order by _load_date, _source_line) as delivery_no
    from candidates
),

final as (
    select
        event_id,
        event_type,
        occurred_at,
        application_id,
        member_id,
        subscriber_id,
        {{ member_key_from_exchange_id('member_id') }} as exchange_member_key,
        {{ member_key_from_exchange_id('subscriber_id') }} as exchange_subscriber_key,
        enrollment_period,
        sep_reason,
        hios_plan_id,
        coverage_start,
        monthly_premium,
        aptc_amount,
        coverage_end,
        termination_reason,
        cast(_load_date as date) as _load_date,
        _load_id,
        _source_line
    from deliveries
    where delivery_no = 1
)

select * from final
