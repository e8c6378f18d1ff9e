{#-
  What changed in staging since the last successful build, as the incremental models ask it.
  The answer comes from stg_load_changes (one row per load: added, kept or removed); a model
  calling these macros declares `-- depends_on: {{ ref('stg_load_changes') }}` if it does not
  ref it otherwise.
-#}

{#- A subquery of the load ids of `feed` with the given change ('added', 'kept' or 'removed'). -#}
{% macro changed_loads(feed, change) -%}
(select load_id from {{ ref('stg_load_changes') }} where feed = '{{ feed }}' and change = '{{ change }}')
{%- endmacro %}

{#-
  True when a load of one of `feeds` was added or removed since the last build. Asked at
  execution (a query); false while dbt parses. Models use it to rebuild everything a snapshot
  feed can change (dimensions re-key facts) instead of working key by key.
-#}
{% macro feeds_changed(feeds) -%}
  {%- if not execute or not feeds -%}{{ return(false) }}{%- endif -%}
  {%- set query -%}
    select count(*) from {{ ref('stg_load_changes') }}
    where change <> 'kept' and feed in ('{{ feeds | join("', '") }}')
  {%- endset -%}
  {{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}

{#- Snapshot feeds whose change re-keys members, coverage and member months: member and plan versions. -#}
{% macro member_dimensions_changed() -%}
  {{ return(feeds_changed(['members', 'plans'])) }}
{%- endmacro %}

{#- Snapshot feeds whose change can re-key claim lines and premiums (members, plans, crosswalk, providers). -#}
{% macro fact_dimensions_changed() -%}
  {{ return(feeds_changed(['members', 'plans', 'products', 'providers'])) }}
{%- endmacro %}

{#- True when the data's as-of month moved since the last build (asked at execution). -#}
{% macro as_of_month_changed() -%}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- set query -%}
    select count(*) from {{ ref('int_as_of_moves') }}
    where previous_as_of_month is null or previous_as_of_month <> as_of_month
  {%- endset -%}
  {{ return(run_query(query).columns[0].values()[0] > 0) }}
{%- endmacro %}

{#-
  True when the incremental model being built must return every row this run: its first build,
  a full refresh, a change to one of the feeds of its `rebuild_if_changed` config, or (with
  `rebuild_if_as_of_month_changed: true`) a move of the as-of month. The replace strategy asks
  the same question and then deletes every old row first.
-#}
{% macro rebuild_all() -%}
  {%- if not is_incremental() -%}{{ return(true) }}{%- endif -%}
  {%- if feeds_changed(config.get('rebuild_if_changed', [])) -%}{{ return(true) }}{%- endif -%}
  {{ return(config.get('rebuild_if_as_of_month_changed', false) and as_of_month_changed()) }}
{%- endmacro %}
