{{ config(indexes=pg_indexes(['member_key', 'plan_key', 'coverage_month']), post_hook="{{ analyze_table() }}") }}
-- Premium billed per subscriber, product and coverage month. Grain: one row per payment_id (the
-- row from the latest load date; ties: the later source line), normally one per
-- subscriber x product x coverage month. premium_billed = aptc_amount + member_paid_amount.
-- The plan is the one the product maps to on the 1st of the coverage month (newest crosswalk),
-- plan and member versions are those valid on that day.
-- Full rebuild on each run: premium rows are few (one per subscriber and month).
with ranked as (
    select
        *,
        row_number() over (partition by payment_id order by _load_date desc, _source_line desc) as load_rank
    from {{ source('staging', 'premiums') }}
),

latest as (
    select
        *,
        cast(coverage_month || '-01' as date) as coverage_month_start,
        {{ member_key_from_member_no('member_no') }} as member_key
    from ranked
    where load_rank = 1
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
        r.coverage_month_start as coverage_month,
        {{ money('r.premium_billed') }} as premium_billed,
        {{ money('r.aptc_amount') }} as aptc_amount,
        {{ money('r.member_paid_amount') }} as member_paid_amount,
        cast(r.paid_date as date) as paid_date,
        cast(r._load_date as date) as _load_date,
        cast(r._source_file as varchar) as _source_file,
        cast(r._source_line as integer) as _source_line
    from latest as r
    {{ member_version_join('m', 'r.member_key', 'r.coverage_month_start') }}
    {{ product_plan_join('x', 'r.product_id', 'r.coverage_month_start') }}
    {{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'r.coverage_month_start') }}
)

select * from final
