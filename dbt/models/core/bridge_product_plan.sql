{{ config(post_hook="{{ analyze_table() }}") }}
-- The claims system's product crosswalk resolved into disjoint date ranges:
-- one row per product_id and range [valid_from, valid_to) with the hios_plan_id it maps to.
-- Source: stg_products, the newest loaded products snapshot (a later snapshot supersedes and
-- corrects an earlier one; its effective/termination dates carry the mapping's history). Where several
-- rows of the snapshot match a date the latest effective_date wins; termination_date is the
-- last day in effect (inclusive), null = open-ended. Dates with no matching row have no range:
-- facts on them map to the unknown plan.
with crosswalk as (
    select * from {{ ref('stg_products') }}
),

boundaries as (
    select product_id, effective_date as boundary_date from crosswalk
    union
    select product_id, {{ add_days('termination_date', 1) }} from crosswalk where termination_date is not null
),

elementary_ranges as (
    select
        product_id,
        boundary_date as valid_from,
        lead(boundary_date) over (partition by product_id order by boundary_date) as next_boundary
    from boundaries
),

matches as (
    select
        r.product_id,
        r.valid_from,
        coalesce(r.next_boundary, {{ end_of_time() }}) as valid_to,
        c.hios_plan_id,
        c.product_name,
        c.effective_date as source_effective_date,
        c.termination_date as source_termination_date,
        c.snapshot_date,
        row_number() over (partition by r.product_id, r.valid_from order by c.effective_date desc) as preference
    from elementary_ranges as r
    inner join crosswalk as c
        on c.product_id = r.product_id
       and c.effective_date <= r.valid_from
       and (c.termination_date is null or c.termination_date >= r.valid_from)
),

final as (
    select
        {{ surrogate_key(['product_id', 'valid_from']) }} as product_range_key,
        product_id,
        valid_from,
        valid_to,
        hios_plan_id,
        product_name,
        source_effective_date,
        source_termination_date,
        snapshot_date
    from matches
    where preference = 1
)

select * from final
