"""The frame: definitions load, the asset graph is as reviewed, settings and the CLI fail clearly (the warehouses
answering is integration/test_warehouses_answer.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import Definitions

from aca_warehouse.cli import main
from aca_warehouse.errors import ConfigurationError
from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse.settings import load_settings, parse_pg_dsn

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "asset_graph.txt"


def describe_asset_graph(defs: Definitions) -> str:
    """One line per asset and check: key, group, partitioning, freshness, pool, upstream keys, blocking flag."""
    graph = defs.resolve_asset_graph()
    lines: list[str] = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = type(node.partitions_def).__name__ if node.partitions_def else "unpartitioned"
        parents = ",".join(sorted(p.to_user_string() for p in node.parent_keys))
        policy = node.freshness_policy
        fresh = (
            f"fresh<{policy.fail_window.to_timedelta().total_seconds() / 3600:.0f}h"
            if policy
            else "no-freshness"
        )
        pool = next(iter(node.pools), None) if node.pools else None
        lines.append(
            f"asset {key.to_user_string()} group={node.group_name} {partitions} {fresh}"
            f"{f' pool={pool}' if pool else ''} <- [{parents}]"
        )
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        lines.append(
            f"check {check_key.asset_key.to_user_string()}:{check_key.name} blocking={spec.blocking}"
        )
    return "\n".join(lines) + "\n"


@pytest.mark.unit
def test_definitions_load() -> None:
    from aca_warehouse import definitions

    Definitions.validate_loadable(definitions.defs)
    graph = definitions.defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name in {
            "landing",
            "staging",
            "intermediate",
            "core",
            "marts",
            "quality",
            "reports",
        }, key
        assert node.description, f"{key.to_user_string()} has no description"


@pytest.mark.unit
def test_asset_graph_snapshot() -> None:
    """A change to the asset graph must show up in review: regenerate with UPDATE_SNAPSHOTS=1."""
    from aca_warehouse.definitions import defs

    actual = describe_asset_graph(defs)
    if os.environ.get("UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(actual)
    assert actual == SNAPSHOT.read_text()


@pytest.mark.unit
def test_settings_defaults_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACA_DUCKDB_PATH", "ACA_WAREHOUSE"):  # other tests' runs may have set them
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.warehouse == "duckdb"
    assert settings.duckdb_path.is_absolute() and settings.duckdb_path.name == "warehouse.duckdb"
    monkeypatch.setenv("ACA_WAREHOUSE", "oracle")
    with pytest.raises(ConfigurationError, match="ACA_WAREHOUSE"):
        load_settings()
    params = parse_pg_dsn("postgresql://loader:s3cret@db.internal:6543/warehouse")
    assert (params.user, params.password, params.host, params.port, params.dbname) == (
        "loader",
        "s3cret",
        "db.internal",
        6543,
        "warehouse",
    )


@pytest.mark.unit
def test_memory_budget_sets_duckdb_limits_for_the_process_tree() -> None:
    """One budget for the run's process tree: dbt's DuckDB gets it less dbt's and Dagster's own share,
    staging half of it; an explicit DuckDB limit wins; a bad size names its variable."""
    default = load_settings({})
    assert (default.duckdb_memory_limit, default.staging_duckdb_memory_limit) == ("1100MB", "1000MB")
    bigger = load_settings({"ACA_MEMORY_BUDGET": "4GiB"})
    assert (bigger.duckdb_memory_limit, bigger.staging_duckdb_memory_limit) == ("3394MB", "2147MB")
    tiny = load_settings({"ACA_MEMORY_BUDGET": "512MB"})
    assert (tiny.duckdb_memory_limit, tiny.staging_duckdb_memory_limit) == ("256MB", "256MB")
    explicit = load_settings({"ACA_MEMORY_BUDGET": "3GB", "ACA_DUCKDB_MEMORY_LIMIT": "2GB"})
    assert (explicit.duckdb_memory_limit, explicit.staging_duckdb_memory_limit) == ("2GB", "1500MB")
    with pytest.raises(ConfigurationError, match="ACA_MEMORY_BUDGET"):
        load_settings({"ACA_MEMORY_BUDGET": "lots"})


@pytest.mark.unit
def test_cli_run_without_landing_files_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--landing", str(tmp_path / "empty")])
    err = capsys.readouterr().err
    assert code == 1
    assert "no landing files under" in err and "aca-warehouse generate" in err


@pytest.mark.unit
def test_cli_bad_date_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--from", "2025-02-30"]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.unit
def test_console_script_installed() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "aca_warehouse.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "run" in out


@pytest.mark.unit
def test_dbt_parse_cache_is_per_connection_and_holds_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from aca_warehouse.assets.dbt import parse_cache_dir

    a = WarehouseResource(kind="duckdb", duckdb_path="/tmp/a.duckdb")
    b = WarehouseResource(kind="duckdb", duckdb_path="/tmp/b.duckdb")
    assert parse_cache_dir(a) != parse_cache_dir(b)
    monkeypatch.setenv("ACA_MEMBER_KEY_SECRET", "another-secret-value")
    assert parse_cache_dir(a) == parse_cache_dir(
        WarehouseResource(kind="duckdb", duckdb_path="/tmp/a.duckdb")
    )


@pytest.mark.unit
def test_lake_mode_settings() -> None:
    """ACA_WAREHOUSE=spark stages in the DuckDB file (its engine) and publishes to a lake: a local
    directory made absolute, or a URL kept as given; the dbt target is checked."""
    settings = load_settings({"ACA_WAREHOUSE": "spark"})
    assert (settings.warehouse, settings.engine, settings.spark_target) == ("spark", "duckdb", "spark")
    assert Path(settings.lake_dir).is_absolute() and Path(settings.lake_dir).parts[-2:] == ("data", "lake")
    assert settings.spark_dir.is_absolute() and settings.spark_dir.parts[-2:] == ("data", "spark")
    assert (
        load_settings({}).engine == "duckdb"
        and load_settings({"ACA_WAREHOUSE": "postgres"}).engine == "postgres"
    )
    url = load_settings({"ACA_WAREHOUSE": "spark", "ACA_LAKE_DIR": "s3://bucket/aca/lake/"})
    assert url.lake_dir == "s3://bucket/aca/lake"
    assert load_settings({"ACA_LAKE_DIR": "file:///srv/lake"}).lake_dir == "file:///srv/lake"
    assert load_settings({"ACA_LAKE_DIR": "/srv/lake"}).lake_dir == "/srv/lake"
    assert load_settings({"ACA_SPARK_TARGET": "Spark_Thrift"}).spark_target == "spark_thrift"
    with pytest.raises(ConfigurationError, match="ACA_SPARK_TARGET must be one of spark, spark_thrift"):
        load_settings({"ACA_WAREHOUSE": "spark", "ACA_SPARK_TARGET": "databricks"})
    with pytest.raises(ConfigurationError, match="ACA_LAKE_DIR"):
        load_settings({"ACA_LAKE_DIR": "s3://"})

    resource = WarehouseResource.from_settings(url)
    assert (resource.kind, resource.engine, resource.is_lake) == ("spark", "duckdb", True)
    assert (resource.lake_dir, resource.spark_dir) == ("s3://bucket/aca/lake", str(url.spark_dir))
    env = resource.connection_env()
    assert env["ACA_DBT_TARGET"] == "spark" and env["ACA_LAKE_DIR_ABS"] == "s3://bucket/aca/lake"
    assert env["ACA_SPARK_DIR_ABS"] == str(url.spark_dir)
    assert env["ACA_DUCKDB_PATH_ABS"] == str(url.duckdb_path)
    assert resource.identity == f"spark:s3://bucket/aca/lake+duckdb:{url.duckdb_path}"
    assert (
        not WarehouseResource(kind="duckdb").is_lake
        and WarehouseResource(kind="postgres").engine == "postgres"
    )
    with pytest.raises(ConfigurationError, match="unknown warehouse kind"):
        WarehouseResource(kind="oracle").engine  # noqa: B018


@pytest.mark.unit
def test_executor_setting_refuses_several_processes_on_a_duckdb_file() -> None:
    import importlib.util

    from aca_warehouse.definitions import run_executor

    assert load_settings({}).executor == "in_process"
    for warehouse in ("duckdb", "spark"):
        for executor in ("multiprocess", "k8s"):
            with pytest.raises(
                ConfigurationError, match=f"ACA_EXECUTOR={executor} needs ACA_WAREHOUSE=postgres"
            ):
                load_settings({"ACA_WAREHOUSE": warehouse, "ACA_EXECUTOR": executor})
    with pytest.raises(ConfigurationError, match="ACA_EXECUTOR must be one of in_process, multiprocess, k8s"):
        load_settings({"ACA_EXECUTOR": "celery"})
    multiprocess = load_settings({"ACA_WAREHOUSE": "postgres", "ACA_EXECUTOR": "multiprocess"})
    assert multiprocess.executor == "multiprocess"
    assert run_executor(multiprocess).name == "multiprocess"
    assert run_executor(load_settings({"ACA_WAREHOUSE": "spark"})).name == "in_process"
    k8s = {"ACA_WAREHOUSE": "postgres", "ACA_EXECUTOR": "k8s"}
    if importlib.util.find_spec("dagster_k8s") is None:
        with pytest.raises(ConfigurationError, match="dagster-k8s.*uv sync --group k8s"):
            load_settings(k8s)
    else:
        from dagster_k8s import k8s_job_executor

        assert run_executor(load_settings(k8s)) is k8s_job_executor
