{{ config(materialized='incremental', replace_key='geography_key', rebuild_if_changed=['members']) }}
-- depends_on: {{ ref('dim_member') }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Geography dimension: one row per (state, county_fips, zip3, rating_area) of a member version,
-- plus the unknown geography (all four null) that inferred members carry. geography_key is the
-- hash of the four attributes, so it is stable. Refresh: rebuilt when member snapshots changed
-- (only they bring geographies); other runs leave it as it is.
with member_geographies as (
    select distinct state, county_fips, zip3, rating_area
    from {{ ref('dim_member') }}
    {% if not rebuild_all() %}where 1 = 0{% endif %}
),

with_unknown as (
    select state, county_fips, zip3, cast(rating_area as integer) as rating_area from member_geographies
    {% if rebuild_all() %}
    union
    select cast(null as {{ text_type() }}), cast(null as {{ text_type() }}), cast(null as {{ text_type() }}), cast(null as integer)
    {% endif %}
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
