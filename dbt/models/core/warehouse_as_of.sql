{{ config(post_hook="{{ analyze_table() }}") }}
-- The data's as-of date: the latest load date among all loaded files of all feeds.
-- Marts count member months and earned premium up to and including its month.
-- A loaded file whose rows were all quarantined (or that has no rows) still counts: the load
-- audit of the staging loaders (staging.load_audit, status loaded/unchanged) is read when it
-- exists; the staged rows' _load_date are the fallback. The audit table is read directly, not
-- as a dbt source, so it adds no asset to the graph (the staging assets write it).
{%- set feeds = ['plans', 'members', 'enrollment_events', 'products', 'providers', 'claims', 'premiums'] %}
{%- set load_audit = existing_relation('load_audit', schema='staging') %}

with load_dates as (
    {% for feed in feeds %}
    select '{{ feed }}' as feed, max(_load_date) as last_load_date
    from {{ source('staging', feed) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% if load_audit %}
    union all
    select feed, max(load_date)
    from {{ load_audit }}
    where status in ('loaded', 'unchanged')
    group by feed
    {% endif %}
),

final as (
    select
        max(last_load_date) as as_of_date,
        {{ month_start('max(last_load_date)') }} as as_of_month,
        {% for feed in feeds %}
        max(case when feed = '{{ feed }}' then last_load_date end) as last_{{ feed }}_load_date{% if not loop.last %},{% endif %}
        {% endfor %}
    from load_dates
)

select * from final
