"""Least-privilege roles on the PostgreSQL warehouse: a loader that owns the layers, an analyst who reads marts."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from aca_warehouse.resources.warehouse import WAREHOUSE_SCHEMAS, WarehouseResource

LOADER_ROLE = "aca_loader"
ANALYST_ROLE = "aca_analyst"


@dataclass(frozen=True)
class RoleSetup:
    """What `setup_roles` did, for the CLI to print."""

    database: str
    loader: str
    analyst: str
    statements: int


def _create_role_if_missing(role: str) -> str:
    return f"""
do $$
begin
  if not exists (select 1 from pg_roles where rolname = '{role}') then
    create role {role} login;
  end if;
end
$$;
"""


def role_setup_sql(dbname: str, creator: str) -> list[str]:
    """Idempotent statements: roles, schema ownership, grants and default privileges.

    `creator` is the role that runs the pipeline and creates tables (its future tables in
    `marts` become readable by the analyst through default privileges).
    """
    statements = [_create_role_if_missing(LOADER_ROLE), _create_role_if_missing(ANALYST_ROLE)]
    statements += [
        f'revoke all on database "{dbname}" from public',
        f'grant connect, temporary on database "{dbname}" to {LOADER_ROLE}',
        f'grant connect on database "{dbname}" to {ANALYST_ROLE}',
        f"grant {LOADER_ROLE} to {creator}" if creator != LOADER_ROLE else "select 1",
    ]
    for schema in WAREHOUSE_SCHEMAS:
        statements += [
            f"create schema if not exists {schema}",
            f"alter schema {schema} owner to {LOADER_ROLE}",
            f"grant all on all tables in schema {schema} to {LOADER_ROLE}",
            f"revoke all on schema {schema} from public",
            f"revoke all on all tables in schema {schema} from {ANALYST_ROLE}",
        ]
    statements += [
        f"grant usage on schema marts to {ANALYST_ROLE}",
        f"grant select on all tables in schema marts to {ANALYST_ROLE}",
        f"alter default privileges for role {LOADER_ROLE} in schema marts grant select on tables to {ANALYST_ROLE}",
        f"alter default privileges for role {creator} in schema marts grant select on tables to {ANALYST_ROLE}",
        f"revoke usage on schema staging, core from {ANALYST_ROLE}",
    ]
    return statements


def setup_roles(warehouse: WarehouseResource, passwords: dict[str, str] | None = None) -> RoleSetup:
    """Create (or bring up to date) the loader and analyst roles on the warehouse's database."""
    if warehouse.kind != "postgres":
        raise ValueError("roles exist only on the PostgreSQL warehouse (ACA_WAREHOUSE=postgres)")
    with warehouse.connect() as conn:
        dbname = conn.scalar("select current_database()")
        creator = conn.scalar("select current_user")
        statements = role_setup_sql(dbname, creator)
        with conn.transaction():
            for statement in statements:
                conn.execute(statement)
            for role, password in (passwords or {}).items():
                conn.raw.execute(
                    sql.SQL("alter role {} with password {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
    return RoleSetup(dbname, LOADER_ROLE, ANALYST_ROLE, len(statements))
