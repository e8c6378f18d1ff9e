{{ config(severity='error', meta={'dagster': {'ref': {'name': 'member_value'}}}) }}
-- member_key in the marts is a pseudonym: never equal to a source member id or member number,
-- nor to a plain (unkeyed) SHA-256 or md5 of one.
with source_ids as (
    select member_id as source_id from {{ ref('stg_members') }}
    union
    select issuer_member_no from {{ ref('stg_members') }}
    union
    select member_no from {{ ref('stg_claims') }}
    union
    select member_no from {{ ref('stg_premiums') }}
),

plain_hashes as (
    select source_id as value from source_ids
    union
    select {{ sha256_hex('source_id') }} from source_ids
    union
    select md5(source_id) from source_ids
),

mart_keys as (
    select member_key from {{ ref('member_value') }}
    union
    select member_key from {{ ref('member_month_summary') }}
)

select k.member_key
from mart_keys as k
inner join plain_hashes as h on h.value = k.member_key
