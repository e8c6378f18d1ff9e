-- Geography dimension: one row per (state, county_fips, zip3, rating_area) seen on a member
-- version, plus the unknown geography (all four null) used by inferred members.
-- Rebuilt on each run; geography_key is the hash of the four attributes, so it is stable.
with member_geographies as (
    select distinct state, county_fips, zip3, rating_area
    from {{ ref('int_member_snapshots') }}
),

with_unknown as (
    select state, county_fips, zip3, cast(rating_area as integer) as rating_area from member_geographies
    union
    select cast(null as varchar), cast(null as varchar), cast(null as varchar), cast(null as integer)
),

final as (
    select
        {{ surrogate_key(['state', 'county_fips', 'zip3', 'rating_area']) }} as geography_key,
        state,
        county_fips,
        zip3,
        rating_area,
        state is null and county_fips is null and zip3 is null and rating_area is null as is_unknown
    from with_unknown
)

select * from final
