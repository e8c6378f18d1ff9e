-- The load each partition (feed x load date) holds now: the latest successful load of its file.
-- A failed load leaves the partition as it was, and an 'unchanged' audit row only re-confirms
-- it, so neither counts. A load whose rows were all quarantined still counts (it is data: the
-- file arrived). Grain: one row per feed and load date.
with loads as (
    select
        feed,
        cast(load_date as date) as load_date,
        load_id,
        source_file,
        rows_read,
        rows_staged,
        rows_quarantined,
        finished_at as loaded_at,
        row_number() over (
            partition by feed, load_date order by finished_at desc, load_id desc
        ) as recency
    from {{ source('staging', 'load_audit') }}
    where status = 'loaded'
),

final as (
    select
        feed,
        load_date,
        load_id,
        source_file,
        cast(rows_read as bigint) as rows_read,
        cast(rows_staged as bigint) as rows_staged,
        cast(rows_quarantined as bigint) as rows_quarantined,
        loaded_at
    from loads
    where recency = 1
)

select * from final
