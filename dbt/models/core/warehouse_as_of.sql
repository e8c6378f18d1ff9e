{{ config(post_hook="{{ analyze_table() }}") }}
-- The data's as-of date: the latest load date among all loaded files of all feeds (a file whose
-- rows were all quarantined counts: it arrived), and the latest load date of each feed. Marts
-- count member months and earned premium up to and including its month.
{%- set feeds = ['plans', 'members', 'enrollment_events', 'products', 'providers', 'claims', 'premiums'] %}

with loads as (
    select feed, load_date from {{ ref('stg_load_audit') }}
),

final as (
    select
        max(load_date) as as_of_date,
        {{ month_start('max(load_date)') }} as as_of_month,
        {% for feed in feeds %}
        max(case when feed = '{{ feed }}' then load_date end) as last_{{ feed }}_load_date{% if not loop.last %},{% endif %}
        {% endfor %}
    from loads
)

select * from final
