{#-
  SCD2 integrity. scd2_no_overlap: versions of one natural key whose windows are empty or
  overlap the next version's (valid_to > next valid_from). scd2_one_current: natural keys
  without exactly one current row, or current rows not open-ended.
-#}
{% test scd2_no_overlap(model, key_columns, valid_from='valid_from', valid_to='valid_to') %}
with ordered as (
    select
        {{ key_columns | join(', ') }},
        {{ valid_from }} as window_from,
        {{ valid_to }} as window_to,
        lead({{ valid_from }}) over (
            partition by {{ key_columns | join(', ') }} order by {{ valid_from }}
        ) as next_from
    from {{ model }}
)
select *
from ordered
where window_from >= window_to
   or (next_from is not null and window_to > next_from)
{% endtest %}

{% test scd2_one_current(model, key_columns, current_flag='is_current', valid_to='valid_to') %}
select {{ key_columns | join(', ') }},
       sum(case when {{ current_flag }} then 1 else 0 end) as current_rows,
       sum(case when {{ current_flag }} and {{ valid_to }} <> cast('9999-12-31' as date) then 1 else 0 end)
           as current_rows_with_an_end
from {{ model }}
group by {{ key_columns | join(', ') }}
having sum(case when {{ current_flag }} then 1 else 0 end) <> 1
    or sum(case when {{ current_flag }} and {{ valid_to }} <> cast('9999-12-31' as date) then 1 else 0 end) > 0
{% endtest %}
