{{ config(materialized='table') }}
-- depends_on: {{ ref('stg_load_audit') }}
-- What changed in staging since the last successful build: every current load (stg_load_audit)
-- marked 'added' (not in the ledger int_loads_processed, which the last successful build wrote
-- as its final step) or 'kept', and every ledger load that is no longer current marked
-- 'removed' (its partition was re-delivered). Built first in every run, as a table: the ledger
-- written at the end of this run is exactly the loads this run saw, whatever staging received
-- meanwhile. Every incremental model works out its keys from these changes, so a run costs what
-- changed, and a failed run leaves the ledger as it was: the next run redoes the same changes.
-- Without a ledger (first build, --full-refresh) every current load is 'added'.
{%- set ledger = none if flags.FULL_REFRESH else existing_relation('int_loads_processed', schema='core') %}

with current_loads as (
    select feed, load_date, load_id from {{ ref('stg_load_audit') }}
),

{% if ledger %}
processed as (
    select feed, load_date, load_id from {{ ledger }}
),

changes as (
    select
        c.feed,
        c.load_date,
        c.load_id,
        case when p.load_id is null then 'added' else 'kept' end as change
    from current_loads as c
    left join processed as p on p.load_id = c.load_id
    union all
    select p.feed, p.load_date, p.load_id, 'removed' as change
    from processed as p
    where not exists (select 1 from current_loads as c where c.load_id = p.load_id)
)
{% else %}
changes as (
    select feed, load_date, load_id, 'added' as change from current_loads
)
{% endif %}

select
    cast(feed as {{ text_type() }}) as feed,
    cast(load_date as date) as load_date,
    cast(load_id as {{ text_type() }}) as load_id,
    cast(change as {{ text_type() }}) as change
from changes
