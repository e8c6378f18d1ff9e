-- depends_on: {{ ref('stg_premiums') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('dim_member') }}, {{ ref('bridge_product_plan') }}, {{ ref('dim_plan') }}
-- Work list of fct_premiums and of the premium parts of the marts for this run: the payments whose
-- row may have changed since the last build, with their member and coverage month before and
-- after. A payment is touched when its winning row is in a load added since the last build, when
-- the fact holds it from a re-delivered load, or (only when a members, plans or products snapshot
-- changed) when its stored member version, plan or plan key is no longer the one valid on the
-- 1st of its coverage month. Empty on a first build or a full refresh.
{%- set premiums = none if flags.FULL_REFRESH else existing_relation('fct_premiums') %}

with staged as (
    select payment_id, member_key, coverage_month, _load_id from {{ ref('stg_premiums') }}
),

{% if premiums %}
touched_ids as (
    select payment_id from staged where _load_id in {{ changed_loads('premiums', 'added') }}
    union
    select payment_id from {{ premiums }} where _load_id in {{ changed_loads('premiums', 'removed') }}
    {% if feeds_changed(['members', 'plans', 'products']) %}
    union
    select f.payment_id
    from {{ premiums }} as f
    {{ member_version_join('m', 'f.member_key', 'f.coverage_month') }}
    {{ product_plan_join('x', 'f.product_id', 'f.coverage_month') }}
    {{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'f.coverage_month') }}
    where f.member_version_key is distinct from m.member_version_key
       or f.hios_plan_id is distinct from coalesce(x.hios_plan_id, 'UNKNOWN')
       or f.plan_key is distinct from {{ plan_key_expr('p') }}
    {% endif %}
),

states as (
    select s.payment_id, s.member_key, s.coverage_month
    from staged as s
    inner join touched_ids as t on t.payment_id = s.payment_id
    union
    select f.payment_id, f.member_key, f.coverage_month
    from {{ premiums }} as f
    inner join touched_ids as t on t.payment_id = f.payment_id
)
{% else %}
states as (
    select payment_id, member_key, coverage_month from staged where 1 = 0
)
{% endif %}

select
    cast(payment_id as {{ text_type() }}) as payment_id,
    cast(member_key as {{ text_type() }}) as member_key,
    cast(coverage_month as date) as coverage_month
from states
