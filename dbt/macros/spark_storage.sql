{#-
  Apache Spark (plain Parquet tables): the project's `replace` incremental strategy without
  DELETE. Delta Lake and Iceberg would give DELETE and MERGE, but their jars come from Maven at
  session start; this project runs on plain Parquet, where a table is rewritten, never edited
  row by row. Nothing here runs on DuckDB or PostgreSQL.

  `replace` on Spark, for an incremental model (same configuration as macros/incremental_replace.sql):
    1. the model's new rows are written once to `<model>__dbt_new` (dbt's temporary relation is a
       view; the model may read its own old state, and Spark refuses to overwrite a table the
       same statement reads);
    2. `<model>__dbt_next` = the target's rows that the DuckDB/PostgreSQL strategy would keep
       (not matched by replace_key, replace_also or replace_removed_loads; none when the run
       rebuilds everything) + the new rows without tombstones;
    3. `insert overwrite` the target from `__dbt_next`. A model with `partition_by` (the claim
       facts, by service_month) is overwritten only in the partitions the run touches: months
       holding a replaced row or a new row (dynamic partition overwrite); a touched month that
       ends up empty is dropped. An unpartitioned model is rewritten whole.
  The work tables are dropped by the post-hook spark_drop_work_tables() (dbt_project.yml).
-#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
  {%- if raw_strategy == 'replace' -%}
    {%- if file_format not in ('parquet', 'orc') -%}
      {{ exceptions.raise_compiler_error("the replace strategy on Spark is written for parquet or orc tables, not " ~ file_format) }}
    {%- endif -%}
    {{ return('replace') }}
  {%- endif -%}
  {{ return(dbt_spark.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}

{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
  {%- if strategy == 'replace' -%}
    {{ spark_replace_sql(source, target) }}
  {%- else -%}
    {{ dbt_spark.dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) }}
  {%- endif -%}
{%- endmacro %}

{% macro spark_work_relation(target, suffix) -%}
  {{ return(target.incorporate(path={'identifier': target.identifier ~ '__dbt_' ~ suffix})) }}
{%- endmacro %}

{#- The target rows the replace strategy removes: the same conditions as incremental_replace.sql. -#}
{% macro spark_replaced_rows_condition(new) -%}
  {%- set key = config.require('replace_key') -%}
  {%- set keys = [key] if key is string else key -%}
  {%- set conditions = [key_tuple(keys) ~ ' in (select ' ~ (keys | join(', ')) ~ ' from ' ~ new ~ ')'] -%}
  {%- for spec in config.get('replace_also', []) -%}
    {%- set work_filter = (' where ' ~ spec['where']) if spec.get('where') else '' -%}
    {%- do conditions.append(spec['column'] ~ ' in (select ' ~ spec.get('work_column', spec['column']) ~ ' from ' ~ ref(spec['work']) ~ work_filter ~ ')') -%}
  {%- endfor -%}
  {%- if config.get('replace_removed_loads') -%}
    {%- do conditions.append("_load_id in (select load_id from " ~ ref('stg_load_changes') ~ " where change = 'removed')") -%}
  {%- endif -%}
  coalesce(({{ conditions | join(') or (') }}), false)
{%- endmacro %}

{% macro spark_replace_sql(source, target) -%}
  {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
  {%- set column_list = columns | join(', ') -%}
  {%- set tombstone = config.get('replace_tombstone_column') -%}
  {%- set partition_by = config.get('partition_by') -%}
  {%- set new = spark_work_relation(target, 'new') -%}
  {%- set next = spark_work_relation(target, 'next') -%}
  {%- set everything = rebuild_all() -%}
  {%- set replaced = spark_replaced_rows_condition(new) -%}

  {%- do run_query('drop table if exists ' ~ new) -%}
  {%- do run_query('drop table if exists ' ~ next) -%}
  {%- do run_query('create table ' ~ new ~ ' using parquet as select * from ' ~ source) -%}

  {%- set touched_months = [] -%}
  {%- if partition_by -%}
    {%- set months_query -%}
      select distinct cast({{ partition_by }} as string) from {{ target }}
      {%- if not everything %} where {{ replaced }}{% endif %}
      union
      select distinct cast({{ partition_by }} as string) from {{ new }}
    {%- endset -%}
    {%- set touched_months = run_query(months_query).columns[0].values() | reject('none') | list -%}
  {%- endif -%}

  {%- set next_sql -%}
    create table {{ next }} using parquet as
    {%- if not everything %}
    select {{ column_list }} from {{ target }}
    where not {{ replaced }}
      {%- if partition_by %}
      and cast({{ partition_by }} as string) in ('{{ touched_months | join("', '") }}')
      {%- endif %}
    union all
    {%- endif %}
    select {{ column_list }} from {{ new }}
    {%- if tombstone %} where {{ tombstone }} is not null{% endif %}
  {%- endset -%}
  {%- do run_query(next_sql) -%}

  {%- if partition_by -%}
    {%- set kept = run_query('select distinct cast(' ~ partition_by ~ ' as string) from ' ~ next).columns[0].values() | list -%}
    {%- for month in touched_months if month not in kept -%}
      {%- do run_query('alter table ' ~ target ~ ' drop if exists partition (' ~ partition_by ~ " = '" ~ month ~ "')") -%}
    {%- endfor -%}
    {%- do run_query('set spark.sql.sources.partitionOverwriteMode = DYNAMIC') -%}
  insert overwrite table {{ target }} partition ({{ partition_by }})
  select {{ column_list }} from {{ next }}
  {%- else %}
  insert overwrite table {{ target }}
  select {{ column_list }} from {{ next }}
  {%- endif -%}
{%- endmacro %}

{#- Post-hook (every model): on Spark, drop an incremental model's work tables after its run. -#}
{% macro spark_drop_work_tables() -%}
  {%- if execute and target.type == 'spark' and model.config.materialized == 'incremental' -%}
    {%- do run_query('drop table if exists ' ~ spark_work_relation(this, 'new')) -%}
    {%- do run_query('drop table if exists ' ~ spark_work_relation(this, 'next')) -%}
  {%- endif -%}
{%- endmacro %}
