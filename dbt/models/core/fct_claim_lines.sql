{{ config(indexes=pg_indexes(['claim_line_key', 'member_key', 'plan_key', 'servicing_provider_key', 'adjudicated_date'])) }}
-- depends_on: {{ ref('fct_claim_line_versions') }}
-- depends_on: {{ ref('int_claim_lines_touched') }}
-- The current version of every claim line. Grain: one row per (claim_id, line_number): the
-- highest claim_version among all accepted rows of all loaded claim files (after the
-- later-load-replaces rule). REVERSED and DENIED lines carry 0 paid; is_counted_line marks the
-- lines that count as claim lines (not REVERSED).
-- Incremental, in step with fct_claim_line_versions (same touched lines, config in _core.yml).

with versions as (
    select *
    from {{ ref('fct_claim_line_versions') }}
    {% if is_incremental() %}
    where claim_line_key in (select claim_line_key from {{ ref('int_claim_lines_touched') }})
    {% endif %}
),

line_history as (
    select
        claim_line_key,
        count(*) as version_count,
        min(adjudicated_date) as first_adjudicated_date
    from versions
    group by claim_line_key
),

final as (
    select
        v.claim_line_key,
        v.claim_line_version_key,
        v.claim_id,
        v.line_number,
        v.claim_version,
        h.version_count,
        h.first_adjudicated_date,
        v.claim_type,
        v.claim_status,
        v.claim_status <> 'REVERSED' as is_counted_line,
        v.member_key,
        v.member_version_key,
        v.product_id,
        v.hios_plan_id,
        v.plan_key,
        v.billing_provider_key,
        v.rendering_provider_key,
        v.servicing_provider_key,
        v.servicing_specialty,
        v.service_from_date,
        {{ month_start('v.service_from_date') }} as service_month,
        v.service_to_date,
        v.received_date,
        v.adjudicated_date,
        v.place_of_service,
        v.procedure_code,
        v.ndc,
        v.principal_diagnosis_code,
        v.diagnosis_codes,
        v.units,
        v.billed_amount,
        v.allowed_amount,
        v.paid_amount,
        v.copay_amount,
        v.coinsurance_amount,
        v.deductible_amount,
        v.denial_reason_code,
        v._load_date,
        v._load_id,
        v._source_file,
        v._source_line,
        cast('{{ invocation_id }}' as {{ text_type() }}) as _dbt_invocation_id
    from versions as v
    inner join line_history as h on h.claim_line_key = v.claim_line_key
    where v.is_current_version
)

select * from final
