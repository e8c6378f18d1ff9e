{{ config(tags=['data_quality']) }}
-- Data-quality KPIs per feed and load date, from the latest successful load attempt of each
-- partition (stg_load_confirmations): completeness (rows staged / read), validity (quarantine
-- rate), reconciliation (read = staged + quarantined), the load's duration, freshness (days the
-- feed's newest load lags the newest load of any feed), and the staging checks of that load date
-- that did not pass (core.fct_data_quality). Ratios are null when no row was read.
-- Refresh: rebuilt on each run (one row per feed and load date).
with latest as (
    select * from {{ ref('stg_load_confirmations') }}
),

newest_per_feed as (
    select feed, max(load_date) as newest_load_date from latest group by feed
),

as_of as (
    select max(load_date) as as_of_date from latest
),

checks as (
    select
        split_part(asset_key, '/', 2) as feed,
        cast(partition_start as date) as load_date,
        cast(count(*) as bigint) as checks_evaluated,
        cast(sum(case when passed then 0 else 1 end) as bigint) as checks_not_passed
    from {{ ref('fct_data_quality') }}
    where asset_key like 'staging/%' and partition_start = partition_end
    group by split_part(asset_key, '/', 2), cast(partition_start as date)
),

final as (
    select
        latest.feed,
        latest.load_date,
        latest.rows_read,
        latest.rows_staged,
        latest.rows_quarantined,
        case when latest.rows_read > 0
                then cast(latest.rows_staged as {{ double_type() }}) / latest.rows_read
        end as completeness,
        case when latest.rows_read > 0
                then cast(latest.rows_quarantined as {{ double_type() }}) / latest.rows_read
        end as quarantine_rate,
        latest.rows_read = latest.rows_staged + latest.rows_quarantined as is_reconciled,
        latest.duration_seconds as load_duration_seconds,
        newest_per_feed.newest_load_date,
        {{ days_between('newest_per_feed.newest_load_date', 'as_of.as_of_date') }} as feed_lag_days,
        checks.checks_evaluated,
        checks.checks_not_passed,
        latest.finished_at as loaded_at
    from latest
    inner join newest_per_feed on latest.feed = newest_per_feed.feed
    cross join as_of
    left join checks on latest.feed = checks.feed and latest.load_date = checks.load_date
)

select * from final
