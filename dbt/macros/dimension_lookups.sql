{#-
  Point-in-time dimension lookups shared by the facts (and by the re-keying check of the
  incremental claim facts, so both resolve keys the same way).

  SCD2 dimensions are joined on pit_valid_from <= date < valid_to: the version valid on the
  date, or the first version for a date before the key was first seen.
-#}

{#- left join dim_member as `alias`: the member version valid on `date_expr`. -#}
{% macro member_version_join(alias, member_key_expr, date_expr) -%}
left join {{ ref('dim_member') }} as {{ alias }}
    on {{ alias }}.member_key = {{ member_key_expr }}
   and {{ date_expr }} >= {{ alias }}.pit_valid_from
   and {{ date_expr }} < {{ alias }}.valid_to
{%- endmacro %}

{#- left join the crosswalk range as `alias`: the hios_plan_id a product maps to on `date_expr`. -#}
{% macro product_plan_join(alias, product_expr, date_expr) -%}
left join {{ ref('bridge_product_plan') }} as {{ alias }}
    on {{ alias }}.product_id = {{ product_expr }}
   and {{ date_expr }} >= {{ alias }}.valid_from
   and {{ date_expr }} < {{ alias }}.valid_to
{%- endmacro %}

{#-
  left join dim_plan twice with aliases `<prefix>_version` and `<prefix>_fallback`: the version of
  (hios_plan_id, year of the date) valid on the date, else the plan's year-less fallback row
  (hios 'UNKNOWN' -> the unknown plan). Select the key with plan_key_expr(prefix).
-#}
{% macro plan_version_joins(prefix, hios_expr, date_expr) -%}
left join {{ ref('dim_plan') }} as {{ prefix }}_version
    on {{ prefix }}_version.hios_plan_id = {{ hios_expr }}
   and {{ prefix }}_version.plan_year = {{ year_of(date_expr) }}
   and {{ date_expr }} >= {{ prefix }}_version.pit_valid_from
   and {{ date_expr }} < {{ prefix }}_version.valid_to
left join {{ ref('dim_plan') }} as {{ prefix }}_fallback
    on {{ prefix }}_fallback.hios_plan_id = {{ hios_expr }}
   and {{ prefix }}_fallback.plan_year is null
{%- endmacro %}

{% macro plan_key_expr(prefix) -%}
coalesce({{ prefix }}_version.plan_key, {{ prefix }}_fallback.plan_key)
{%- endmacro %}

{#-
  left join dim_plan as `alias` for the marts' plan attributes of a month (MARTS.md): the row for
  the month's year from the newest plans snapshot on or before the 1st of the month, or from the
  earliest snapshot when the month starts before the first one. In SCD2 terms: the version in
  force (record_status 'active', valid_from <= day < valid_to) on greatest(1st of month, first
  snapshot date); a plan year that snapshot does not list gets null attributes.
-#}
{% macro plan_month_attributes_join(alias, hios_expr, month_expr) -%}
left join (
    select versions.*, catalog_start.first_snapshot_date
    from {{ ref('dim_plan') }} as versions
    cross join (
        select min(valid_from) as first_snapshot_date
        from {{ ref('dim_plan') }}
        where record_status = 'active'
    ) as catalog_start
    where versions.record_status = 'active'
) as {{ alias }}
    on {{ alias }}.hios_plan_id = {{ hios_expr }}
   and {{ alias }}.plan_year = {{ year_of(month_expr) }}
   and {{ alias }}.valid_from <= greatest({{ month_expr }}, {{ alias }}.first_snapshot_date)
   and {{ alias }}.valid_to > greatest({{ month_expr }}, {{ alias }}.first_snapshot_date)
{%- endmacro %}
