{#-
  SCD type 2 versions rebuilt from every staged snapshot of a full-snapshot feed.

  `source` is a relation or CTE with one row per natural key per snapshot: the key columns,
  `snapshot_date` (the load date) and the tracked attributes. The result has one row per
  version:

    <key columns>, version_number, valid_from, valid_to (exclusive; 9999-12-31 while current),
    pit_valid_from, is_current, record_status, <attributes>, attribute_hash

  - A version starts on the snapshot date on which a change of the hashed attribute set (or
    of presence) was first seen; identical consecutive snapshots create no version.
  - A key absent from a later snapshot has left: a version with record_status = 'left' starts
    on the first snapshot without it and carries the last known attributes, so every key has
    exactly one current row and its windows tile [first seen, 9999-12-31) without gaps.
    A key that comes back starts an 'active' version again.
  - pit_valid_from is valid_from, except 1900-01-01 for version 1: a fact dated before the
    key's first snapshot resolves to the earliest known attributes (point-in-time lookups
    join on pit_valid_from <= date < valid_to).
  - Built from all snapshots each time, so the result depends only on the set of staged
    snapshots: replaying a snapshot or loading snapshots out of order gives the same history.
-#}
{% macro scd2_versions(source, key_columns, attribute_columns) -%}
{%- set keys = key_columns | join(', ') -%}
{%- set attrs = attribute_columns | join(', ') -%}
snapshot_calendar as (
    select
        snapshot_date,
        row_number() over (order by snapshot_date) as snapshot_no,
        lead(snapshot_date) over (order by snapshot_date) as next_snapshot_date
    from (select distinct snapshot_date from {{ source }}) as d
),

present as (
    select
        {% for k in key_columns %}s.{{ k }}, {% endfor %}
        {% for a in attribute_columns %}s.{{ a }}, {% endfor %}
        s.snapshot_date,
        c.snapshot_no,
        c.next_snapshot_date,
        {{ surrogate_key(attribute_columns) }} as attribute_hash
    from {{ source }} as s
    inner join snapshot_calendar as c on c.snapshot_date = s.snapshot_date
),

present_with_next as (
    select
        *,
        lead(snapshot_no) over (partition by {{ keys }} order by snapshot_no) as next_present_no
    from present
),

states as (
    select
        {{ keys }}, {{ attrs }}, attribute_hash, snapshot_no, snapshot_date,
        'active' as record_status
    from present_with_next
    union all
    -- the first snapshot without the key after a snapshot with it: the key has left
    select
        {{ keys }}, {{ attrs }}, attribute_hash, snapshot_no + 1, next_snapshot_date,
        'left' as record_status
    from present_with_next
    where next_snapshot_date is not null
      and (next_present_no is null or next_present_no > snapshot_no + 1)
),

state_changes as (
    select
        *,
        case
            when lag(attribute_hash) over w is null then 1
            when lag(attribute_hash) over w <> attribute_hash then 1
            when lag(record_status) over w <> record_status then 1
            else 0
        end as is_new_version
    from states
    window w as (partition by {{ keys }} order by snapshot_no)
),

numbered as (
    select
        *,
        sum(is_new_version) over (
            partition by {{ keys }} order by snapshot_no rows between unbounded preceding and current row
        ) as version_number
    from state_changes
),

version_starts as (
    select *
    from numbered
    where is_new_version = 1
),

versions as (
    select
        {{ keys }},
        cast(version_number as integer) as version_number,
        snapshot_date as valid_from,
        coalesce(
            lead(snapshot_date) over (partition by {{ keys }} order by version_number),
            {{ end_of_time() }}
        ) as valid_to,
        record_status,
        {{ attrs }},
        attribute_hash
    from version_starts
),

scd2_final as (
    select
        {{ keys }},
        version_number,
        valid_from,
        valid_to,
        case when version_number = 1 then {{ start_of_time() }} else valid_from end as pit_valid_from,
        valid_to = {{ end_of_time() }} as is_current,
        record_status,
        {{ attrs }},
        attribute_hash
    from versions
)
{%- endmacro %}
