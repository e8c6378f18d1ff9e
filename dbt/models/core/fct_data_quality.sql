{{ config(
    materialized='incremental',
    replace_key='run_id',
    full_refresh=false,
    tags=['data_quality'],
    post_hook="{{ analyze_table() }}"
) }}
-- History of every asset-check result (staging checks and dbt tests) of every run against this
-- warehouse, as the quality asset copied them from Dagster (stg_check_results). Grain: one row
-- per check evaluation. A staging check's partition is its load date (start = end); a dbt
-- test's is the window of its run.
-- Incremental: a run takes the runs copied since the last build (a copy newer than the newest
-- copy here) and replaces their rows, so a run whose results were copied again (a retried
-- quality step) is not counted twice. full_refresh=false: the history outlives the event log's
-- retention and a `--full-refresh` of the warehouse.
with results as (
    select * from {{ ref('stg_check_results') }}
    {% if is_incremental() %}
    where run_id in (
        select run_id from {{ ref('stg_check_results') }}
        where coalesce(copied_at > (select max(copied_at) from {{ this }}), true)
    )
    {% endif %}
),

final as (
    select
        run_id,
        asset_key,
        check_name,
        partition_start,
        partition_end,
        passed,
        severity,
        status,
        metric_value,
        threshold,
        metadata_json,
        evaluated_at,
        copied_at
    from results
)

select * from final
