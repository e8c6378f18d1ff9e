{#-
  The cross-database layer: the same models run on DuckDB, PostgreSQL and Apache Spark.
  Each engine-dependent macro dispatches on the adapter (`spark__...`, `postgres__...`,
  `default__...` = DuckDB). No model names an engine-specific type or function directly: it
  calls one of these (docs/SPARK.md lists the differences they hide).
-#}

{#- The text type of casts and contracts (Spark's `varchar` needs a length; `string` has none). -#}
{% macro text_type() -%}
  {{ return(adapter.dispatch('text_type', 'aca_warehouse')()) }}
{%- endmacro %}
{% macro default__text_type() -%}varchar{%- endmacro %}
{% macro spark__text_type() -%}string{%- endmacro %}

{#- A double-precision float (for shares shown to analysts, never for money). -#}
{% macro double_type() -%}
  {{ return(adapter.dispatch('double_type', 'aca_warehouse')()) }}
{%- endmacro %}
{% macro default__double_type() -%}double precision{%- endmacro %}
{% macro spark__double_type() -%}double{%- endmacro %}

{#-
  A type written the portable way in YAML (`varchar`, `timestamp with time zone`, `double
  precision`, `integer`, `decimal(p, s)`, ...) as this engine spells it.
-#}
{% macro portable_type(data_type) -%}
  {{ return(adapter.dispatch('portable_type', 'aca_warehouse')(data_type)) }}
{%- endmacro %}
{% macro default__portable_type(data_type) -%}{{ data_type }}{%- endmacro %}
{% macro spark__portable_type(data_type) -%}
  {%- set t = data_type | lower | trim -%}
  {%- if t in ('varchar', 'text') or t.startswith('varchar(') -%}string
  {%- elif t in ('timestamp with time zone', 'timestamptz') -%}timestamp
  {%- elif t == 'double precision' -%}double
  {%- else -%}{{ data_type }}
  {%- endif -%}
{%- endmacro %}

{#- Whether a column of a relation (dbt's Column) holds text. dbt-spark's Column.is_string()
    does not recognise Spark's `string`, so a test filtering on it would check nothing there. -#}
{% macro is_text_column(column) -%}
  {{ return(adapter.dispatch('is_text_column', 'aca_warehouse')(column)) }}
{%- endmacro %}
{% macro default__is_text_column(column) -%}
  {{ return(column.is_string()) }}
{%- endmacro %}
{% macro spark__is_text_column(column) -%}
  {%- set t = column.dtype | lower -%}
  {{ return(t == 'string' or t.startswith('varchar') or t.startswith('char')) }}
{%- endmacro %}

{#- A text literal with its quotes escaped the engine's way (Spark joins 'a''b' into 'ab'). -#}
{% macro text_literal(text) -%}
  {{ return(adapter.dispatch('text_literal', 'aca_warehouse')(text)) }}
{%- endmacro %}
{% macro default__text_literal(text) -%}
  '{{ text | replace("'", "''") }}'
{%- endmacro %}
{% macro spark__text_literal(text) -%}
  '{{ text | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}

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

{% macro spark__sha256_hex(expr) -%}
  sha2(cast({{ expr }} as string), 256)
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

{#- Spark unescapes backslashes in string literals: a pattern's `\.` must reach it as `\\.`. -#}
{% macro spark__regex_matches(expr, pattern) -%}
  ({{ expr }} rlike '{{ pattern | replace("\\", "\\\\") }}')
{%- endmacro %}

{#- A date shifted by whole days / months (the result is a DATE on every engine). -#}
{% macro add_days(date_expr, days) -%}
  {{ return(adapter.dispatch('add_days', 'aca_warehouse')(date_expr, days)) }}
{%- endmacro %}
{% macro default__add_days(date_expr, days) -%}
  cast({{ date_expr }} + ({{ days }}) * interval '1 day' as date)
{%- endmacro %}
{% macro spark__add_days(date_expr, days) -%}
  date_add({{ date_expr }}, cast({{ days }} as int))
{%- endmacro %}

{% macro add_months(date_expr, months) -%}
  {{ return(adapter.dispatch('add_months', 'aca_warehouse')(date_expr, months)) }}
{%- endmacro %}
{% macro default__add_months(date_expr, months) -%}
  cast({{ date_expr }} + ({{ months }}) * interval '1 month' as date)
{%- endmacro %}
{% macro spark__add_months(date_expr, months) -%}
  add_months({{ date_expr }}, cast({{ months }} as int))
{%- endmacro %}

{#- First day of the month of a date. -#}
{% macro month_start(date_expr) -%}
  {{ return(adapter.dispatch('month_start', 'aca_warehouse')(date_expr)) }}
{%- endmacro %}
{% macro default__month_start(date_expr) -%}
  cast(date_trunc('month', {{ date_expr }}) as date)
{%- endmacro %}
{% macro spark__month_start(date_expr) -%}
  trunc({{ date_expr }}, 'MM')
{%- endmacro %}

{#- Whole days from start to end (end - start). -#}
{% macro days_between(start_expr, end_expr) -%}
  {{ return(adapter.dispatch('days_between', 'aca_warehouse')(start_expr, end_expr)) }}
{%- endmacro %}
{% macro default__days_between(start_expr, end_expr) -%}
  cast(({{ end_expr }}) - ({{ start_expr }}) as integer)
{%- endmacro %}
{% macro spark__days_between(start_expr, end_expr) -%}
  datediff({{ end_expr }}, {{ start_expr }})
{%- endmacro %}

{#- Day of the week, 0 = Sunday .. 6 = Saturday (Spark's dayofweek() counts from 1 = Sunday). -#}
{% macro day_of_week(date_expr) -%}
  {{ return(adapter.dispatch('day_of_week', 'aca_warehouse')(date_expr)) }}
{%- endmacro %}
{% macro default__day_of_week(date_expr) -%}
  cast(extract(dow from {{ date_expr }}) as integer)
{%- endmacro %}
{% macro spark__day_of_week(date_expr) -%}
  (dayofweek({{ date_expr }}) - 1)
{%- endmacro %}

{#- Day of the year, 1..366. -#}
{% macro day_of_year(date_expr) -%}
  {{ return(adapter.dispatch('day_of_year', 'aca_warehouse')(date_expr)) }}
{%- endmacro %}
{% macro default__day_of_year(date_expr) -%}
  cast(extract(doy from {{ date_expr }}) as integer)
{%- endmacro %}
{% macro spark__day_of_year(date_expr) -%}
  dayofyear({{ date_expr }})
{%- endmacro %}

{#- The UTC calendar date of an instant (a timestamp with time zone; Spark's timestamp is one). -#}
{% macro utc_date(ts_expr) -%}
  {{ return(adapter.dispatch('utc_date', 'aca_warehouse')(ts_expr)) }}
{%- endmacro %}
{% macro default__utc_date(ts_expr) -%}
  cast({{ ts_expr }} at time zone 'UTC' as date)
{%- endmacro %}
{% macro spark__utc_date(ts_expr) -%}
  to_date(to_utc_timestamp({{ ts_expr }}, current_timezone()))
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
    else {{ ratio_10(numerator, denominator, scale) }}
  end
{%- endmacro %}

{#- numerator * scale / denominator as decimal(38, 10). DuckDB divides decimals in double precision
    and rounds to the 10 decimals; Spark's decimal division would keep only 6 decimals, so it
    divides the same way DuckDB does. PostgreSQL's numeric division is exact before the cast. -#}
{% macro ratio_10(numerator, denominator, scale=1) -%}
  {{ return(adapter.dispatch('ratio_10', 'aca_warehouse')(numerator, denominator, scale)) }}
{%- endmacro %}
{% macro default__ratio_10(numerator, denominator, scale=1) -%}
  cast(cast({{ numerator }} as decimal(38, 10)) * {{ scale }} / ({{ denominator }}) as decimal(38, 10))
{%- endmacro %}
{% macro spark__ratio_10(numerator, denominator, scale=1) -%}
  cast(cast(cast({{ numerator }} as decimal(38, 10)) * {{ scale }} as double) / cast({{ denominator }} as double) as decimal(38, 10))
{%- endmacro %}

{#- The GROUPING bits of the columns of a `group by cube (...)` (all of them, in the cube's order),
    first column highest, as an integer. -#}
{% macro grouping_id(columns) -%}
  {{ return(adapter.dispatch('grouping_id', 'aca_warehouse')(columns)) }}
{%- endmacro %}
{% macro default__grouping_id(columns) -%}
  cast(grouping({{ columns | join(', ') }}) as integer)
{%- endmacro %}
{#- Spark checks that the columns are the cube's, in order (grouping() there takes one column). -#}
{% macro spark__grouping_id(columns) -%}
  cast(grouping_id({{ columns | join(', ') }}) as integer)
{%- endmacro %}

{#- Surrogate key: md5 over the text of the columns, nulls made explicit so (a, null) != (null, a). -#}
{% macro surrogate_key(columns) -%}
  md5(
    {%- for col in columns %}
    coalesce(cast({{ col }} as {{ text_type() }}), '<null>'){% if not loop.last %} || '|' ||{% endif %}
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

{% macro spark__date_spine(start_date, end_date) -%}
  select explode(sequence({{ date_literal(start_date) }}, {{ date_literal(end_date) }}, interval 1 day)) as date_day
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
