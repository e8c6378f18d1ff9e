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
        cast(run_id as {{ text_type() }}) as run_id,
        cast(asset_key as {{ text_type() }}) as asset_key,
        cast(check_name as {{ text_type() }}) as check_name,
        cast(partition_start as {{ text_type() }}) as partition_start,
        cast(partition_end as {{ text_type() }}) as partition_end,
        cast(passed as boolean) as passed,
        cast(severity as {{ text_type() }}) as severity,
        cast(status as {{ text_type() }}) as status,
        cast(metric_value as {{ double_type() }}) as metric_value,
        cast(threshold as {{ double_type() }}) as threshold,
        cast(metadata_json as {{ text_type() }}) as metadata_json,
        evaluated_at,
        copied_at
    from results
)

select * from final
