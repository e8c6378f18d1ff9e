{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_claim_lines'}}}) }}
-- Quality signal (warning, never blocking): current counted claim lines whose member has no
-- coverage span on the service date, on an inferred member, or on the unknown plan.
-- `covered` is a join on member_key, so both engines hash-join it (an `or not exists (...)`
-- made PostgreSQL scan all spans once per claim line).
with covered as (
    select distinct l.claim_line_key
    from {{ ref('fct_claim_lines') }} as l
    inner join {{ ref('fct_coverage_spans') }} as s
        on s.member_key = l.member_key
        and l.service_from_date between s.span_start_date and s.span_end_date
)

select l.claim_line_key, l.service_from_date, l.hios_plan_id,
       case
           when m.record_status = 'inferred' then 'unknown_member'
           when l.hios_plan_id = 'UNKNOWN' then 'unknown_plan'
           else 'outside_coverage'
       end as issue
from {{ ref('fct_claim_lines') }} as l
inner join {{ ref('dim_member') }} as m on m.member_version_key = l.member_version_key
left join covered as c on c.claim_line_key = l.claim_line_key
where l.is_counted_line
  and (
      m.record_status = 'inferred'
      or l.hios_plan_id = 'UNKNOWN'
      or c.claim_line_key is null
  )
