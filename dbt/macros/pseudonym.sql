{#-
  Pseudonymous member keys.

  `member_key` must not be reversible by anyone who can hash a member number, so it is a
  keyed hash: H(secret || ':' || H(secret || ':' || id)) with H = SHA-256 (the nested form
  avoids the length-extension weakness of a plain secret-prefix hash; HMAC itself is not
  available on both engines without extensions).

  The secret (ACA_MEMBER_KEY_SECRET, validated by aca_warehouse.settings) never appears in
  SQL text: the compiled SQL reads it from the session, so neither dbt's artifacts and logs,
  nor error messages, nor the database's statement logs or catalog hold it.
  - DuckDB: the variable `aca_member_key_secret`, set on every dbt connection by the profile's
    plugin `aca_warehouse.dbt_session` (DuckDB's `error()` fails the model when it is unset).
  - PostgreSQL: the session setting `aca.member_key_secret`, given at connection start through
    libpq's PGOPTIONS (WarehouseResource.dbt_env()); unset, PostgreSQL refuses the query.
  - Spark: Spark's variable substitution `${env:ACA_MEMBER_KEY_SECRET}`, replaced by the value of
    the environment variable of the Spark driver (the dbt process for a local session, the Thrift
    server's for a cluster) when the statement is parsed. A Spark conf would not do: Spark
    substitutes the values of confs whose names contain "secret" redacted. Unset, the
    placeholder stays as it is, and raise_error() fails the model.
-#}

{% macro member_key_secret_sql() -%}
  {{ return(adapter.dispatch('member_key_secret_sql', 'aca_warehouse')()) }}
{%- endmacro %}

{% macro default__member_key_secret_sql() -%}
  coalesce(getvariable('aca_member_key_secret'), error('the member-key secret is not set for this dbt session: run dbt through Dagster (aca-warehouse run), or with a valid ACA_MEMBER_KEY_SECRET in the environment; see docs/SECURITY.md'))
{%- endmacro %}

{% macro postgres__member_key_secret_sql() -%}
  current_setting('aca.member_key_secret')
{%- endmacro %}

{% macro spark__member_key_secret_sql() -%}
  coalesce(nullif('${env:ACA_MEMBER_KEY_SECRET}', concat('$', '{env:ACA_MEMBER_KEY_SECRET}')), raise_error('the member-key secret is not set for this dbt session: run dbt through Dagster (aca-warehouse run), or with a valid ACA_MEMBER_KEY_SECRET in the environment of the Spark driver; see docs/SECURITY.md'))
{%- endmacro %}

{% macro keyed_hash(expr) -%}
  {%- set secret = member_key_secret_sql() -%}
  {{ sha256_hex(secret ~ " || ':' || " ~ sha256_hex(secret ~ " || ':' || cast(" ~ expr ~ " as " ~ text_type() ~ ")")) }}
{%- endmacro %}

{#- The durable pseudonymous member key of a claims-system member number (issuer_member_no). -#}
{% macro member_key_from_member_no(expr) -%}
  case when {{ expr }} is null then null else {{ keyed_hash("'member_no:' || " ~ expr) }} end
{%- endmacro %}

{#- Fallback key for an exchange member_id that no member snapshot has mapped to a member number yet. -#}
{% macro member_key_from_exchange_id(expr) -%}
  case when {{ expr }} is null then null else {{ keyed_hash("'exchange_member_id:' || " ~ expr) }} end
{%- endmacro %}
