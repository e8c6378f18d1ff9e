{{ config(post_hook="{{ analyze_table() }}") }}
-- depends_on: {{ ref('stg_claims') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('dim_member') }}, {{ ref('bridge_product_plan') }}, {{ ref('dim_plan') }}, {{ ref('dim_provider') }}
-- Work list of the incremental claim facts and of every claims mart for this run: the claim
-- lines whose current state may have changed since the last build, with their member and
-- service date before and after. A line is touched when
--   * a version of it won in a load added since the last build (stg_claims), or
--   * the facts hold a version of it from a load that has been re-delivered since, or
--   * (only when a members, plans, products or providers snapshot changed) its stored dimension
--     keys or provider specialty are no longer the ones valid on its service date.
-- Built after the dimensions and before the facts change, so it holds both states. Empty on a
-- first build or a full refresh (the facts are built from scratch then).
{%- set versions = none if flags.FULL_REFRESH else existing_relation('fct_claim_line_versions') %}

with staged as (
    select claim_line_key, claim_id, line_number, member_key, service_from_date, _load_id
    from {{ ref('stg_claims') }}
),

{% if versions %}
touched_keys as (
    select claim_line_key from staged where _load_id in {{ changed_loads('claims', 'added') }}
    union
    select claim_line_key from {{ versions }} where _load_id in {{ changed_loads('claims', 'removed') }}
    {% if fact_dimensions_changed() %}
    union
    select v.claim_line_key
    from {{ versions }} as v
    {{ member_version_join('m', 'v.member_key', 'v.service_from_date') }}
    {{ product_plan_join('x', 'v.product_id', 'v.service_from_date') }}
    {{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'v.service_from_date') }}
    left join {{ ref('dim_provider') }} as sp on sp.provider_key = v.servicing_provider_key
    where v.member_version_key is distinct from m.member_version_key
       or v.hios_plan_id is distinct from coalesce(x.hios_plan_id, 'UNKNOWN')
       or v.plan_key is distinct from {{ plan_key_expr('p') }}
       or v.servicing_specialty is distinct from coalesce(sp.specialty, 'UNKNOWN')
    {% endif %}
),

states as (
    -- after: every staged version of a touched line; before: every version the facts hold
    select s.claim_line_key, s.claim_id, s.line_number, s.member_key, s.service_from_date
    from staged as s
    inner join touched_keys as t on t.claim_line_key = s.claim_line_key
    union
    select v.claim_line_key, v.claim_id, v.line_number, v.member_key, v.service_from_date
    from {{ versions }} as v
    inner join touched_keys as t on t.claim_line_key = v.claim_line_key
)
{% else %}
states as (
    select claim_line_key, claim_id, line_number, member_key, service_from_date
    from staged
    where 1 = 0
)
{% endif %}

select
    cast(claim_line_key as {{ text_type() }}) as claim_line_key,
    cast(claim_id as {{ text_type() }}) as claim_id,
    cast(line_number as integer) as line_number,
    cast(member_key as {{ text_type() }}) as member_key,
    cast(service_from_date as date) as service_from_date
from states
