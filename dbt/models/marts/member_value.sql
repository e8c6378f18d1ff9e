-- Member value: one row per member (pseudonymous member_key only; no source id, no PHI).
--   tenure_months   member months up to the as-of month
--   premium_earned  premium billed for coverage months up to the as-of month on the member's
--                   own policy (premium rows belong to the subscriber; dependents show 0)
--   claims_paid     paid on the member's current claim lines; net_value = premium - claims
--   recency_days    days from the last service date of a counted (non-REVERSED) line to the
--                   as-of date (null without claims); frequency = distinct claims;
--                   monetary = claims paid
--   segment         no_claims (frequency 0); high_cost (claims > 3 x premium and a loss);
--                   loss (net_value < 0); active_profitable (last claim within 90 days);
--                   dormant_profitable (otherwise)
-- Refresh: full rebuild on each run.
with as_of as (
    select as_of_date, as_of_month from {{ ref('warehouse_as_of') }}
),

tenure as (
    select member_key, count(*) as tenure_months, min(month) as first_covered_month, max(month) as last_covered_month
    from {{ ref('fct_member_months') }}
    group by member_key
),

premiums as (
    select p.member_key, sum(p.premium_billed) as premium_earned
    from {{ ref('fct_premiums') }} as p
    cross join as_of
    where p.coverage_month <= as_of.as_of_month
    group by p.member_key
),

claims as (
    select
        member_key,
        sum(paid_amount) as claims_paid,
        count(distinct case when is_counted_line then claim_id end) as frequency,
        max(case when is_counted_line then service_from_date end) as last_service_date
    from {{ ref('fct_claim_lines') }}
    group by member_key
),

members as (
    select member_key from tenure
    union
    select member_key from premiums
    union
    select member_key from claims
),

measures as (
    select
        m.member_key,
        cast(coalesce(t.tenure_months, 0) as integer) as tenure_months,
        t.first_covered_month,
        t.last_covered_month,
        {{ money('coalesce(p.premium_earned, 0)') }} as premium_earned,
        {{ money('coalesce(c.claims_paid, 0)') }} as claims_paid,
        {{ money('coalesce(p.premium_earned, 0) - coalesce(c.claims_paid, 0)') }} as net_value,
        {{ days_between('c.last_service_date', 'a.as_of_date') }} as recency_days,
        cast(coalesce(c.frequency, 0) as integer) as frequency,
        {{ money('coalesce(c.claims_paid, 0)') }} as monetary
    from members as m
    cross join as_of as a
    left join tenure as t on t.member_key = m.member_key
    left join premiums as p on p.member_key = m.member_key
    left join claims as c on c.member_key = m.member_key
),

final as (
    select
        *,
        case
            when frequency = 0 then 'no_claims'
            when net_value < 0 and claims_paid > 3 * premium_earned then 'high_cost'
            when net_value < 0 then 'loss'
            when recency_days <= 90 then 'active_profitable'
            else 'dormant_profitable'
        end as segment
    from measures
)

select * from final
