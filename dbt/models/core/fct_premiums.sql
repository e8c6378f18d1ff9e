{{ config(
    materialized='incremental',
    replace_key='payment_id',
    replace_also=[{'column': 'payment_id', 'work': 'int_premiums_touched'}],
    indexes=pg_indexes(['member_key', 'plan_key', 'coverage_month']),
    post_hook="{{ analyze_table() }}"
) }}
-- depends_on: {{ ref('bridge_product_plan') }}, {{ ref('dim_member') }}, {{ ref('dim_plan') }}, {{ ref('stg_premiums') }}
-- depends_on: {{ ref('int_premiums_touched') }}
-- Premium billed per subscriber, product and coverage month. Grain: one row per payment_id (the
-- row from the latest load date, stg_premiums), normally one per subscriber x product x coverage
-- month. premium_billed = aptc_amount + member_paid_amount. The plan is the one the product maps
-- to on the 1st of the coverage month (newest crosswalk); plan and member versions are those
-- valid on that day.
-- Incremental: a run rebuilds the payments in int_premiums_touched.
with latest as (
    select *
    from {{ ref('stg_premiums') }}
    {% if is_incremental() %}
    where payment_id in (select payment_id from {{ ref('int_premiums_touched') }})
    {% endif %}
),

final as (
    select
        {{ surrogate_key(['r.payment_id']) }} as premium_key,
        r.payment_id,
        r.member_key,
        m.member_version_key,
        r.product_id,
        coalesce(x.hios_plan_id, 'UNKNOWN') as hios_plan_id,
        {{ plan_key_expr('p') }} as plan_key,
        r.coverage_month,
        {{ money('r.premium_billed') }} as premium_billed,
        {{ money('r.aptc_amount') }} as aptc_amount,
        {{ money('r.member_paid_amount') }} as member_paid_amount,
        cast(r.paid_date as date) as paid_date,
        cast(r._load_date as date) as _load_date,
        cast(r._load_id as {{ text_type() }}) as _load_id,
        cast(r._source_file as {{ text_type() }}) as _source_file,
        cast(r._source_line as integer) as _source_line
    from latest as r
    {{ member_version_join('m', 'r.member_key', 'r.coverage_month') }}
    {{ product_plan_join('x', 'r.product_id', 'r.coverage_month') }}
    {{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'r.coverage_month') }}
)

select * from final
