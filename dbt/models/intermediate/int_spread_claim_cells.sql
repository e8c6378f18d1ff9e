{{ config(
    materialized='incremental',
    replace_key='month',
    replace_also=[{'column': 'month', 'work': 'int_months_touched'}]
) }}
-- depends_on: {{ ref('int_claim_cells_touched') }}
-- depends_on: {{ ref('int_months_touched') }}
-- The cells of the claims counted in several cells (lines in several months, plans, claim types
-- or specialties): distinct claims over any set of cells count these claim_ids distinctly and
-- add the cells' single_cell_claims (int_claims_by_cell). Usually few rows.
-- Incremental: a run rebuilds the months in int_months_touched.
select month, hios_plan_id, claim_type, specialty, claim_id
from {{ ref('int_claim_cells_touched') }}
where has_counted_line = 1 and counted_cells > 1
{% if is_incremental() %}
  and month in (select month from {{ ref('int_months_touched') }})
{% endif %}
