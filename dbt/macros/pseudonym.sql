{#-
  Pseudonymous member keys.

  `member_key` must not be reversible by anyone who can hash a member number, so it is a
  keyed hash: H(secret || ':' || H(secret || ':' || id)) with H = SHA-256 (the nested form
  avoids the length-extension weakness of a plain secret-prefix hash; HMAC itself is not
  available on both engines without extensions).

  The secret comes from the environment variable ACA_MEMBER_KEY_SECRET (Dagster sets it from
  WarehouseResource.dbt_env()). It is read only when SQL is executed, so `dbt parse` needs no
  secret. The rendered SQL of a run contains it: Dagster points dbt's target/log path at a
  scratch directory that is deleted after each invocation.
-#}

{% macro member_key_secret() -%}
  {%- if execute -%}
    {%- set secret = env_var('ACA_MEMBER_KEY_SECRET') -%}
    {%- if secret | length < 8 -%}
      {{ exceptions.raise_compiler_error("ACA_MEMBER_KEY_SECRET must be at least 8 characters long") }}
    {%- endif -%}
    {{- return(secret | replace("'", "''")) -}}
  {%- else -%}
    {{- return('parse-time-placeholder') -}}
  {%- endif -%}
{%- endmacro %}

{% macro keyed_hash(expr) -%}
  {%- set secret = member_key_secret() -%}
  {{ sha256_hex("'" ~ secret ~ ":' || " ~ sha256_hex("'" ~ secret ~ ":' || cast(" ~ expr ~ " as varchar)")) }}
{%- endmacro %}

{#- The durable pseudonymous member key of a claims-system member number (issuer_member_no). -#}
{% macro member_key_from_member_no(expr) -%}
  case when {{ expr }} is null then null else {{ keyed_hash("'member_no:' || " ~ expr) }} end
{%- endmacro %}

{#- Fallback key for an exchange member_id that no member snapshot has mapped to a member number yet. -#}
{% macro member_key_from_exchange_id(expr) -%}
  case when {{ expr }} is null then null else {{ keyed_hash("'exchange_member_id:' || " ~ expr) }} end
{%- endmacro %}
