-- depends_on: {{ ref('int_events_touched') }}
-- The months in which the members of int_events_touched had member months before this run
-- (fct_member_months as the last build left it): with the months they have after it, the months
-- whose plan-month totals this run must recompute (int_months_touched). Built before
-- fct_member_months changes. Empty on a first build or a full refresh.
{%- set member_months = none if flags.FULL_REFRESH else existing_relation('fct_member_months') %}

{% if member_months %}
select distinct m.month
from {{ member_months }} as m
where m.exchange_member_key in (select exchange_member_key from {{ ref('int_events_touched') }})
{% else %}
select cast(null as date) as month
from {{ ref('int_events_touched') }}
where 1 = 0
{% endif %}
