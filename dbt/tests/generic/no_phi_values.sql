{#-
  Text values in the model that look like PHI: an SSN, an e-mail address, a US phone number,
  a street address or a full date of birth written as text. Every text column is checked; a
  model with no text column is a compile error (the test would otherwise check nothing, silently:
  which columns are text is decided per engine by is_text_column(), see macros/cross_db.sql).
-#}
{% test no_phi_values(model) %}
{%- set text_columns = [] -%}
{%- set built = execute and load_relation(model) is not none -%}
{%- if built -%}
  {%- for column in adapter.get_columns_in_relation(model) -%}
    {%- if is_text_column(column) -%}{%- do text_columns.append(column.name) -%}{%- endif -%}
  {%- endfor -%}
{%- endif -%}
{%- set patterns = {
    'ssn': '^[0-9]{3}-[0-9]{2}-[0-9]{4}$',
    'email': '^[^@ ]+@[^@ ]+\\.[a-zA-Z]{2,}$',
    'phone': '^\\(?[0-9]{3}\\)?[-. ]?[0-9]{3}[-. ][0-9]{4}$',
    'street_address': '^[0-9]+ [A-Za-z].* (St|Ave|Rd|Blvd|Dr|Ln|Way|Ct)\\.?$',
} -%}
{%- if built and text_columns | length == 0 -%}
  {{ exceptions.raise_compiler_error("no_phi_values: " ~ model ~ " has no text column to check (is_text_column() found none)") }}
{%- endif -%}
{%- if text_columns | length == 0 %}
select cast(null as {{ text_type() }}) as column_name, cast(null as {{ text_type() }}) as kind, cast(null as {{ text_type() }}) as value_found
where 1 = 0
{%- else %}
{%- for column in text_columns %}
{%- for kind, pattern in patterns.items() %}
select '{{ column }}' as column_name, '{{ kind }}' as kind, cast({{ adapter.quote(column) }} as {{ text_type() }}) as value_found
from {{ model }}
where {{ regex_matches('cast(' ~ adapter.quote(column) ~ ' as ' ~ text_type() ~ ')', pattern) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{%- endif %}
{% endtest %}
