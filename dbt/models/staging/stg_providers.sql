-- Providers as the newest snapshot that lists each NPI says they are (type-1 reference data),
-- with the first snapshot that listed it and whether the newest snapshot of all still does.
-- Grain: one row per NPI.
with providers as (
    select * from {{ source('staging', 'providers') }}
),

listings as (
    select
        *,
        row_number() over (partition by npi order by _load_date desc, _source_line asc) as recency,
        min(_load_date) over (partition by npi) as first_snapshot_date
    from providers
),

newest_snapshot as (
    select max(_load_date) as snapshot_date from providers
),

final as (
    select
        l.npi,
        l.provider_name,
        l.specialty,
        l.taxonomy_code,
        cast(l.entity_type as integer) as entity_type,
        l.network_status,
        l.city,
        l.state,
        l.zip,
        cast(l.first_snapshot_date as date) as first_snapshot_date,
        cast(l._load_date as date) as last_snapshot_date,
        l._load_date = n.snapshot_date as is_in_newest_snapshot
    from listings as l
    cross join newest_snapshot as n
    where l.recency = 1
)

select * from final
