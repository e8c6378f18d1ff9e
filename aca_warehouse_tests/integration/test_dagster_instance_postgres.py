"""The production instance config (deploy/dagster.yaml) stores runs and events in PostgreSQL."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from dagster import DagsterInstance, asset, materialize

from ..conftest import PG_ADMIN_DSN, pg_dsn_for

pytestmark = pytest.mark.postgres

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


@asset
def probe_asset() -> int:
    return 42


def test_instance_from_deploy_config_records_runs_in_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbname = f"aca_test_dagster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'create database "{dbname}"')
    try:
        home = tmp_path / "home"
        home.mkdir()
        shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
        for var, value in {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_USER": "postgres",
            "DAGSTER_PG_PASSWORD": "",
            "DAGSTER_PG_DB": dbname,
        }.items():
            monkeypatch.setenv(var, value)
        with DagsterInstance.from_config(str(home)) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
            assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
            result = materialize([probe_asset], instance=instance)
            assert result.success
        with psycopg.connect(pg_dsn_for(dbname)) as conn:
            runs = conn.execute("select run_id, status from runs").fetchall()
            events = conn.execute(
                "select count(*) from event_logs where run_id = %s", [result.run_id]
            ).fetchone()
        assert (result.run_id, "SUCCESS") in [(r, s) for r, s in runs]
        assert events[0] > 0
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{dbname}" with (force)')
