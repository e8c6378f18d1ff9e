{{ config(materialized='incremental', replace_key='payment_id', replace_removed_loads=true) }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Premium payments after the cross-load rule of LANDING.md: the row of a payment_id from the
-- latest load date replaces the others (ties: the later source line). With the subscriber's
-- pseudonymous member_key and the coverage month as a date. Grain: one row per payment_id.
-- Incremental like stg_claims: recomputed for the payment_ids of added loads and of re-delivered
-- winning loads.
with premiums as (
    select * from {{ source('staging', 'premiums') }}
),

{% if is_incremental() %}
work as (
    select payment_id from premiums where _load_id in {{ changed_loads('premiums', 'added') }}
    union
    select payment_id from {{ this }} where _load_id in {{ changed_loads('premiums', 'removed') }}
),

candidates as (
    select p.*
    from premiums as p
    inner join work as w on w.payment_id = p.payment_id
),
{% else %}
candidates as (
    select * from premiums
),
{% endif %}

ranked as (
    select
        *,
        row_number() over (partition by payment_id order by _load_date desc, _source_line desc) as load_rank
    from candidates
),

final as (
    select
        payment_id,
        member_no,
        {{ member_key_from_member_no('member_no') }} as member_key,
        product_id,
        cast(coverage_month || '-01' as date) as coverage_month,
        premium_billed,
        aptc_amount,
        member_paid_amount,
        paid_date,
        cast(_load_date as date) as _load_date,
        _load_id,
        _source_file,
        cast(_source_line as integer) as _source_line
    from ranked
    where load_rank = 1
)

select * from final
