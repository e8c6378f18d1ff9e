{{ config(materialized='ephemeral') }}
-- Conformed member identity: exchange member_id -> claims-system member number -> member_key.
-- One row per member_id, from the newest snapshot that lists it. Ephemeral on purpose: the
-- raw identifiers never land in a core table.
with member_rows as (
    select
        member_id,
        issuer_member_no,
        row_number() over (partition by member_id order by _load_date desc, _source_line) as recency
    from {{ source('staging', 'members') }}
),

final as (
    select
        member_id,
        issuer_member_no,
        {{ member_key_from_member_no('issuer_member_no') }} as member_key
    from member_rows
    where recency = 1
)

select * from final
