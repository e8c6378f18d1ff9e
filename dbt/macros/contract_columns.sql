{#-
  The select list of a model with an enforced contract: every column its YAML declares, cast to
  the declared data type, in the declared order (`select {{ contract_columns() }} from final`).
  An incremental run inserts its new rows into the table the first build created with those
  types, and dbt refuses new rows whose types differ (on_schema_change: fail): without the casts
  PostgreSQL gives text where the contract says varchar, and an unconstrained numeric where it
  says decimal(38,10). `*` when the model declares no columns (and while dbt parses).
-#}
{% macro contract_columns() -%}
  {%- set columns = model.columns.values() | list if execute else [] -%}
  {%- if columns | length == 0 -%}
    *
  {%- else -%}
    {%- for column in columns %}
    cast({{ column.name }} as {{ portable_type(column.data_type) }}) as {{ column.name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
  {%- endif -%}
{%- endmacro %}
