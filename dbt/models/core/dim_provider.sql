{{ config(
    materialized='incremental',
    replace_key='npi',
    replace_tombstone_column='provider_key',
    rebuild_if_changed=['providers'],
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('stg_claims') }}, {{ ref('stg_providers') }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Provider dimension, SCD type 1: one row per NPI with the attributes of the newest provider
-- snapshot that lists it (stg_providers). Why type 1: provider snapshots are reference data whose
-- changes are mostly corrections; the money on a claim already reflects the network status that
-- applied when it was adjudicated; and claims_daily / claims_cube group by specialty, which
-- should not split one provider's history across values. A stable key (hash of the NPI) also
-- means a new provider snapshot never re-keys the incremental claim facts. The snapshots stay in
-- staging. NPIs on claims that no snapshot lists get an inferred row (completed in place when
-- they arrive).
-- Refresh: rebuilt when a providers snapshot changed; any other run only adds or drops inferred
-- rows for the NPIs of new or re-delivered claims.
{%- set all_rows = rebuild_all() %}
{%- set old_versions = none if all_rows else existing_relation('fct_claim_line_versions') %}

with listed as (
    select * from {{ ref('stg_providers') }}
),

claims as (
    select billing_npi, rendering_npi, _load_id from {{ ref('stg_claims') }}
),

{% if all_rows %}
candidates as (
    select billing_npi as npi from claims
    union
    select rendering_npi from claims where rendering_npi is not null
),
{% else %}
candidates as (
    select billing_npi as npi from claims where _load_id in {{ changed_loads('claims', 'added') }}
    union
    select rendering_npi from claims
    where rendering_npi is not null and _load_id in {{ changed_loads('claims', 'added') }}
    {% if old_versions %}
    union
    select d.npi
    from {{ this }} as d
    inner join {{ old_versions }} as v
        on d.provider_key in (v.billing_provider_key, v.rendering_provider_key)
    where v._load_id in {{ changed_loads('claims', 'removed') }}
    {% endif %}
),
{% endif %}

unlisted as (
    select distinct c.npi
    from candidates as c
    where c.npi is not null
      and not exists (select 1 from listed as l where l.npi = c.npi)
),

referenced as (
    -- of those, the NPIs a staged claim still references (on a full build all of them)
    {% if all_rows %}
    select npi from unlisted
    {% else %}
    select billing_npi as npi from claims where billing_npi in (select npi from unlisted)
    union
    select rendering_npi from claims where rendering_npi in (select npi from unlisted)
    {% endif %}
),

known as (
    select
        npi,
        provider_name,
        specialty,
        taxonomy_code,
        entity_type,
        network_status,
        city,
        state,
        zip,
        false as is_inferred,
        first_snapshot_date,
        last_snapshot_date,
        is_in_newest_snapshot,
        false as is_dropped
    from listed
    {% if not all_rows %}where 1 = 0{% endif %}
),

inferred as (
    select
        u.npi,
        cast(null as {{ text_type() }}) as provider_name,
        cast(null as {{ text_type() }}) as specialty,
        cast(null as {{ text_type() }}) as taxonomy_code,
        cast(null as integer) as entity_type,
        cast(null as {{ text_type() }}) as network_status,
        cast(null as {{ text_type() }}) as city,
        cast(null as {{ text_type() }}) as state,
        cast(null as {{ text_type() }}) as zip,
        true as is_inferred,
        cast(null as date) as first_snapshot_date,
        cast(null as date) as last_snapshot_date,
        false as is_in_newest_snapshot,
        r.npi is null as is_dropped
    from unlisted as u
    left join referenced as r on r.npi = u.npi
),

final as (
    select
        -- an NPI no snapshot lists and no claim references any more is a tombstone (deleted)
        case when not is_dropped then {{ surrogate_key(['npi']) }} end as provider_key,
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
