{{ config(post_hook="{{ analyze_table() }}") }}
-- Provider dimension, SCD type 1: one row per NPI with the attributes of the newest provider
-- snapshot that lists it. Why type 1: provider snapshots are reference data whose changes are
-- mostly corrections; the money on a claim already reflects the network status that applied
-- when it was adjudicated; and claims_daily / claims_cube group by specialty, which should not
-- split one provider's history across values. A stable key (hash of the NPI) also means a new
-- provider snapshot never re-keys the incremental claim facts. The snapshots stay in staging.
-- NPIs on claims that no snapshot lists get an inferred row (completed in place when they arrive).
with provider_rows as (
    select
        *,
        row_number() over (partition by npi order by _load_date desc, _source_line asc) as recency,
        min(_load_date) over (partition by npi) as first_snapshot_date
    from {{ source('staging', 'providers') }}
),

newest_snapshot as (
    select max(_load_date) as snapshot_date from {{ source('staging', 'providers') }}
),

claim_npis as (
    select billing_npi as npi from {{ source('staging', 'claims') }}
    union
    select rendering_npi from {{ source('staging', 'claims') }} where rendering_npi is not null
),

known as (
    select
        p.npi,
        p.provider_name,
        p.specialty,
        p.taxonomy_code,
        cast(p.entity_type as integer) as entity_type,
        p.network_status,
        p.city,
        p.state,
        p.zip,
        false as is_inferred,
        p.first_snapshot_date,
        p._load_date as last_snapshot_date,
        p._load_date = n.snapshot_date as is_in_newest_snapshot
    from provider_rows as p
    cross join newest_snapshot as n
    where p.recency = 1
),

inferred as (
    select
        c.npi,
        cast(null as varchar) as provider_name,
        cast(null as varchar) as specialty,
        cast(null as varchar) as taxonomy_code,
        cast(null as integer) as entity_type,
        cast(null as varchar) as network_status,
        cast(null as varchar) as city,
        cast(null as varchar) as state,
        cast(null as varchar) as zip,
        true as is_inferred,
        cast(null as date) as first_snapshot_date,
        cast(null as date) as last_snapshot_date,
        false as is_in_newest_snapshot
    from claim_npis as c
    where not exists (select 1 from known as k where k.npi = c.npi)
),

final as (
    select
        {{ surrogate_key(['npi']) }} as provider_key,
        npi,
        provider_name,
        coalesce(specialty, 'UNKNOWN') as specialty,
        taxonomy_code,
        entity_type,
        case entity_type when 1 then 'individual' when 2 then 'organization' end as entity_type_name,
        network_status,
        city,
        state,
        left(zip, 3) as zip3,
        is_inferred,
        first_snapshot_date,
        last_snapshot_date,
        is_in_newest_snapshot
    from (select * from known union all select * from inferred) as providers
)

select * from final
