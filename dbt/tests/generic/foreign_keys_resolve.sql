{#-
  Every listed foreign key of a fact is not null and resolves to a row of its dimension
  (unknown and inferred rows included): no orphans, no dropped facts. `references` is a list of
  {column: <fk column>, to: ref('dim'), field: <dimension key>}.
-#}
{% test foreign_keys_resolve(model, references) %}
{%- for r in references %}
select '{{ r.column }}' as foreign_key, cast(f.{{ r.column }} as varchar) as key_value, count(*) as fact_rows
from {{ model }} as f
where f.{{ r.column }} is null
   or not exists (select 1 from {{ r.to }} as d where d.{{ r.field }} = f.{{ r.column }})
group by f.{{ r.column }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}
