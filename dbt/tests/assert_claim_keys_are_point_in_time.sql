{{ config(severity='error', meta={'dagster': {'ref': {'name': 'fct_claim_line_versions'}}}) }}
-- The incremental claim facts carry the dimension keys valid on the service date now, after
-- every late or corrected snapshot (the re-keying in int_claim_lines_touched worked).
select v.claim_line_version_key
from {{ ref('fct_claim_line_versions') }} as v
{{ member_version_join('m', 'v.member_key', 'v.service_from_date') }}
{{ product_plan_join('x', 'v.product_id', 'v.service_from_date') }}
{{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'v.service_from_date') }}
where v.member_version_key is distinct from m.member_version_key
   or v.hios_plan_id is distinct from coalesce(x.hios_plan_id, 'UNKNOWN')
   or v.plan_key is distinct from {{ plan_key_expr('p') }}
