{{ config(materialized='ephemeral') }}
-- Member snapshot rows reduced to the de-identified attributes the member dimension tracks
-- (no names, SSN, contact details, street address or full date of birth), keyed by member_key.
with members as (
    select * from {{ ref('stg_members') }}
),

identity as (
    select * from {{ ref('stg_member_identity') }}
),

keyed as (
    select
        {{ member_key_from_member_no('m.issuer_member_no') }} as member_key,
        m.snapshot_date,
        m.member_id,
        m.subscriber_id,
        m.relationship,
        m.gender,
        {{ year_of('m.date_of_birth') }} as birth_year,
        m.state,
        m.county_fips,
        left(m.zip, 3) as zip3,
        m.rating_area,
        m.tobacco_user,
        m.household_income_fpl_pct,
        m._source_line
    from members as m
),

deduplicated as (
    -- one row per member_key and snapshot (a member number listed twice keeps its first member_id)
    select
        *,
        row_number() over (partition by member_key, snapshot_date order by member_id, _source_line) as occurrence
    from keyed
),

subscriber_keys as (
    -- the member key each member number has in each snapshot, to resolve subscribers within a snapshot
    select
        member_id,
        snapshot_date,
        member_key as member_key_of_subscriber
    from deduplicated
    where occurrence = 1
),

final as (
    select
        d.member_key,
        d.snapshot_date,
        coalesce(
            same_snapshot.member_key_of_subscriber,
            s.member_key,
            {{ member_key_from_exchange_id('d.subscriber_id') }}
        ) as subscriber_member_key,
        d.member_id = d.subscriber_id as is_subscriber,
        d.relationship,
        d.gender,
        d.birth_year,
        d.state,
        d.county_fips,
        d.zip3,
        d.rating_area,
        d.tobacco_user,
        d.household_income_fpl_pct
    from deduplicated as d
    left join subscriber_keys as same_snapshot
        on same_snapshot.member_id = d.subscriber_id and same_snapshot.snapshot_date = d.snapshot_date
    left join identity as s on s.member_id = d.subscriber_id
    where d.occurrence = 1
)

select * from final
