"""Configuration through resources (issue 17): the environment is read once, by the assembly; secrets
reach Dagster as EnvVars, so neither the stored job snapshot (what the UI shows of the resources) nor
the run's config or events hold them; tests build definitions without touching os.environ."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, Definitions
from dagster._serdes import serialize_value

from aca_warehouse.resources import WarehouseResource
from aca_warehouse.settings import load_settings

pytestmark = pytest.mark.duckdb

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
PROVIDERS = "claims_system/providers/providers_2025-03-01.csv"
PG_PASSWORD = "pw-never-shown-4711"


def _landing(root: Path) -> Path:
    (root / PROVIDERS).parent.mkdir(parents=True)
    shutil.copy(HANDMADE / PROVIDERS, root / PROVIDERS)
    return root


def _stored_run_text(defs: Definitions, home: Path) -> tuple[bool, str]:
    """Run the providers' landing and staging assets on an instance kept on disk; the run's job snapshot
    (the resources' configuration the UI shows), run config and event log, serialized."""
    home.mkdir()
    with DagsterInstance.local_temp(str(home)) as instance:
        result = defs.resolve_job_def("load_everything").execute_in_process(
            instance=instance,
            partition_key="2025-03-01",
            asset_selection=[AssetKey(["landing", "providers"]), AssetKey(["staging", "providers"])],
            raise_on_error=False,
        )
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        text = "\n".join(
            [
                serialize_value(instance.get_job_snapshot(run.job_snapshot_id)),
                serialize_value(run.run_config),
                serialize_value(instance.all_logs(result.run_id)),
            ]
        )
    return result.success, text


def test_secrets_reach_the_run_as_env_vars_never_as_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code location as `dagster dev` loads it (from the environment): the run gets the secret (its
    resource validates it at start), and what Dagster stores shows the variables' names only."""
    from aca_warehouse.definitions import build_definitions

    secret = "cfg-" + secrets.token_urlsafe(24)
    env = {
        "ACA_MEMBER_KEY_SECRET": secret,
        "ACA_WAREHOUSE": "duckdb",
        "ACA_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
        "ACA_LANDING_DIR": str(_landing(tmp_path / "landing")),
        "ACA_PG_DSN": f"postgresql://loader:{PG_PASSWORD}@127.0.0.1:5432/aca",
        "ACA_PARTITION_START": "2025-01-01",
    }
    for name, value in env.items():  # the one test of the environment path: monkeypatch restores it
        monkeypatch.setenv(name, value)
    defs = build_definitions()
    warehouse = defs.resources["warehouse"]
    assert isinstance(warehouse, WarehouseResource)
    assert type(warehouse.member_key_secret).__name__ == "EnvVar"  # unresolved until a run starts
    assert type(warehouse.pg_dsn).__name__ == "EnvVar"
    success, stored = _stored_run_text(defs, tmp_path / "home")
    assert success
    assert '{"env": "ACA_MEMBER_KEY_SECRET"}' in stored.replace('\\"', '"')
    assert '{"env": "ACA_PG_DSN"}' in stored.replace('\\"', '"')
    assert secret not in stored and PG_PASSWORD not in stored

    # The control: a secret given as a plain value is stored with the job (why the assembly uses EnvVar).
    plain = WarehouseResource(
        kind="duckdb", duckdb_path=str(tmp_path / "w2.duckdb"), member_key_secret=secret
    )
    leaky = build_definitions(load_settings(), warehouse=plain)
    success, stored = _stored_run_text(leaky, tmp_path / "home2")
    assert success and secret in stored


def test_a_run_with_a_public_secret_stops_at_resource_setup(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    from aca_warehouse_tests.pipeline import definitions_for

    good = make_warehouse("duckdb")
    for value, problem in (
        ("change-me", "is a public default"),
        ("", "is not set"),
        ("short", "is shorter than 16"),
    ):
        warehouse = WarehouseResource(kind="duckdb", duckdb_path=good.duckdb_path, member_key_secret=value)
        defs = definitions_for(warehouse, _landing(tmp_path / f"landing-{len(value)}"))
        with DagsterInstance.ephemeral() as instance:
            result = defs.resolve_job_def("load_everything").execute_in_process(
                instance=instance,
                partition_key="2025-03-01",
                asset_selection=[AssetKey(["staging", "providers"])],
                raise_on_error=False,
            )
        assert not result.success
        failure = [e for e in result.all_events if e.event_type_value == "RESOURCE_INIT_FAILURE"]
        assert failure, "the run should stop when the warehouse resource is set up"
        error = failure[0].event_specific_data.error  # type: ignore[union-attr]
        assert f"ACA_MEMBER_KEY_SECRET {problem}" in error.to_string()
    with good.connect() as conn:  # nothing was loaded
        assert not conn.table_exists("staging", "providers")


def test_definitions_for_tests_leave_the_environment_alone(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    from aca_warehouse_tests.pipeline import definitions_for, run_request

    before = dict(os.environ)
    warehouse = make_warehouse("duckdb")
    defs = definitions_for(warehouse, _landing(tmp_path / "landing"), sensor_default_status="stopped")
    with DagsterInstance.ephemeral() as instance:
        from dagster import RunRequest

        result = run_request(
            defs,
            instance,
            RunRequest(partition_key="2025-03-01", asset_selection=[AssetKey(["staging", "providers"])]),
        )
    assert result.success
    assert dict(os.environ) == before
    with warehouse.connect() as conn:
        assert conn.scalar("select count(*) from staging.providers") > 0


def _landing_metadata(result, feed: str) -> dict:  # noqa: ANN001 - an ExecuteInProcessResult
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(["landing", feed])
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _loaders_only(request):  # noqa: ANN001, ANN202 - a RunRequest
    """The sensor's request (its partition and tags) for the providers' landing and staging assets only:
    the hashing is all in them, and a dbt build of one feed costs a minute here."""
    return request.with_replaced_attrs(
        asset_selection=[AssetKey(["landing", "providers"]), AssetKey(["staging", "providers"])]
    )


def test_each_landing_file_is_hashed_once_and_a_corrected_redelivery_reloads(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    """The sensor hashes a new file once; the run it requests (here in a fresh cache, as in the run's
    own process) takes the hash from the sensor's state: the landing asset and the staging loader do
    not read it for hashing again. A corrected file under the same name (same size, new bytes) is
    hashed again, requested again and reloaded."""
    import hashlib
    import time

    from aca_warehouse import landing as landing_module
    from aca_warehouse.sensors import landing as sensor_module
    from aca_warehouse.sensors.landing import STATE_RUN_TAG
    from aca_warehouse_tests.pipeline import definitions_for, landing_sensor_tick, run_request

    root = _landing(tmp_path / "landing")
    path = (root / PROVIDERS).absolute()
    past = time.time() - 3600
    os.utime(path, (past, past))
    warehouse = make_warehouse("duckdb")
    defs = definitions_for(warehouse, root)
    with DagsterInstance.ephemeral() as instance:
        landing_module.HASH_PASSES.clear()
        tick = landing_sensor_tick(defs, instance, root, None)
        [request] = tick.run_requests
        assert request.tags[STATE_RUN_TAG] in tick.cursor
        assert landing_module.HASH_PASSES[str(path)] == 1
        landing_module._DIGESTS.clear()  # the run's process knows nothing but the sensor's state
        sensor_module._REUSED_STATES.clear()
        landing_module.HASH_PASSES.clear()
        result = run_request(defs, instance, _loaders_only(request))
        assert result.success
        assert landing_module.HASH_PASSES[str(path)] == 0
        assert (
            _landing_metadata(result, "providers")["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        )

        # A corrected re-delivery: same name, same size, other bytes, a later mtime.
        text = path.read_text()
        corrected = text.replace("Austin General", "Austin Generel")
        assert corrected != text and len(corrected) == len(text)
        path.write_text(corrected)
        os.utime(path, (past + 60, past + 60))
        again = landing_sensor_tick(defs, instance, root, tick.cursor)
        [second] = again.run_requests
        assert landing_module.HASH_PASSES[str(path)] == 1  # the sensor's one pass over the new bytes
        result = run_request(defs, instance, _loaders_only(second))
        assert result.success and landing_module.HASH_PASSES[str(path)] == 1
        assert (
            _landing_metadata(result, "providers")["sha256"] == hashlib.sha256(corrected.encode()).hexdigest()
        )
    with warehouse.connect() as conn:
        names = {r[0] for r in conn.fetchall("select provider_name from staging.providers")}
        audit = conn.fetchall("select status from staging.load_audit order by finished_at")
    assert "Austin Generel" in names and "Austin General" not in names
    assert [a[0] for a in audit] == ["loaded", "loaded"]


def test_a_run_without_the_sensor_hashes_each_file_once_and_skips_unchanged_files(
    tmp_path: Path, make_warehouse: Callable[[str], WarehouseResource]
) -> None:
    from aca_warehouse import landing as landing_module
    from aca_warehouse_tests.pipeline import definitions_for

    root = _landing(tmp_path / "landing")
    path = str((root / PROVIDERS).absolute())
    warehouse = make_warehouse("duckdb")
    defs = definitions_for(warehouse, root)
    with DagsterInstance.ephemeral() as instance:
        for _ in range(2):  # the second run: the same file, skipped as unchanged
            landing_module._DIGESTS.clear()
            landing_module.HASH_PASSES.clear()
            job = defs.resolve_job_def("load_everything")
            result = job.execute_in_process(
                instance=instance,
                partition_key="2025-03-01",
                asset_selection=[AssetKey(["landing", "providers"]), AssetKey(["staging", "providers"])],
                raise_on_error=False,
            )
            assert result.success
            assert landing_module.HASH_PASSES[path] == 1  # the landing asset's pass; the loader reuses it
    with warehouse.connect() as conn:
        audit = [r[0] for r in conn.fetchall("select status from staging.load_audit order by finished_at")]
    assert audit == ["loaded", "unchanged"]
