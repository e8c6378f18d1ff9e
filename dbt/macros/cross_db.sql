{#-
  Small cross-database helpers: the same models run on DuckDB and PostgreSQL.
  Each macro dispatches on the adapter (`duckdb__...`, `postgres__...`, `default__...`).
-#}

{#- Hex SHA-256 of a text expression. -#}
{% macro sha256_hex(expr) -%}
  {{ return(adapter.dispatch('sha256_hex', 'aca_warehouse')(expr)) }}
{%- endmacro %}

{% macro default__sha256_hex(expr) -%}
  sha256(cast({{ expr }} as varchar))
{%- endmacro %}

{% macro postgres__sha256_hex(expr) -%}
  encode(sha256(convert_to(cast({{ expr }} as varchar), 'UTF8')), 'hex')
{%- endmacro %}

{#- Regular-expression match (true/false). -#}
{% macro regex_matches(expr, pattern) -%}
  {{ return(adapter.dispatch('regex_matches', 'aca_warehouse')(expr, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expr, pattern) -%}
  regexp_matches({{ expr }}, '{{ pattern }}')
{%- endmacro %}

{% macro postgres__regex_matches(expr, pattern) -%}
  ({{ expr }} ~ '{{ pattern }}')
{%- endmacro %}

{#- A date shifted by whole days / months (the result is a DATE on both engines). -#}
{% macro add_days(date_expr, days) -%}
  cast({{ date_expr }} + ({{ days }}) * interval '1 day' as date)
{%- endmacro %}

{% macro add_months(date_expr, months) -%}
  cast({{ date_expr }} + ({{ months }}) * interval '1 month' as date)
{%- endmacro %}

{#- First day of the month of a date. -#}
{% macro month_start(date_expr) -%}
  cast(date_trunc('month', {{ date_expr }}) as date)
{%- endmacro %}

{#- Whole days from start to end (end - start). -#}
{% macro days_between(start_expr, end_expr) -%}
  cast(({{ end_expr }}) - ({{ start_expr }}) as integer)
{%- endmacro %}

{#- Calendar year of a date as an integer. -#}
{% macro year_of(date_expr) -%}
  cast(extract(year from {{ date_expr }}) as integer)
{%- endmacro %}

{#- A DATE literal. -#}
{% macro date_literal(text) -%}
  cast('{{ text }}' as date)
{%- endmacro %}

{#- The open end of SCD2 windows ("valid until further notice") and the start of time. -#}
{% macro end_of_time() -%}{{ date_literal('9999-12-31') }}{%- endmacro %}
{% macro start_of_time() -%}{{ date_literal('1900-01-01') }}{%- endmacro %}

{#- Money as exact decimal; ratios as exact decimal with 10 decimals (stored unrounded enough). -#}
{% macro money(expr) -%}
  cast({{ expr }} as decimal(18, 2))
{%- endmacro %}

{#- numerator / denominator, null when the denominator is 0 or null (never a division error). -#}
{% macro safe_ratio(numerator, denominator, scale=1) -%}
  case
    when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
    else cast(cast({{ numerator }} as decimal(38, 10)) * {{ scale }} / ({{ denominator }}) as decimal(38, 10))
  end
{%- endmacro %}

{#- Surrogate key: md5 over the text of the columns, nulls made explicit so (a, null) != (null, a). -#}
{% macro surrogate_key(columns) -%}
  md5(
    {%- for col in columns %}
    coalesce(cast({{ col }} as varchar), '<null>'){% if not loop.last %} || '|' ||{% endif %}
    {%- endfor %}
  )
{%- endmacro %}

{#- Every day between two dates (inclusive) as a one-column relation `date_day`. -#}
{% macro date_spine(start_date, end_date) -%}
  {{ return(adapter.dispatch('date_spine', 'aca_warehouse')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(start_date, end_date) -%}
  select cast(generate_series as date) as date_day
  from generate_series({{ date_literal(start_date) }}, {{ date_literal(end_date) }}, interval '1 day')
{%- endmacro %}

{% macro postgres__date_spine(start_date, end_date) -%}
  select cast(d as date) as date_day
  from generate_series({{ date_literal(start_date) }}, {{ date_literal(end_date) }}, interval '1 day') as g(d)
{%- endmacro %}

{#- The relation if it exists in the warehouse (for an incremental model reading another's old state), else none. -#}
{% macro existing_relation(identifier, schema=none) -%}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {{ return(adapter.get_relation(database=this.database, schema=(schema or this.schema), identifier=identifier)) }}
{%- endmacro %}

{#-
  Post-hook for tables other models join to: on PostgreSQL, refresh the planner statistics right
  away (dbt creates the table in the run; without statistics the planner picks nested loops over
  whole tables). Nothing on DuckDB. Partitioned claim facts analyse the partitions an
  incremental run wrote in their incremental strategy (macros/postgres_storage.sql).
-#}
{% macro analyze_table() -%}
  {%- if target.type == 'postgres' and not (pg_partition_column() and is_incremental()) -%}
    analyze {{ this }}
  {%- endif -%}
{%- endmacro %}
