-- Ledger of the claim-file loads the incremental claim facts reflect: one row per staged load
-- (_load_date, _load_id), rebuilt after the facts succeed in a run. The next run compares it
-- with staging to find loads that were staged outside the run's window (never processed) or
-- replaced by a re-delivery, so the facts stay right whichever windows were run.
-- depends_on: {{ ref('fct_claim_lines') }}
select distinct
    cast(_load_date as date) as load_date,
    cast(_load_id as varchar) as load_id
from {{ source('staging', 'claims') }}
