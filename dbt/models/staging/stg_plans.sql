-- Plan catalog snapshots, every snapshot (the plan dimension keeps their history; the newest
-- snapshot on or before a date is the truth for that date). Grain: one row per
-- (hios_plan_id, plan_year) per snapshot.
with plans as (
    select * from {{ source('staging', 'plans') }}
),

final as (
    select
        hios_plan_id,
        cast(plan_year as integer) as plan_year,
        plan_name,
        issuer_name,
        issuer_id,
        state,
        cast(rating_area as integer) as rating_area,
        metal_tier,
        plan_type,
        csr_variant,
        premium_age21,
        deductible_individual,
        moop_individual,
        cast(coinsurance_pct as integer) as coinsurance_pct,
        effective_date,
        expiration_date,
        cast(_load_date as date) as snapshot_date,
        _load_id,
        _source_line
    from plans
)

select * from final
