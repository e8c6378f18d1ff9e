{{ config(post_hook="{{ analyze_table() }}") }}
-- depends_on: {{ ref('dim_member') }}, {{ ref('bridge_product_plan') }}, {{ ref('dim_plan') }}, {{ ref('dim_provider') }}
-- Claim lines (and their service dates) this run must recompute in the incremental claim facts
-- and in marts.claims_daily. A line is touched when
--   * a staged row of it belongs to a load in the run's window [min_date, max_date) or to a
--     load the facts have not processed yet (staged outside every window run so far), or
--   * the facts hold a version of it from a load date in the window or from a load that is no
--     longer staged (a re-delivered file replaced it and may have dropped or changed the line), or
--   * its stored dimension keys or provider specialty are no longer the ones valid on its
--     service date (a late or corrected member, products, plans or providers snapshot).
-- Built before the facts change, so the service dates include the facts' old ones.
-- With --full-refresh the facts are rebuilt from scratch and their old state is not read.
{%- set versions = none if flags.FULL_REFRESH else existing_relation('fct_claim_line_versions') %}
{%- set ledger = none if flags.FULL_REFRESH else existing_relation('int_claim_loads_processed') %}

with staged_loads as (
    select distinct _load_date as load_date, _load_id as load_id
    from {{ source('staging', 'claims') }}
),

loads_to_process as (
    select load_id from staged_loads where {{ in_load_window('load_date') }}
    {% if ledger %}
    union
    select s.load_id
    from staged_loads as s
    where not exists (select 1 from {{ ledger }} as l where l.load_id = s.load_id)
    {% endif %}
),

new_lines as (
    select c.claim_id, c.line_number
    from {{ source('staging', 'claims') }} as c
    inner join loads_to_process as l on l.load_id = c._load_id
),

{% if versions %}
replaced_load_dates as (
    {% if ledger %}
    select l.load_date
    from {{ ledger }} as l
    where not exists (select 1 from staged_loads as s where s.load_id = l.load_id)
    {% else %}
    select cast(null as date) as load_date where 1 = 0
    {% endif %}
),

previously_loaded as (
    select v.claim_id, v.line_number
    from {{ versions }} as v
    where {{ in_load_window('v._load_date') }}
       or v._load_date in (select load_date from replaced_load_dates)
),

rekeyed as (
    select v.claim_id, v.line_number
    from {{ versions }} as v
    {{ member_version_join('m', 'v.member_key', 'v.service_from_date') }}
    {{ product_plan_join('x', 'v.product_id', 'v.service_from_date') }}
    {{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'v.service_from_date') }}
    left join {{ ref('dim_provider') }} as sp on sp.provider_key = v.servicing_provider_key
    where v.member_version_key is distinct from m.member_version_key
       or v.hios_plan_id is distinct from coalesce(x.hios_plan_id, 'UNKNOWN')
       or v.plan_key is distinct from {{ plan_key_expr('p') }}
       or v.servicing_specialty is distinct from coalesce(sp.specialty, 'UNKNOWN')
),
{% endif %}

touched_lines as (
    select claim_id, line_number from new_lines
    {% if versions %}
    union
    select claim_id, line_number from previously_loaded
    union
    select claim_id, line_number from rekeyed
    {% endif %}
),

service_dates as (
    select t.claim_id, t.line_number, c.service_from_date
    from touched_lines as t
    inner join {{ source('staging', 'claims') }} as c
        on c.claim_id = t.claim_id and c.line_number = t.line_number
    {% if versions %}
    union
    select t.claim_id, t.line_number, v.service_from_date
    from touched_lines as t
    inner join {{ versions }} as v
        on v.claim_id = t.claim_id and v.line_number = t.line_number
    {% endif %}
),

final as (
    select
        {{ surrogate_key(['claim_id', 'line_number']) }} as claim_line_key,
        claim_id,
        line_number,
        service_from_date
    from service_dates
)

select * from final
