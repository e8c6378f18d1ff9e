{{ config(post_hook="{{ analyze_table() }}") }}
-- Member dimension, SCD type 2, de-identified and conformed across both source systems.
-- Grain: one row per member_key and version. member_key is the durable pseudonym (keyed hash of
-- the claims-system member number); member_version_key identifies one version.
-- Rebuilt from every staged member snapshot on each run (replay-safe, order-independent).
-- Members referenced by claims, premiums or enrollment events but absent from every snapshot
-- get one inferred row (record_status = 'inferred', attributes null) valid for all time; when
-- the member arrives the row is completed in place: the member's first version keeps the same
-- member_version_key (it is keyed on member_key and pit_valid_from = 1900-01-01).
{%- set attributes = [
    'subscriber_member_key', 'is_subscriber', 'relationship', 'gender', 'birth_year',
    'state', 'county_fips', 'zip3', 'rating_area', 'tobacco_user', 'household_income_fpl_pct'
] %}

with member_snapshots as (
    select * from {{ ref('int_member_snapshots') }}
),

{{ scd2_versions('member_snapshots', ['member_key'], attributes) }},

identity as (
    select * from {{ ref('int_member_identity') }}
),

referenced_member_keys as (
    select distinct {{ member_key_from_member_no('member_no') }} as member_key
    from (
        select distinct member_no from {{ source('staging', 'claims') }}
        union
        select distinct member_no from {{ source('staging', 'premiums') }}
    ) as claims_system_members
    union
    select distinct coalesce(i.member_key, {{ member_key_from_exchange_id('e.member_id') }}) as member_key
    from (select distinct member_id from {{ source('staging', 'enrollment_events') }}) as e
    left join identity as i on i.member_id = e.member_id
),

inferred as (
    select
        r.member_key,
        1 as version_number,
        {{ start_of_time() }} as valid_from,
        {{ end_of_time() }} as valid_to,
        {{ start_of_time() }} as pit_valid_from,
        true as is_current,
        'inferred' as record_status,
        cast(null as varchar) as subscriber_member_key,
        cast(null as boolean) as is_subscriber,
        cast(null as varchar) as relationship,
        cast(null as varchar) as gender,
        cast(null as integer) as birth_year,
        cast(null as varchar) as state,
        cast(null as varchar) as county_fips,
        cast(null as varchar) as zip3,
        cast(null as integer) as rating_area,
        cast(null as varchar) as tobacco_user,
        cast(null as integer) as household_income_fpl_pct,
        cast(null as varchar) as attribute_hash
    from referenced_member_keys as r
    where not exists (select 1 from scd2_final as v where v.member_key = r.member_key)
),

all_versions as (
    select
        member_key, version_number, valid_from, valid_to, pit_valid_from, is_current, record_status,
        {% for a in attributes %}{{ a }}, {% endfor %}attribute_hash
    from scd2_final
    union all
    select
        member_key, version_number, valid_from, valid_to, pit_valid_from, is_current, record_status,
        {% for a in attributes %}{{ a }}, {% endfor %}attribute_hash
    from inferred
),

final as (
    select
        {{ surrogate_key(['member_key', 'pit_valid_from']) }} as member_version_key,
        member_key,
        version_number,
        valid_from,
        valid_to,
        pit_valid_from,
        is_current,
        record_status,
        record_status = 'inferred' as is_inferred,
        subscriber_member_key,
        is_subscriber,
        relationship,
        gender,
        cast(birth_year as integer) as birth_year,
        state,
        county_fips,
        zip3,
        cast(rating_area as integer) as rating_area,
        {{ surrogate_key(['state', 'county_fips', 'zip3', 'rating_area']) }} as geography_key,
        tobacco_user,
        cast(household_income_fpl_pct as integer) as household_income_fpl_pct,
        attribute_hash
    from all_versions
)

select * from final
