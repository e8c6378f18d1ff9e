{#-
  PostgreSQL: the claim facts as declaratively partitioned tables, one range partition per
  service month (plus a DEFAULT partition for rows without a date).

  A model opts in with `pg_partition_by: <date column>` (the claim facts, in _core.yml); the
  var `pg_partition_claims: false` turns it off (plain tables, for bench/pg_partitioning.py).
  Incremental runs add the partitions a batch needs in the `replace` strategy
  (macros/incremental_replace.sql). Partitions are named `<table>_YYYYMM` and `<table>_default`;
  indexes created on the parent (dbt's `indexes` config) cascade to every partition. Nothing here
  runs on DuckDB.

  Why service month: analysts and the marts filter and group claims by service month, so
  month-bounded queries prune to a few partitions; the incremental replace deletes by
  claim_line_key (a line's versions arrive over many load dates), which load-date partitions
  would not narrow either. See docs/ARCHITECTURE.md.
-#}

{#-
  dbt's create-table-as on PostgreSQL, except for opted-in models, which become partitioned
  parents (everything else goes to dbt-postgres's own create_table_as, contracts included).
-#}
{% macro postgres__get_create_table_as_sql(temporary, relation, sql) -%}
  {%- set partition_by = pg_partition_column() -%}
  {%- if not temporary and partition_by -%}
    {{ return(pg_create_month_partitioned_table(relation, sql, partition_by)) }}
  {%- endif -%}
  {{ return(create_table_as(temporary, relation, sql)) }}
{%- endmacro %}

{% macro pg_create_month_partitioned_table(relation, sql, column) -%}
  {%- set stage = relation.identifier ~ '__stage' -%}
  create temporary table "{{ stage }}" as (
    {{ sql }}
  );
  create table {{ relation }} (like "{{ stage }}") partition by range ("{{ column }}");
  create table {{ relation.incorporate(path={'identifier': relation.identifier ~ '_default'}) }}
    partition of {{ relation }} default;
  {{ pg_add_month_partitions(relation, '"' ~ stage ~ '"', column) }}
  insert into {{ relation }} select * from "{{ stage }}";
  drop table "{{ stage }}";
{%- endmacro %}

{#- Create the missing month partitions of `parent` for every month present in `source`. -#}
{% macro pg_add_month_partitions(parent, source, column) -%}
  do $partitions$
  declare
    month date;
    part text;
  begin
    for month in
      select distinct cast(date_trunc('month', "{{ column }}") as date)
      from {{ source }}
      where "{{ column }}" is not null
    loop
      part := '{{ parent.identifier }}_' || to_char(month, 'YYYYMM');
      if to_regclass(format('%I.%I', '{{ parent.schema }}', part)) is null then
        execute format(
          'create table %I.%I partition of %s for values from (%L) to (%L)',
          '{{ parent.schema }}', part, '{{ parent }}', month, cast(month + interval '1 month' as date)
        );
      end if;
    end loop;
  end
  $partitions$;
{%- endmacro %}

{#- The month-partition column of the model being built on PostgreSQL, or none. -#}
{% macro pg_partition_column() -%}
  {%- if target.type == 'postgres' and var('pg_partition_claims', true) -%}
    {{ return(config.get('pg_partition_by')) }}
  {%- endif -%}
  {{ return(none) }}
{%- endmacro %}

{#-
  After an incremental insert: ANALYZE the partitions that have never been analysed (the ones
  this run created). ANALYZE of the parent samples every partition, a cost that grows with
  history; partitions that already have statistics are left to autovacuum, which re-analyses a
  partition once a tenth of it changed. The parent's own statistics come from the last full
  build; a day does not move them.
-#}
{% macro pg_analyze_new_partitions(parent) -%}
  do $analyze$
  declare
    part regclass;
  begin
    for part in
      select c.oid::regclass
      from pg_inherits as i
      join pg_class as c on c.oid = i.inhrelid
      where i.inhparent = to_regclass('{{ parent }}') and c.reltuples < 0
    loop
      execute format('analyze %s', part);
    end loop;
  end
  $analyze$
{%- endmacro %}

{#-
  Post-hook: after a full refresh dbt swaps the freshly built `<table>__dbt_tmp` in, so its
  partitions still carry the temporary name. Rename them to `<table>_<suffix>`, first moving
  aside same-named partitions of the old table (dropped by dbt right after).
-#}
{% macro pg_name_partitions() -%}
  {%- if pg_partition_column() -%}
  do $names$
  declare
    r record;
    wanted text;
  begin
    for r in
      select c.relname as name
      from pg_inherits as i
      join pg_class as c on c.oid = i.inhrelid
      where i.inhparent = to_regclass('{{ this }}')
    loop
      wanted := '{{ this.identifier }}_' || substring(r.name from '_([^_]+)$');
      continue when r.name = wanted;
      if to_regclass(format('%I.%I', '{{ this.schema }}', wanted)) is not null then
        execute format('alter table %I.%I rename to %I', '{{ this.schema }}', wanted, left(wanted, 50) || '_replaced');
      end if;
      execute format('alter table %I.%I rename to %I', '{{ this.schema }}', r.name, wanted);
    end loop;
  end
  $names$
  {%- endif -%}
{%- endmacro %}

{#-
  Indexes for a fact on PostgreSQL: one b-tree per foreign key or date column that marts join or
  filter on (dbt's `indexes` config; created when the table is created and, on partitioned
  parents, on every partition). DuckDB scans columnar data and gets none: its ART indexes would
  only slow the loads.
-#}
{% macro pg_indexes(columns) -%}
  {%- if target.type == 'postgres' -%}
    {%- set out = [] -%}
    {%- for column in columns -%}{%- do out.append({'columns': [column]}) -%}{%- endfor -%}
    {{ return(out) }}
  {%- endif -%}
  {{ return([]) }}
{%- endmacro %}
