"""The production shape (docker-compose.yml) without Docker: its services' own commands, run here.

No Docker engine runs on the machines this project is built on, so the compose file cannot be
started as a whole. This test takes every service's `command` and environment from
docker-compose.yml itself (only hosts, ports and the workspace path are rewritten for the local
machine) and runs them against the local PostgreSQL server: `init` creates the roles, then the
user-code gRPC server, the webserver and the daemon share `deploy/dagster.yaml` (Dagster's state in
PostgreSQL). The running sensor must catch up on the landing files with one run, launched by the
daemon through the code server as the least-privilege loader, and the marts must be built.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
import yaml

from ..conftest import PG_ADMIN_DSN, pg_dsn_for
from ..dagster_ui import DagsterDev, free_port, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.xdist_group("production_shape")]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
VENV_BIN = Path(sys.executable).parent


def _command(service: str, replace: dict[str, str]) -> list[str]:
    """The service's compose command with container-only values replaced, run from this environment."""
    command = [replace.get(part, part) for part in COMPOSE["services"][service]["command"]]
    executable = VENV_BIN / command[0]
    return [str(executable) if executable.exists() else command[0], *command[1:]]


def _rewrite_option(command: list[str], option: str, value: str) -> list[str]:
    index = command.index(option)
    return [*command[: index + 1], value, *command[index + 2 :]]


@pytest.fixture
def databases() -> Iterator[tuple[str, str]]:
    """A fresh warehouse database name and a fresh database for Dagster's own storage."""
    warehouse_db, dagster_db = (f"aca_test_prod_{uuid.uuid4().hex[:8]}" for _ in range(2))
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'create database "{dagster_db}"')
    yield warehouse_db, dagster_db
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for name in (warehouse_db, dagster_db):
            admin.execute(f'drop database if exists "{name}" with (force)')


def test_compose_services_load_the_landing_files_as_the_loader(
    tmp_path: Path, demo_landing: Path, databases: tuple[str, str]
) -> None:
    warehouse_db, dagster_db = databases
    admin_dsn = pg_dsn_for(warehouse_db)
    host_port = PG_ADMIN_DSN.split("@", 1)[1].rsplit("/", 1)[0]  # 127.0.0.1:5432
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "deploy" / "dagster.yaml").read_text())

    # The compose environment, every key of it, with this machine's values.
    compose_env = COMPOSE["x-dagster-env"]
    local = {
        "ACA_PG_DSN": f"postgresql://aca_loader:loader-pw@{host_port}/{warehouse_db}",
        "ACA_LANDING_DIR": str(demo_landing),
        "ACA_MEMBER_KEY_SECRET": os.environ["ACA_MEMBER_KEY_SECRET"],
        "DAGSTER_PG_HOST": host_port.split(":")[0],
        "DAGSTER_PG_PORT": host_port.split(":")[1],
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_DB": dagster_db,
    }
    service_env = {**os.environ, **{k: str(local.get(k, v)) for k, v in compose_env.items()}}
    service_env["DAGSTER_HOME"] = str(home)  # the image's ENV
    assert compose_env["ACA_WAREHOUSE"] == "postgres"

    # init: the roles (and the warehouse database), as the server's superuser.
    init_env = {**os.environ, **COMPOSE["services"]["init"]["environment"], "ACA_PG_DSN": admin_dsn}
    init = subprocess.run(_command("init", {}), env=init_env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    assert "aca_loader owns staging/core/marts" in init.stdout

    code_port, ui_port = free_port(), free_port()
    workspace = yaml.safe_load((PROJECT_ROOT / "deploy" / "workspace.compose.yaml").read_text())
    workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=code_port)
    workspace_path = home / "workspace.yaml"
    workspace_path.write_text(yaml.safe_dump(workspace))
    paths = {"/opt/dagster/home/workspace.yaml": str(workspace_path), "0.0.0.0": "127.0.0.1"}
    user_code = _rewrite_option(_command("user_code", paths), "-p", str(code_port))
    webserver = _rewrite_option(_command("webserver", paths), "-p", str(ui_port))
    daemon = _command("daemon", paths)

    processes: list[subprocess.Popen] = []
    log_path = tmp_path / "services.log"
    with log_path.open("w") as log:
        try:
            for command in (user_code, webserver, daemon):
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=tmp_path,  # nothing from the checkout's working directory: as in the image
                        env=service_env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            wait_for(
                lambda: requests.get(f"http://127.0.0.1:{ui_port}/server_info", timeout=2).ok,
                180,
                "the webserver",
            )
            ui = DagsterDev(ui_port, log_path, demo_landing)

            def sensor_runs() -> list[dict]:
                return [
                    r for r in ui.runs() if r["tags"].get("dagster/sensor_name") == "landing_files_sensor"
                ]

            wait_for(lambda: bool(sensor_runs()), 240, "the daemon's sensor to request a run")
            runs = sensor_runs()
            assert len(runs) == 1 and runs[0]["tags"]["aca/trigger"] == "landing_sensor_catch_up", runs
            ui.wait_for_run(runs[0]["runId"], 600)
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()

    # Dagster's own state is in PostgreSQL; the warehouse was built by the loader role.
    with psycopg.connect(pg_dsn_for(dagster_db)) as conn:
        statuses = conn.execute("select status from runs").fetchall()
    assert ("SUCCESS",) in statuses
    with psycopg.connect(admin_dsn) as conn:
        assert conn.execute("select count(*) from marts.plan_month").fetchone()[0] > 0
        owners = {
            r[0] for r in conn.execute("select distinct tableowner from pg_tables where schemaname = 'marts'")
        }
    assert owners == {"aca_loader"}
