{{ config(tags=['data_quality']) }}
-- Asset-check results as the quality asset copied them from Dagster's event log
-- (staging.check_results), typed. Each copy of a run's results replaces the run's earlier copy
-- in the source, so a run's rows here are always its latest copy. Grain: one row per check
-- evaluation.
with results as (
    select * from {{ source('staging', 'check_results') }}
),

final as (
    select
        cast(run_id as varchar) as run_id,
        cast(asset_key as varchar) as asset_key,
        cast(check_name as varchar) as check_name,
        cast(partition_start as varchar) as partition_start,
        cast(partition_end as varchar) as partition_end,
        cast(passed as boolean) as passed,
        cast(severity as varchar) as severity,
        cast(status as varchar) as status,
        cast(metric_value as double precision) as metric_value,
        cast(threshold as double precision) as threshold,
        cast(metadata_json as varchar) as metadata_json,
        evaluated_at,
        copied_at
    from results
)

select * from final
