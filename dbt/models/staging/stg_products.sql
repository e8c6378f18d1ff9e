-- The claims system's product crosswalk as the newest loaded products snapshot says it: a later
-- snapshot supersedes and corrects an earlier one, and its effective/termination dates carry
-- the mapping's history. Grain: one row per (product_id, effective_date) of that snapshot.
with products as (
    select * from {{ source('staging', 'products') }}
),

newest_snapshot as (
    select max(_load_date) as snapshot_date from products
),

final as (
    select
        p.product_id,
        p.hios_plan_id,
        p.product_name,
        p.effective_date,
        p.termination_date,
        cast(p._load_date as date) as snapshot_date
    from products as p
    inner join newest_snapshot as n on p._load_date = n.snapshot_date
)

select * from final
