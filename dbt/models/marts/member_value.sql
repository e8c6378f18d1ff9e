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
-- Refresh: rebuilt on each run from int_member_totals (one row per member: the as-of date moves
-- every recency), never from the facts.
with as_of as (
    select as_of_date from {{ ref('warehouse_as_of') }}
),

measures as (
    select
        t.member_key,
        t.tenure_months,
        t.first_covered_month,
        t.last_covered_month,
        t.premium_earned,
        t.claims_paid,
        {{ money('t.premium_earned - t.claims_paid') }} as net_value,
        {{ days_between('t.last_service_date', 'a.as_of_date') }} as recency_days,
        t.frequency,
        t.claims_paid as monetary
    from {{ ref('int_member_totals') }} as t
    cross join as_of as a
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
