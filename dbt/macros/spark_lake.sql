{#-
  Spark: the staging tables are not written by Spark but published as Parquet by the staging
  loader (aca_warehouse/lake.py) under ACA_LAKE_DIR: one directory per table, the feeds
  partitioned by load date (`_load_date=YYYY-MM-DD/`). At the start of every dbt run on Spark
  (on-run-start in dbt_project.yml) each is (re-)registered as an external table of the schema
  `staging`, with the columns and Spark types the loader lists in the var `lake_tables`, and its
  partition directories are recovered: what the loader published last is what the run reads.
  Dropping an external table removes its registration, never its files. Nothing on other engines.
-#}
{% macro spark_register_lake() -%}
  {%- if execute and target.type == 'spark' -%}
    {%- set tables = var('lake_tables', []) -%}
    {%- if tables | length == 0 -%}
      {{ exceptions.raise_compiler_error("on Spark the staging tables come from the lake: run dbt through Dagster (aca-warehouse run), which passes --vars lake_tables (aca_warehouse/lake.py)") }}
    {%- endif -%}
    {%- do run_query('create schema if not exists staging') -%}
    {%- for table in tables -%}
      {%- set relation = 'staging.' ~ table['name'] -%}
      {%- set create -%}
        create table {{ relation }} (
          {%- for name, data_type in table['columns'] %}
          {{ name }} {{ data_type }}{% if not loop.last %},{% endif %}
          {%- endfor %}
        )
        using parquet
        {%- if table.get('partition_by') %} partitioned by ({{ table['partition_by'] }}){% endif %}
        location '{{ table['location'] }}'
      {%- endset -%}
      {%- do run_query('drop table if exists ' ~ relation) -%}
      {%- do run_query(create) -%}
      {%- if table.get('partition_by') -%}
        {%- do run_query('msck repair table ' ~ relation) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
