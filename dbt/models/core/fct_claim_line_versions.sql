{{ config(indexes=pg_indexes(['claim_line_key', 'member_key', 'plan_key', 'servicing_provider_key', 'adjudicated_date'])) }}
-- depends_on: {{ ref('bridge_product_plan') }}, {{ ref('dim_member') }}, {{ ref('dim_plan') }}, {{ ref('dim_provider') }}, {{ ref('stg_claims') }}
-- depends_on: {{ ref('int_claim_lines_touched') }}
-- Every accepted claim line version (stg_claims: the later load date already replaced a
-- same-key row). Grain: one row per (claim_id, line_number, claim_version). Dimension keys are
-- the ones valid on the service date (point-in-time); the plan comes from the newest products
-- crosswalk. servicing_specialty copies the type-1 specialty of the servicing provider
-- (rendering NPI, else billing NPI) so the claims marts group without a join; a provider change
-- re-keys the lines like a dimension change.
-- Incremental (config shared with fct_claim_lines in _core.yml): a run deletes and rebuilds
-- every version of the claim lines in int_claim_lines_touched. A first build or a full refresh
-- builds everything.

with staged as (
    select *
    from {{ ref('stg_claims') }}
    {% if is_incremental() %}
    where claim_line_key in (select claim_line_key from {{ ref('int_claim_lines_touched') }})
    {% endif %}
),

latest_versions as (
    select
        *,
        max(claim_version) over (partition by claim_line_key) as current_claim_version
    from staged
),

final as (
    select
        c.claim_line_version_key,
        c.claim_line_key,
        c.claim_id,
        cast(c.line_number as integer) as line_number,
        cast(c.claim_version as integer) as claim_version,
        c.claim_version = c.current_claim_version as is_current_version,
        c.claim_type,
        c.claim_status,
        c.member_key,
        m.member_version_key,
        c.product_id,
        coalesce(x.hios_plan_id, 'UNKNOWN') as hios_plan_id,
        {{ plan_key_expr('p') }} as plan_key,
        {{ surrogate_key(['c.billing_npi']) }} as billing_provider_key,
        case when c.rendering_npi is not null then {{ surrogate_key(['c.rendering_npi']) }} end
            as rendering_provider_key,
        {{ surrogate_key(['coalesce(c.rendering_npi, c.billing_npi)']) }} as servicing_provider_key,
        coalesce(sp.specialty, 'UNKNOWN') as servicing_specialty,
        cast(c.service_from_date as date) as service_from_date,
        {{ month_start('c.service_from_date') }} as service_month,
        cast(c.service_to_date as date) as service_to_date,
        cast(c.received_date as date) as received_date,
        cast(c.adjudicated_date as date) as adjudicated_date,
        c.place_of_service,
        c.procedure_code,
        c.ndc,
        trim(split_part(c.diagnosis_codes, '|', 1)) as principal_diagnosis_code,
        c.diagnosis_codes,
        cast(c.units as integer) as units,
        {{ money('c.billed_amount') }} as billed_amount,
        {{ money('c.allowed_amount') }} as allowed_amount,
        {{ money('c.paid_amount') }} as paid_amount,
        {{ money('c.copay_amount') }} as copay_amount,
        {{ money('c.coinsurance_amount') }} as coinsurance_amount,
        {{ money('c.deductible_amount') }} as deductible_amount,
        c.denial_reason_code,
        cast(c._load_date as date) as _load_date,
        cast(c._load_id as {{ text_type() }}) as _load_id,
        cast(c._source_file as {{ text_type() }}) as _source_file,
        cast(c._source_line as integer) as _source_line,
        cast('{{ invocation_id }}' as {{ text_type() }}) as _dbt_invocation_id
    from latest_versions as c
    {{ member_version_join('m', 'c.member_key', 'c.service_from_date') }}
    {{ product_plan_join('x', 'c.product_id', 'c.service_from_date') }}
    {{ plan_version_joins('p', "coalesce(x.hios_plan_id, 'UNKNOWN')", 'c.service_from_date') }}
    left join {{ ref('dim_provider') }} as sp on sp.npi = coalesce(c.rendering_npi, c.billing_npi)
)

select * from final
