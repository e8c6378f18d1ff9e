"""The warehouses answer: a fresh DuckDB file or PostgreSQL database has the layer schemas and names itself
to dbt; an unreachable server or an unknown role is a clear error (moved from unit/test_foundation.py)."""

from __future__ import annotations

import pytest

from ..conftest import WAREHOUSE_KINDS


@pytest.mark.parametrize("kind", WAREHOUSE_KINDS)
def test_warehouse_reachable_and_schemas_created(make_warehouse, kind: str) -> None:
    warehouse = make_warehouse(kind)
    with warehouse.connect() as conn:
        assert conn.scalar("select 40 + %s", [2]) == 42
        schemas = {r[0] for r in conn.fetchall("select schema_name from information_schema.schemata")}
    assert {"staging", "core", "marts"} <= schemas
    env = warehouse.dbt_env()
    assert env["ACA_DBT_TARGET"] == kind


@pytest.mark.postgres
def test_postgres_unreachable_is_a_clear_error() -> None:
    from aca_warehouse.errors import WarehouseUnreachableError
    from aca_warehouse.resources import WarehouseResource

    bad_port = WarehouseResource(
        kind="postgres", pg_dsn="postgresql://postgres@127.0.0.1:1/aca", connect_retries=0
    )
    with (
        pytest.raises(WarehouseUnreachableError, match="127.0.0.1:1.*is the server running"),
        bad_port.connect(),
    ):
        pass
    bad_user = WarehouseResource(
        kind="postgres", pg_dsn="postgresql://no_such_role@127.0.0.1:5432/aca", connect_retries=0
    )
    with pytest.raises(WarehouseUnreachableError, match="no_such_role"), bad_user.connect():
        pass
