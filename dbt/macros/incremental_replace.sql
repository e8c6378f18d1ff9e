{#-
  The one incremental strategy of this project: `replace`.

  An incremental model's SELECT returns the new rows of the keys this run rebuilds (its work
  keys, worked out from what changed since the last build: see stg_load_changes). The strategy
  then, in one transaction, deletes the target's rows of those keys and inserts the new rows.
  Because dbt builds the SELECT into a temporary table before the strategy runs, the model may
  read its own old state ({{ this }}) to find its work keys.

  Configuration (shared defaults in dbt_project.yml; per model in its config block):
    replace_key:              column, or list of columns: target rows whose key value is among
                              the new rows' values are deleted.
    replace_tombstone_column: optional. A new row with this column null is a tombstone: its key is
                              deleted and nothing is inserted for it (a key that lost every row).
    replace_also:             optional list of further deletes, each
                              {column: <target column>, work: <model name>, work_column: <column
                              of the work model, default = column>, where: <filter on the work model>}
                              (target rows whose column value is among the work model's values).
    replace_removed_loads:    true: also delete rows whose `_load_id` is a load replaced since the
                              last build (its partition was re-delivered; see stg_load_changes).
    rebuild_if_changed:       optional list of feeds: when a load of one of them changed since the
                              last build, every row is deleted first (the model's SELECT then returns
                              every row: it asks the same question with `rebuild_all()`).
    rebuild_if_as_of_month_changed: the same when the as-of month moved (warehouse_as_of).
  On PostgreSQL a model with `pg_partition_by` gets the month partitions its new rows need
  before the insert, and new partitions are analysed after it (macros/postgres_storage.sql).
  A model using `work` models or removed loads declares them with `-- depends_on: {{ ref(...) }}`.
-#}
{% macro get_incremental_replace_sql(arg_dict) -%}
  {%- set target = arg_dict['target_relation'] -%}
  {%- set source = arg_dict['temp_relation'] -%}
  {%- set columns = arg_dict['dest_columns'] | map(attribute='name') | list -%}
  {%- set column_list = get_quoted_csv(columns) -%}
  {%- set key = config.require('replace_key') -%}
  {%- set keys = [key] if key is string else key -%}
  {%- set tombstone = config.get('replace_tombstone_column') -%}
  {%- set partition_by = pg_partition_column() -%}

  {%- if rebuild_all() %}
  delete from {{ target }};
  {%- endif %}
  delete from {{ target }}
  where {{ key_tuple(keys) }} in (select {{ keys | join(', ') }} from {{ source }});
  {%- for spec in config.get('replace_also', []) %}
  delete from {{ target }}
  where {{ spec['column'] }} in (
      select {{ spec.get('work_column', spec['column']) }} from {{ ref(spec['work']) }}
      {%- if spec.get('where') %} where {{ spec['where'] }}{% endif %}
  );
  {%- endfor %}
  {%- if config.get('replace_removed_loads') %}
  delete from {{ target }}
  where _load_id in (select load_id from {{ ref('stg_load_changes') }} where change = 'removed');
  {%- endif %}
  {%- if partition_by %}
  {{ pg_add_month_partitions(target, source, partition_by) }};
  {%- endif %}
  insert into {{ target }} ({{ column_list }})
  select {{ column_list }} from {{ source }}
  {%- if tombstone %} where {{ tombstone }} is not null{% endif %}
  {%- if partition_by %};
  {{ pg_analyze_new_partitions(target) }}
  {%- endif %}
{%- endmacro %}

{#- One column as itself, several as a row value `(a, b)` (for `in (select a, b ...)`). -#}
{% macro key_tuple(keys) -%}
  {%- if keys | length == 1 -%}{{ keys[0] }}{%- else -%}({{ keys | join(', ') }}){%- endif -%}
{%- endmacro %}
