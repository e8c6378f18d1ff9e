-- depends_on: {{ ref('stg_enrollment_events') }}, {{ ref('stg_member_identity') }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Work list of the event-driven models for this run (int_enrollment_events, int_coverage_spans,
-- fct_coverage_spans, fct_member_months, fct_applications): the counted events that changed
-- since the last build -- new first deliveries in added loads, and events whose counted delivery
-- was in a re-delivered load -- with their exchange member, member key and application. The
-- models rebuild every row of these members and applications. Built before they change, so it
-- holds the old keys of removed events too. Empty on a first build or a full refresh (everything
-- is built then) and not used when member snapshots changed (those models rebuild everything).
{%- set old_events = none if flags.FULL_REFRESH else existing_relation('int_enrollment_events') %}

with identity as (
    select member_id, member_key from {{ ref('stg_member_identity') }}
),

{% if old_events %}
changed as (
    select
        e.exchange_member_key,
        coalesce(i.member_key, e.exchange_member_key) as member_key,
        e.application_id
    from {{ ref('stg_enrollment_events') }} as e
    left join identity as i on i.member_id = e.member_id
    where e._load_id in {{ changed_loads('enrollment_events', 'added') }}
    union
    select exchange_member_key, member_key, application_id
    from {{ old_events }}
    where _load_id in {{ changed_loads('enrollment_events', 'removed') }}
)
{% else %}
changed as (
    select
        cast(null as {{ text_type() }}) as exchange_member_key,
        cast(null as {{ text_type() }}) as member_key,
        cast(null as {{ text_type() }}) as application_id
    from identity
    where 1 = 0
)
{% endif %}

select distinct
    cast(exchange_member_key as {{ text_type() }}) as exchange_member_key,
    cast(member_key as {{ text_type() }}) as member_key,
    cast(application_id as {{ text_type() }}) as application_id
from changed
