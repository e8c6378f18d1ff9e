{#-
  Every listed foreign key of a fact is not null and resolves to a row of its dimension
  (unknown and inferred rows included): no orphans, no dropped facts. `references` is a list of
  {column: <fk column>, to: ref('dim'), field: <dimension key>}. Written as an anti-join (a null
  key matches nothing) so both engines hash-join it; `x is null or not exists (...)` made
  PostgreSQL probe the dimension once per fact row.
-#}
{% test foreign_keys_resolve(model, references) %}
{%- for r in references %}
select '{{ r.column }}' as foreign_key, cast(f.{{ r.column }} as {{ text_type() }}) as key_value, count(*) as fact_rows
from {{ model }} as f
left join {{ r.to }} as d on d.{{ r.field }} = f.{{ r.column }}
where d.{{ r.field }} is null
group by f.{{ r.column }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
{% endtest %}
