{{ config(post_hook="{{ analyze_table() }}") }}
-- The data's as-of date: the latest load date among all loaded files of all feeds (a file whose
-- rows were all quarantined counts: it arrived), and the latest load date of each feed. Marts
-- count member months and earned premium up to and including its month.
-- The feeds are the staging sources tagged `feed` (models/staging/_sources.yml), in their order
-- there: a new feed declared as a source gets its column here.
{%- set feeds = [] %}
{%- for source_node in graph.sources.values() %}
{%- if source_node.source_name == 'staging' and 'feed' in source_node.tags %}
{%- do feeds.append(source_node.name) %}
{%- endif %}
{%- endfor %}
{%- if execute and feeds | length == 0 %}
{{ exceptions.raise_compiler_error("warehouse_as_of: no staging source is tagged 'feed'") }}
{%- endif %}

with loads as (
    select feed, load_date from {{ ref('stg_load_audit') }}
),

final as (
    select
        max(load_date) as as_of_date,
        {{ month_start('max(load_date)') }} as as_of_month
        {%- for feed in feeds %},
        max(case when feed = '{{ feed }}' then load_date end) as last_{{ feed }}_load_date
        {%- endfor %}
    from loads
)

select * from final
