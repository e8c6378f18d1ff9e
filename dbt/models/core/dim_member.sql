{{ config(
    materialized='incremental',
    replace_key='member_key',
    replace_tombstone_column='member_version_key',
    rebuild_if_changed=['members'],
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('int_enrollment_events') }}, {{ ref('int_member_snapshots') }}, {{ ref('stg_claims') }}, {{ ref('stg_premiums') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_events_touched') }}
-- Member dimension, SCD type 2, de-identified and conformed across both source systems.
-- Grain: one row per member_key and version. member_key is the durable pseudonym (keyed hash of
-- the claims-system member number); member_version_key identifies one version.
-- Members referenced by claims, premiums or enrollment events but absent from every snapshot
-- get one inferred row (record_status = 'inferred', attributes null) valid for all time; when
-- the member arrives the row is completed in place: the member's first version keeps the same
-- member_version_key (it is keyed on member_key and pit_valid_from = 1900-01-01).
-- Refresh: a change of member snapshots (a new, late or re-delivered snapshot) rebuilds the
-- versions from every staged snapshot (replay-safe, order-independent). Any other run only
-- adds or drops inferred rows: for the members its new or re-delivered claims, premiums and
-- events reference (a member no snapshot lists and nothing references any more is dropped).
{%- set all_rows = rebuild_all() %}
{%- set old_claims = none if all_rows else existing_relation('fct_claim_line_versions') %}
{%- set old_premiums = none if all_rows else existing_relation('fct_premiums') %}
{%- set attributes = [
    'subscriber_member_key', 'is_subscriber', 'relationship', 'gender', 'birth_year',
    'state', 'county_fips', 'zip3', 'rating_area', 'tobacco_user', 'household_income_fpl_pct'
] %}

with
{% if all_rows %}
member_snapshots as (
    select * from {{ ref('int_member_snapshots') }}
),

{{ scd2_versions('member_snapshots', ['member_key'], attributes) }},

versioned_keys as (
    select distinct member_key from scd2_final
),

candidate_keys as (
    -- every member any staged fact references
    select member_key from {{ ref('stg_claims') }}
    union
    select member_key from {{ ref('stg_premiums') }}
    union
    select member_key from {{ ref('int_enrollment_events') }}
),
{% else %}
scd2_final as (
    -- versions are unchanged: no member snapshot changed
    select * from {{ this }} where 1 = 0
),

versioned_keys as (
    select distinct member_key from {{ this }} where record_status <> 'inferred'
),

candidate_keys as (
    -- the members this run's new or re-delivered facts reference, now or before
    select member_key from {{ ref('int_events_touched') }}
    union
    select member_key from {{ ref('stg_claims') }}
    where _load_id in {{ changed_loads('claims', 'added') }}
    union
    select member_key from {{ ref('stg_premiums') }}
    where _load_id in {{ changed_loads('premiums', 'added') }}
    {% if old_claims %}
    union
    select member_key from {{ old_claims }}
    where _load_id in {{ changed_loads('claims', 'removed') }}
    {% endif %}
    {% if old_premiums %}
    union
    select member_key from {{ old_premiums }}
    where _load_id in {{ changed_loads('premiums', 'removed') }}
    {% endif %}
),
{% endif %}

unversioned_candidates as (
    select distinct c.member_key
    from candidate_keys as c
    where c.member_key is not null
      and not exists (select 1 from versioned_keys as v where v.member_key = c.member_key)
),

referenced as (
    -- of those, the ones a staged fact still references (on a full build all of them are)
    {% if all_rows %}
    select member_key from unversioned_candidates
    {% else %}
    select member_key from {{ ref('stg_claims') }}
    where member_key in (select member_key from unversioned_candidates)
    union
    select member_key from {{ ref('stg_premiums') }}
    where member_key in (select member_key from unversioned_candidates)
    union
    select member_key from {{ ref('int_enrollment_events') }}
    where member_key in (select member_key from unversioned_candidates)
    {% endif %}
),

inferred as (
    select
        u.member_key,
        1 as version_number,
        {{ start_of_time() }} as valid_from,
        {{ end_of_time() }} as valid_to,
        {{ start_of_time() }} as pit_valid_from,
        true as is_current,
        case when r.member_key is null then 'dropped' else 'inferred' end as record_status,
        cast(null as {{ text_type() }}) as subscriber_member_key,
        cast(null as boolean) as is_subscriber,
        cast(null as {{ text_type() }}) as relationship,
        cast(null as {{ text_type() }}) as gender,
        cast(null as integer) as birth_year,
        cast(null as {{ text_type() }}) as state,
        cast(null as {{ text_type() }}) as county_fips,
        cast(null as {{ text_type() }}) as zip3,
        cast(null as integer) as rating_area,
        cast(null as {{ text_type() }}) as tobacco_user,
        cast(null as integer) as household_income_fpl_pct,
        cast(null as {{ text_type() }}) as attribute_hash
    from unversioned_candidates as u
    left join referenced as r on r.member_key = u.member_key
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
    {% if all_rows %}where record_status = 'inferred'{% endif %}
),

final as (
    select
        -- a dropped member (no snapshot lists it, no fact references it any more) is a tombstone:
        -- the replace strategy deletes its row and inserts nothing
        case
            when record_status <> 'dropped' then {{ surrogate_key(['member_key', 'pit_valid_from']) }}
        end as member_version_key,
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
