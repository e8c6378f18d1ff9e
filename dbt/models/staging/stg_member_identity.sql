{{ config(materialized='incremental', replace_key='member_id', replace_removed_loads=true) }}
-- depends_on: {{ ref('stg_members') }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Member identity across the two source systems: the exchange member_id, the claims system's
-- member number the newest snapshot listing the member gives it (a later snapshot wins), and
-- their pseudonymous keys. Grain: one row per member_id ever listed.
-- Incremental: recomputed for the member_ids listed in member snapshots added since the last
-- build, and for those whose newest listing was in a snapshot that has been re-delivered.
with members as (
    select * from {{ ref('stg_members') }}
),

{% if is_incremental() %}
work as (
    select member_id from members where _load_id in {{ changed_loads('members', 'added') }}
    union
    select member_id from {{ this }} where _load_id in {{ changed_loads('members', 'removed') }}
),

candidates as (
    select m.*
    from members as m
    inner join work as w on w.member_id = m.member_id
),
{% else %}
candidates as (
    select * from members
),
{% endif %}

listings as (
    select
        *,
        row_number() over (partition by member_id order by snapshot_date desc, _source_line asc) as recency
    from candidates
),

final as (
    select
        member_id,
        issuer_member_no,
        {{ member_key_from_member_no('issuer_member_no') }} as member_key,
        {{ member_key_from_exchange_id('member_id') }} as exchange_member_key,
        snapshot_date,
        _load_id
    from listings
    where recency = 1
)

select * from final
