{{ config(tags=['data_quality']) }}
-- What the data-quality KPIs measure about each partition (feed x load date): its latest
-- successful load attempt, a load or a re-delivery found unchanged (unlike stg_load_audit, where
-- only a load counts), with the attempt's row counts and duration. Failed attempts never count.
-- Grain: one row per feed and load date.
with attempts as (
    select
        feed,
        cast(load_date as date) as load_date,
        load_id,
        status,
        rows_read,
        rows_staged,
        rows_quarantined,
        duration_seconds,
        finished_at,
        row_number() over (
            partition by feed, load_date order by finished_at desc, load_id desc
        ) as recency
    from {{ source('staging', 'load_audit') }}
    where status in ('loaded', 'unchanged')
),

final as (
    select
        feed,
        load_date,
        load_id,
        status,
        cast(rows_read as bigint) as rows_read,
        cast(rows_staged as bigint) as rows_staged,
        cast(rows_quarantined as bigint) as rows_quarantined,
        cast(duration_seconds as {{ double_type() }}) as duration_seconds,
        finished_at
    from attempts
    where recency = 1
)

select * from final
