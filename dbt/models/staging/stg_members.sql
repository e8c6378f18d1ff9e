-- Member snapshots, every snapshot. Direct identifiers (names, SSN, contact details, street
-- address) are left in staging.members: nothing downstream needs them; date_of_birth stays for
-- the birth year (this view lives in the restricted staging schema). No keyed hashes here: a
-- view's SQL is stored in the catalog, so the member-key secret is only ever rendered into
-- tables' builds. Grain: one row per member_id per snapshot.
with members as (
    select * from {{ source('staging', 'members') }}
),

final as (
    select
        member_id,
        issuer_member_no,
        subscriber_id,
        relationship,
        date_of_birth,
        gender,
        state,
        county_fips,
        zip,
        cast(rating_area as integer) as rating_area,
        tobacco_user,
        cast(household_income_fpl_pct as integer) as household_income_fpl_pct,
        cast(_load_date as date) as snapshot_date,
        _load_id,
        _source_line
    from members
)

select * from final
