{{ config(
    materialized='incremental',
    replace_key='member_key',
    replace_also=[{'column': 'member_key', 'work': 'int_members_touched'}],
    rebuild_if_changed=['members'],
    rebuild_if_as_of_month_changed=true
) }}
-- depends_on: {{ ref('fct_claim_lines') }}, {{ ref('fct_member_months') }}, {{ ref('fct_premiums') }}
-- depends_on: {{ ref('stg_load_changes') }}, {{ ref('int_as_of_moves') }}, {{ ref('int_members_touched') }}
-- Per member, the totals marts.member_value is made of: member months (tenure, first and last
-- covered month) up to the as-of month, premium earned up to the as-of month, claims paid,
-- distinct counted claims and the last service date of a counted line. One row per member.
-- Incremental: a run recomputes the members in int_members_touched; a move of the as-of month
-- (premium and member months up to it) or a change of member snapshots (member keys)
-- recomputes every member.
{%- set all_rows = rebuild_all() %}

with as_of as (
    select as_of_month from {{ ref('warehouse_as_of') }}
),

work_members as (
    select member_key from {{ ref('int_members_touched') }}
),

tenure as (
    select
        member_key,
        count(*) as tenure_months,
        min(month) as first_covered_month,
        max(month) as last_covered_month
    from {{ ref('fct_member_months') }}
    {% if not all_rows %}where member_key in (select member_key from work_members){% endif %}
    group by member_key
),

premiums as (
    select p.member_key, sum(p.premium_billed) as premium_earned
    from {{ ref('fct_premiums') }} as p
    cross join as_of
    where p.coverage_month <= as_of.as_of_month
    {% if not all_rows %}and p.member_key in (select member_key from work_members){% endif %}
    group by p.member_key
),

claims as (
    select
        member_key,
        sum(paid_amount) as claims_paid,
        count(distinct case when is_counted_line then claim_id end) as frequency,
        max(case when is_counted_line then service_from_date end) as last_service_date
    from {{ ref('fct_claim_lines') }}
    {% if not all_rows %}where member_key in (select member_key from work_members){% endif %}
    group by member_key
),

members as (
    select member_key from tenure
    union
    select member_key from premiums
    union
    select member_key from claims
),

final as (
    select
        m.member_key,
        cast(coalesce(t.tenure_months, 0) as integer) as tenure_months,
        t.first_covered_month,
        t.last_covered_month,
        {{ money('coalesce(p.premium_earned, 0)') }} as premium_earned,
        {{ money('coalesce(c.claims_paid, 0)') }} as claims_paid,
        cast(coalesce(c.frequency, 0) as integer) as frequency,
        c.last_service_date
    from members as m
    left join tenure as t on t.member_key = m.member_key
    left join premiums as p on p.member_key = m.member_key
    left join claims as c on c.member_key = m.member_key
)

select * from final
