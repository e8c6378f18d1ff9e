{{ config(
    materialized='incremental',
    replace_key='service_date',
    replace_also=[{'column': 'service_date', 'work': 'int_claim_lines_touched', 'work_column': 'service_from_date'}]
) }}
-- depends_on: {{ ref('fct_claim_lines') }}
-- Claims by service date x plan x claim type x provider specialty, from the current claim
-- lines (claim_lines and distinct_claims count non-REVERSED lines; money sums all current lines).
-- Specialty is the servicing provider's (rendering NPI, else billing NPI; 'UNKNOWN' if no
-- provider snapshot lists it): the type-1 specialty the claim facts carry.
-- Refresh: incremental. A run recomputes only the service dates in int_claim_lines_touched (old
-- and new service dates of every claim line the run touched: new or re-delivered loads,
-- re-keyed lines, changed provider specialties), so a new claims day rewrites a few dates and a
-- late file for an old day corrects those old dates.
-- depends_on: {{ ref('int_claim_lines_touched') }}

with lines as (
    select *
    from {{ ref('fct_claim_lines') }} as c
    {% if is_incremental() %}
    where c.service_from_date in (select service_from_date from {{ ref('int_claim_lines_touched') }})
    {% endif %}
),

final as (
    select
        l.service_from_date as service_date,
        -- varchar as in the contract (on PostgreSQL text would differ from the table's varchar)
        cast(l.hios_plan_id as {{ text_type() }}) as hios_plan_id,
        cast(l.claim_type as {{ text_type() }}) as claim_type,
        cast(l.servicing_specialty as {{ text_type() }}) as specialty,
        cast(sum(case when l.is_counted_line then 1 else 0 end) as integer) as claim_lines,
        cast(count(distinct case when l.is_counted_line then l.claim_id end) as integer) as distinct_claims,
        {{ money('sum(l.billed_amount)') }} as billed,
        {{ money('sum(l.allowed_amount)') }} as allowed,
        {{ money('sum(l.paid_amount)') }} as paid,
        cast('{{ invocation_id }}' as {{ text_type() }}) as _dbt_invocation_id
    from lines as l
    group by l.service_from_date, l.hios_plan_id, l.claim_type, l.servicing_specialty
)

select {{ contract_columns() }}
from final
