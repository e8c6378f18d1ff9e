{{ config(materialized='incremental', replace_key='claim_line_version_key', replace_removed_loads=true) }}
-- depends_on: {{ ref('stg_load_changes') }}
-- Claim line versions after the cross-load rule of LANDING.md: of the staged rows with the same
-- (claim_id, line_number, claim_version), the one from the latest load date replaces the others
-- (ties: the later source line). With the pseudonymous member_key and the surrogate keys of the
-- version and of its claim line. Grain: one row per (claim_id, line_number, claim_version).
-- Incremental, a table rather than a view: a run recomputes the winner of the keys in loads
-- added since the last build and of the keys whose winning row was in a re-delivered load; a
-- view would apply the rule to every staged row on every read.
with claims as (
    select * from {{ source('staging', 'claims') }}
),

{% if is_incremental() %}
work as (
    select claim_id, line_number, claim_version
    from claims
    where _load_id in {{ changed_loads('claims', 'added') }}
    union
    select claim_id, line_number, claim_version
    from {{ this }}
    where _load_id in {{ changed_loads('claims', 'removed') }}
),

candidates as (
    select c.*
    from claims as c
    inner join work as w
        on w.claim_id = c.claim_id and w.line_number = c.line_number and w.claim_version = c.claim_version
),
{% else %}
candidates as (
    select * from claims
),
{% endif %}

ranked as (
    select
        *,
        row_number() over (
            partition by claim_id, line_number, claim_version
            order by _load_date desc, _source_line desc
        ) as load_rank
    from candidates
),

final as (
    select
        {{ surrogate_key(['claim_id', 'line_number', 'claim_version']) }} as claim_line_version_key,
        {{ surrogate_key(['claim_id', 'line_number']) }} as claim_line_key,
        claim_id,
        cast(line_number as integer) as line_number,
        cast(claim_version as integer) as claim_version,
        claim_type,
        claim_status,
        member_no,
        {{ member_key_from_member_no('member_no') }} as member_key,
        product_id,
        billing_npi,
        rendering_npi,
        service_from_date,
        service_to_date,
        received_date,
        adjudicated_date,
        place_of_service,
        procedure_code,
        ndc,
        diagnosis_codes,
        cast(units as integer) as units,
        billed_amount,
        allowed_amount,
        paid_amount,
        copay_amount,
        coinsurance_amount,
        deductible_amount,
        denial_reason_code,
        cast(_load_date as date) as _load_date,
        _load_id,
        _source_file,
        cast(_source_line as integer) as _source_line
    from ranked
    where load_rank = 1
)

select * from final
