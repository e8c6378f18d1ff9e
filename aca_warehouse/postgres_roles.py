"""Least-privilege roles on the PostgreSQL warehouse: a loader that owns the layers, an analyst who reads marts."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from aca_warehouse.resources.warehouse import WAREHOUSE_SCHEMAS, WarehouseConnection, WarehouseResource

LOADER_ROLE = "aca_loader"
ANALYST_ROLE = "aca_analyst"


@dataclass(frozen=True)
class RoleSetup:
    """What `setup_roles` did, for the CLI to print."""

    database: str
    loader: str
    analyst: str
    statements: int
    handed_over: int = 0


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


# Relations of the warehouse schemas, with the ALTER that hands each kind over. Partitions are relations
# of their own (ownership does not follow the parent); indexes, TOAST tables and the sequences that
# belong to a column follow their table.
_ALTER_BY_KIND = {
    "r": "table",
    "p": "table",
    "f": "foreign table",
    "v": "view",
    "m": "materialized view",
    "S": "sequence",
}
OBJECTS_TO_HAND_OVER_SQL = f"""
select c.relkind, n.nspname, c.relname
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname in ({", ".join(f"'{s}'" for s in WAREHOUSE_SCHEMAS)})
  and c.relkind in ({", ".join(f"'{k}'" for k in _ALTER_BY_KIND)})
  and pg_get_userbyid(c.relowner) <> %s
  and not (c.relkind = 'S' and exists (  -- a sequence owned by a column changes owner with its table
      select 1 from pg_depend d
      where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype in ('a', 'i')
        and d.refclassid = 'pg_class'::regclass
  ))
order by n.nspname, c.relkind, c.relname
"""
ROUTINES_TO_HAND_OVER_SQL = f"""
select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prokind
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where n.nspname in ({", ".join(f"'{s}'" for s in WAREHOUSE_SCHEMAS)})
  and pg_get_userbyid(p.proowner) <> %s
"""


def hand_over_sql(conn: WarehouseConnection) -> list[sql.Composable]:
    """ALTER ... OWNER TO the loader for every relation and routine in the warehouse schemas that another
    role owns: tables (partitions one by one), views, sequences. Without it, a warehouse first built
    by another role (`make run` as postgres) cannot be rebuilt by the loader ("must be owner of table")."""
    statements: list[sql.Composable] = []
    for kind, schema, name in conn.fetchall(OBJECTS_TO_HAND_OVER_SQL, [LOADER_ROLE]):
        statements.append(
            sql.SQL("alter {} {}.{} owner to {}").format(
                sql.SQL(_ALTER_BY_KIND[kind]),
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.Identifier(LOADER_ROLE),
            )
        )
    for schema, name, arguments, kind in conn.fetchall(ROUTINES_TO_HAND_OVER_SQL, [LOADER_ROLE]):
        statements.append(
            sql.SQL("alter {} {}.{}({}) owner to {}").format(
                sql.SQL("procedure" if kind == "p" else "aggregate" if kind == "a" else "function"),
                sql.Identifier(schema),
                sql.Identifier(name),
                sql.SQL(arguments),
                sql.Identifier(LOADER_ROLE),
            )
        )
    return statements


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
            # After the roles and schemas exist: what is already there changes hands too, and the
            # analyst's grants on existing marts are given again (by the new owner).
            handed = hand_over_sql(conn)
            for composed in handed:
                conn.raw.execute(composed)
            conn.execute(f"grant select on all tables in schema marts to {ANALYST_ROLE}")
            for role, password in (passwords or {}).items():
                conn.raw.execute(
                    sql.SQL("alter role {} with password {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
    return RoleSetup(dbname, LOADER_ROLE, ANALYST_ROLE, len(statements) + len(handed) + 1, len(handed))
