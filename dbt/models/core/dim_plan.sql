{{ config(post_hook="{{ analyze_table() }}") }}
-- Plan dimension, SCD type 2 and conformed across both systems.
-- Grain: one row per (hios_plan_id, plan_year) and version, rebuilt on each run from every
-- staged plans snapshot (a few rows per plan and snapshot) (point-in-time: join on pit_valid_from <= date < valid_to). Claims and premiums reach
-- it through bridge_product_plan (product_id -> hios_plan_id on a date), enrollment facts through
-- their hios_plan_id, so every fact lands on the same rows. Plus:
--   * one fallback row per known hios_plan_id with plan_year null (record_status 'inferred'),
--     for facts in a plan year the catalog does not (yet) list; attributes null;
--   * the unknown plan (hios_plan_id = 'UNKNOWN') for products with no mapping on the date.
{%- set attributes = [
    'plan_name', 'issuer_name', 'issuer_id', 'state', 'rating_area', 'metal_tier', 'plan_type',
    'csr_variant', 'premium_age21', 'deductible_individual', 'moop_individual', 'coinsurance_pct',
    'effective_date', 'expiration_date'
] %}

with plan_snapshots as (
    select
        hios_plan_id,
        plan_year,
        snapshot_date,
        {{ attributes | join(', ') }}
    from {{ ref('stg_plans') }}
),

{{ scd2_versions('plan_snapshots', ['hios_plan_id', 'plan_year'], attributes) }},

known_hios_plan_ids as (
    select hios_plan_id from {{ ref('stg_plans') }}
    union
    select hios_plan_id from {{ ref('bridge_product_plan') }}
    union
    select hios_plan_id from {{ ref('stg_enrollment_events') }} where hios_plan_id is not null
),

fallback_and_unknown as (
    select hios_plan_id, 'inferred' as record_status from known_hios_plan_ids where hios_plan_id <> 'UNKNOWN'
    union all
    select 'UNKNOWN', 'unknown'
),

all_rows as (
    select
        hios_plan_id, cast(plan_year as integer) as plan_year, version_number, valid_from, valid_to,
        pit_valid_from, is_current, record_status,
        {{ attributes | join(', ') }},
        attribute_hash
    from scd2_final
    union all
    select
        hios_plan_id, cast(null as integer), 1, {{ start_of_time() }}, {{ end_of_time() }},
        {{ start_of_time() }}, true, record_status,
        {% for a in attributes %}null, {% endfor %}
        cast(null as {{ text_type() }})
    from fallback_and_unknown
),

final as (
    select
        {{ surrogate_key(['hios_plan_id', 'plan_year', 'pit_valid_from']) }} as plan_key,
        hios_plan_id,
        plan_year,
        version_number,
        valid_from,
        valid_to,
        pit_valid_from,
        is_current,
        record_status,
        record_status in ('inferred', 'unknown') as is_inferred,
        hios_plan_id = 'UNKNOWN' as is_unknown,
        -- the first 5 characters of the HIOS id (the catalog's issuer_id must equal them)
        case when hios_plan_id = 'UNKNOWN' then null else left(hios_plan_id, 5) end as issuer_id,
        issuer_name,
        plan_name,
        state,
        cast(rating_area as integer) as rating_area,
        metal_tier,
        plan_type,
        csr_variant,
        {{ money('premium_age21') }} as premium_age21,
        {{ money('deductible_individual') }} as deductible_individual,
        {{ money('moop_individual') }} as moop_individual,
        cast(coinsurance_pct as integer) as coinsurance_pct,
        cast(effective_date as date) as plan_effective_date,
        cast(expiration_date as date) as plan_expiration_date,
        attribute_hash
    from all_rows
)

select * from final
