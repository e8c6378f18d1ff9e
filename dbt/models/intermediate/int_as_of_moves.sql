-- How far the as-of date moved in this run: the as-of date now (warehouse_as_of) and at the last
-- successful build (the latest load date of the loads it reflected: stg_load_changes 'kept' and
-- 'removed'; null on a first build or a full refresh). Incremental models add the days and
-- months in between for every member and plan. One row.
with previous as (
    select max(load_date) as previous_as_of_date
    from {{ ref('stg_load_changes') }}
    where change <> 'added'
),

final as (
    select
        a.as_of_date,
        a.as_of_month,
        p.previous_as_of_date,
        {{ month_start('p.previous_as_of_date') }} as previous_as_of_month
    from {{ ref('warehouse_as_of') }} as a
    cross join previous as p
)

select * from final
