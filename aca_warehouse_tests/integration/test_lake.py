"""Lake mode (ACA_WAREHOUSE=spark) on real DuckDB files and a real local lake: the staged tables published as
Parquet (per load date for the feeds, whole for the others), what dbt gets to register them in Spark, and
the tables Spark built read back as views. No Spark here: what Spark writes is imitated with DuckDB's
Parquet; that Spark reads the lake's files is covered by the dbt tests on Spark."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, materialize

from aca_warehouse.assets.dbt import build_args
from aca_warehouse.assets.quality import build_quality_asset, ensure_copied_results_table
from aca_warehouse.assets.staging import build_staging_assets
from aca_warehouse.lake import (
    LAKE_VIEW_COMMENT,
    LakeError,
    lake_tables,
    lake_vars,
    publish_partitions,
    publish_whole,
    refresh_lake_views,
    spark_type,
    sync_lake,
    sync_partitions,
)
from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource
from aca_warehouse.scratch import LAKE_SCRATCH_PREFIX
from aca_warehouse.staging import LOADED, LandingDirResource, load_feed_window
from aca_warehouse_tests.conftest import TEST_MEMBER_KEY_SECRET
from aca_warehouse_tests.pipeline import partitions_for_tests

pytestmark = pytest.mark.duckdb

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
CLAIMS_HEADER = (
    (HANDMADE / "claims_system/claims/claims_2025-03-03.csv").read_text(encoding="utf-8-sig").splitlines()[0]
)
DAYS = [date(2025, 3, 3), date(2025, 3, 4), date(2025, 3, 5)]
WINDOW = (DAYS[0], DAYS[-1] + timedelta(days=1))


def write_claims(landing: Path, load_date: date, clean: int, defective: int = 0) -> None:
    """A claims file of `clean` consistent PAID lines and `defective` lines quarantined (a paid amount
    that is not a number)."""
    lines = [CLAIMS_HEADER]
    for i in range(clean + defective):
        paid = "60.00" if i < clean else "sixty"
        lines.append(
            f"CLM{load_date:%m%d}{i:04d},1,1,PROFESSIONAL,PAID,M{i:05d},PRD-10001,1234567893,,"
            f"{load_date - timedelta(days=3)},{load_date - timedelta(days=2)},{load_date - timedelta(days=1)},"
            f"{load_date},11,99213,,Z00.00,1,100.00,80.00,{paid},20.00,0.00,0.00,"
        )
    path = landing / "claims_system" / "claims" / f"claims_{load_date.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_claims(conn: WarehouseConnection, landing: Path) -> list[date]:
    report = load_feed_window(conn, "claims", landing, *WINDOW)
    assert not report.errors, report.errors
    return [r.load_date for r in report.with_status(LOADED)]


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    for i, day in enumerate(DAYS):
        write_claims(root, day, clean=3 + i, defective=1)
    return root


@pytest.fixture
def lake_warehouse(tmp_path: Path) -> WarehouseResource:
    return WarehouseResource(
        kind="spark",
        duckdb_path=str(tmp_path / "lake_mode.duckdb"),
        lake_dir=str(tmp_path / "lake"),
        spark_dir=str(tmp_path / "spark"),
        member_key_secret=TEST_MEMBER_KEY_SECRET,
    )


def feed_dir(lake: str, table: str) -> Path:
    return Path(lake) / "staging" / table


def partition_dirs(lake: str, table: str) -> list[str]:
    return sorted(p.name for p in feed_dir(lake, table).iterdir() if p.is_dir())


def quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def rows_differ(conn: WarehouseConnection, table: str, parquet: str, **options: str) -> Counter:
    """The rows of `staging.<table>` and of the Parquet files that are not in both (as multisets)."""
    columns = ", ".join(f'"{c}"' for c in conn.columns("staging", table))
    extra = "".join(f", {k} = {v}" for k, v in options.items())
    staged = Counter(conn.fetchall(f"select {columns} from staging.{table}"))
    published = Counter(conn.fetchall(f"select {columns} from read_parquet({quoted(parquet)}{extra})"))
    return (staged - published) + (published - staged)


def test_the_lake_resource_stages_in_its_duckdb_file(
    lake_warehouse: WarehouseResource, tmp_path: Path
) -> None:
    assert (lake_warehouse.engine, lake_warehouse.is_lake) == ("duckdb", True)
    with lake_warehouse.connect() as conn:
        assert conn.kind == "duckdb" and conn.is_duckdb
    assert Path(lake_warehouse.duckdb_path).exists()
    env = lake_warehouse.connection_env()
    assert env["ACA_DBT_TARGET"] == "spark"
    assert env["ACA_LAKE_DIR_ABS"] == str(tmp_path / "lake")
    assert env["ACA_SPARK_DIR_ABS"] == str(tmp_path / "spark")
    assert env["ACA_DUCKDB_PATH_ABS"] == str(tmp_path / "lake_mode.duckdb")
    assert lake_warehouse.description.startswith(f"spark lake {tmp_path / 'lake'}")
    thrift = WarehouseResource(kind="spark", lake_dir="s3://bucket/lake/", spark_target="spark_thrift")
    assert thrift.connection_env()["ACA_DBT_TARGET"] == "spark_thrift"
    assert thrift.connection_env()["ACA_LAKE_DIR_ABS"] == "s3://bucket/lake"
    assert "ACA_LAKE_DIR_ABS" not in WarehouseResource(kind="duckdb").connection_env()


def test_partitions_are_published_per_load_date_and_read_back_equal(
    lake_warehouse: WarehouseResource, landing: Path
) -> None:
    lake = lake_warehouse.lake_dir
    with lake_warehouse.connect() as conn:
        loaded = load_claims(conn, landing)
        assert loaded == DAYS
        published = publish_partitions(conn, "claims", loaded, lake)
        assert published.written == {DAYS[0]: 3, DAYS[1]: 4, DAYS[2]: 5}
        assert partition_dirs(lake, "claims") == [f"_load_date={d.isoformat()}" for d in DAYS]
        for day in DAYS:
            folder = feed_dir(lake, "claims") / f"_load_date={day.isoformat()}"
            assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]  # no temp file left
            names = [
                r[0]
                for r in conn.fetchall(
                    f"select name from parquet_schema({quoted(folder / 'part-0.parquet')})"
                )
            ]
            assert "_load_date" not in names and "claim_id" in names and "_load_id" in names
            in_file = conn.fetchall(
                f"select distinct claim_id like 'CLM{day:%m%d}%' from read_parquet({quoted(folder / 'part-0.parquet')})"
            )
            assert in_file == [(True,)]  # each partition holds its own load date's rows only
        # The whole table, the load date from the directory names, equals what staging holds.
        assert not rows_differ(
            conn, "claims", str(feed_dir(lake, "claims") / "*" / "*.parquet"), hive_partitioning="true"
        )
        load_date_type = conn.fetchall(
            f"select typeof(_load_date) from read_parquet({quoted(feed_dir(lake, 'claims') / '*' / '*.parquet')}, "
            "hive_partitioning = true) limit 1"
        )
        assert load_date_type == [("DATE",)]


def test_a_redelivery_that_empties_a_load_date_removes_its_directory(
    lake_warehouse: WarehouseResource, landing: Path
) -> None:
    lake = lake_warehouse.lake_dir
    with lake_warehouse.connect() as conn:
        sync_partitions(conn, "claims", lake, load_claims(conn, landing))
        untouched = feed_dir(lake, "claims") / f"_load_date={DAYS[0].isoformat()}" / "part-0.parquet"
        before = untouched.stat().st_mtime_ns
        write_claims(landing, DAYS[1], clean=0, defective=2)  # every row quarantined now
        write_claims(landing, DAYS[2], clean=7)  # corrected: more rows
        loaded = load_claims(conn, landing)
        assert loaded == [DAYS[1], DAYS[2]]  # DAYS[0] unchanged
        assert not conn.fetchall("select 1 from staging.claims where _load_date = %s", [DAYS[1]])
        published = sync_partitions(conn, "claims", lake, loaded)
        assert published.removed == [DAYS[1]] and published.written == {DAYS[2]: 7}
        assert partition_dirs(lake, "claims") == [f"_load_date={DAYS[0]}", f"_load_date={DAYS[2]}"]
        assert untouched.stat().st_mtime_ns == before  # a load date the run did not change is not rewritten
        assert not rows_differ(
            conn, "claims", str(feed_dir(lake, "claims") / "*" / "*.parquet"), hive_partitioning="true"
        )
        # Only hidden leftovers would be tolerated by Spark; there are none.
        assert not [p for p in feed_dir(lake, "claims").rglob(".*")]
        # publish_partitions on its own: a load date without rows and without a directory is left alone.
        assert publish_partitions(conn, "claims", [DAYS[1]], lake).removed == []


def test_sync_publishes_only_what_differs_from_staging(
    lake_warehouse: WarehouseResource, landing: Path
) -> None:
    lake = lake_warehouse.lake_dir
    with lake_warehouse.connect() as conn:
        load_claims(conn, landing)
        first = sync_partitions(conn, "claims", lake)  # nothing named: everything staging has differs
        assert sorted(first.written) == DAYS
        again = sync_partitions(conn, "claims", lake)
        assert (again.written, again.removed) == ({}, [])
        lost = feed_dir(lake, "claims") / f"_load_date={DAYS[2].isoformat()}"
        for path in lost.iterdir():
            path.unlink()
        lost.rmdir()
        stray = feed_dir(lake, "claims") / "_load_date=2025-01-01"  # a load date staging does not have
        stray.mkdir()
        (stray / "part-0.parquet").write_bytes(b"not parquet")
        healed = sync_partitions(conn, "claims", lake)
        assert healed.written == {DAYS[2]: 5} and healed.removed == [date(2025, 1, 1)]
        recorded = json.loads((Path(lake) / "staging" / "_published" / "claims.json").read_text())
        assert sorted(recorded) == [d.isoformat() for d in DAYS]
        # sync_lake: every feed in staging and the whole tables the lake lacks; then nothing to do.
        changed = {p.table for p in sync_lake(conn, lake)}
        assert changed == {"load_audit", "quarantine"}
        assert sync_lake(conn, lake) == []


def test_whole_tables_are_replaced(lake_warehouse: WarehouseResource, landing: Path) -> None:
    lake = lake_warehouse.lake_dir
    with lake_warehouse.connect() as conn:
        assert publish_whole(conn, "load_audit", lake) is None  # not created yet
        load_claims(conn, landing)
        for table in ("load_audit", "quarantine"):
            published = publish_whole(conn, table, lake)
            assert published is not None and published.rows == conn.scalar(
                f"select count(*) from staging.{table}"
            )
            assert sorted(p.name for p in feed_dir(lake, table).iterdir()) == ["part-0.parquet"]
            assert not rows_differ(conn, table, str(feed_dir(lake, table) / "part-0.parquet"))
        assert conn.scalar("select count(*) from staging.quarantine") == 3
        write_claims(landing, DAYS[0], clean=1, defective=4)
        load_claims(conn, landing)
        (feed_dir(lake, "quarantine") / "part-1.parquet").write_bytes(b"stale")  # not the file's, removed
        publish_whole(conn, "quarantine", lake)
        assert sorted(p.name for p in feed_dir(lake, "quarantine").iterdir()) == ["part-0.parquet"]
        assert (
            conn.scalar(
                f"select count(*) from read_parquet({quoted(feed_dir(lake, 'quarantine') / 'part-0.parquet')})"
            )
            == conn.scalar("select count(*) from staging.quarantine")
            == 6
        )
        assert not rows_differ(conn, "quarantine", str(feed_dir(lake, "quarantine") / "part-0.parquet"))


def test_lake_tables_list_the_staging_tables_with_spark_types(
    lake_warehouse: WarehouseResource, landing: Path
) -> None:
    lake = lake_warehouse.lake_dir
    with lake_warehouse.connect() as conn:
        load_claims(conn, landing)
        ensure_copied_results_table(conn)  # empty: listed all the same
        tables = lake_tables(conn, lake)
    by_name = {t["name"]: t for t in tables}
    # The feeds staged so far and the whole tables; not the copy's cursors, not feeds never loaded.
    assert [t["name"] for t in tables] == ["claims", "load_audit", "quarantine", "check_results"]
    claims = by_name["claims"]
    assert claims["location"] == str(Path(lake) / "staging" / "claims")
    assert claims["partition_by"] == "_load_date"
    columns = dict(claims["columns"])
    assert claims["columns"][-1] == ["_load_date", "date"]
    assert claims["columns"][0] == ["claim_id", "string"]
    assert [c[0] for c in claims["columns"][:-1]] == [
        c for c in conn_columns(lake_warehouse, "claims") if c != "_load_date"
    ]
    assert columns["paid_amount"] == "decimal(18,2)"
    assert columns["line_number"] == "int"
    assert columns["service_from_date"] == "date"
    assert columns["_loaded_at"] == "timestamp"
    audit = by_name["load_audit"]
    assert audit["partition_by"] is None
    assert dict(audit["columns"])["file_bytes"] == "bigint"
    assert dict(audit["columns"])["duration_seconds"] == "double"
    results = dict(by_name["check_results"]["columns"])
    assert (results["passed"], results["evaluated_at"], results["metric_value"]) == (
        "boolean",
        "timestamp",
        "double",
    )
    for table in tables:  # Spark takes an empty directory; the macro gives the columns explicitly
        assert Path(table["location"]).is_dir()
        assert all(isinstance(c, list) and len(c) == 2 for c in table["columns"])
    # What dbt is given, as JSON (YAML) in --vars.
    args = build_args(full_refresh=False, lake=tables)
    assert args[:3] == ["build", "--exclude-resource-type", "unit_test"]
    assert args[-2] == "--vars" and json.loads(args[-1]) == {"lake_tables": tables}
    assert lake_vars(tables) == args[-1]
    assert "--vars" not in build_args(full_refresh=True)


def conn_columns(warehouse: WarehouseResource, table: str) -> list[str]:
    with warehouse.connect() as conn:
        return conn.columns("staging", table)


@pytest.mark.parametrize(
    ("duckdb_type", "expected"),
    [
        ("VARCHAR", "string"),
        ("DECIMAL(18,2)", "decimal(18,2)"),
        ("DECIMAL(28, 10)", "decimal(28,10)"),
        ("DATE", "date"),
        ("TIMESTAMP WITH TIME ZONE", "timestamp"),
        ("TIMESTAMP", "timestamp"),
        ("BIGINT", "bigint"),
        ("INTEGER", "int"),
        ("SMALLINT", "smallint"),
        ("BOOLEAN", "boolean"),
        ("DOUBLE", "double"),
        ("JSON", "string"),
    ],
)
def test_spark_types(duckdb_type: str, expected: str) -> None:
    assert spark_type(duckdb_type) == expected


@pytest.mark.parametrize("duckdb_type", ["UUID", "HUGEINT", "TIMESTAMP_NS", "INTEGER[]", "DECIMAL(40,2)"])
def test_a_type_spark_cannot_take_fails_clearly(duckdb_type: str) -> None:
    with pytest.raises(LakeError, match="Spark"):
        spark_type(duckdb_type)


def write_parquet(conn: WarehouseConnection, path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn.execute(f"copy ({select}) to {quoted(path)} (format parquet)")


def view_names(conn: WarehouseConnection) -> set[str]:
    return {
        f"{s}.{n}"
        for s, n in conn.fetchall(
            "select schema_name, view_name from duckdb_views() where comment = %s", [LAKE_VIEW_COMMENT]
        )
    }


def test_refresh_lake_views_reads_what_spark_built(
    tmp_path: Path, make_warehouse: Callable[[str], Any]
) -> None:
    warehouse = make_warehouse("duckdb")
    spark = tmp_path / "spark"
    built = spark / "warehouse"
    with warehouse.connect() as conn:
        # What Spark leaves: part files, _SUCCESS, partition directories, a failed job's _temporary.
        write_parquet(
            conn, built / "marts.db/x/part-00000-a1.snappy.parquet", "select range as id from range(3)"
        )
        write_parquet(
            conn, built / "marts.db/x/part-00001-a1.snappy.parquet", "select range + 3 as id from range(2)"
        )
        (built / "marts.db/x/_SUCCESS").write_text("")
        write_parquet(conn, built / "marts.db/x/_temporary/0/part-00009.parquet", "select 99 as id")
        write_parquet(conn, built / "marts.db/x/.part-00002.parquet", "select 98 as id")
        for month, n in (("2025-01-01", 2), ("2025-02-01", 4)):
            write_parquet(
                conn,
                built / f"core.db/fct_y/service_month={month}/part-00000-b2.c000.snappy.parquet",
                f"select range as line, cast(range * 1.5 as decimal(18,2)) as paid from range({n})",
            )
        (built / "marts.db/empty").mkdir()  # no files: no view
        write_parquet(
            conn, built / "marts.db/x__dbt_tmp/part-0.parquet", "select 1 as id"
        )  # dbt's work table
        write_parquet(conn, built / "marts.db/kept/part-0.parquet", "select 1 as id")
        # dbt's staging models are tables on Spark too; Spark's other schemas are not read.
        write_parquet(conn, built / "staging.db/stg_claims/part-00000.parquet", "select 'C1' as claim_id")
        write_parquet(conn, built / "default.db/other/part-0.parquet", "select 1 as id")
        conn.execute("create table marts.kept as select 'duckdb' as who")  # a table of that name: left alone
        conn.execute("create table marts.other as select 1 as n")  # no Spark directory: left alone

        views = refresh_lake_views(conn, str(spark))
        assert views.created == ["core.fct_y", "marts.x", "staging.stg_claims"]
        assert views.conflicts == ["marts.kept"] and views.dropped == []
        assert view_names(conn) == {"core.fct_y", "marts.x", "staging.stg_claims"}
        assert conn.fetchall("select claim_id from staging.stg_claims") == [("C1",)]
        assert conn.fetchall("select id from marts.x order by id") == [(i,) for i in range(5)]
        assert conn.fetchall(
            "select cast(service_month as varchar), count(*), sum(paid) from core.fct_y group by 1 order by 1"
        ) == [("2025-01-01", 2, pytest.approx(1.5)), ("2025-02-01", 4, pytest.approx(9.0))]
        assert conn.fetchall("select who from marts.kept") == [("duckdb",)]

        # Spark rebuilt x with another schema, dropped fct_y: the view follows, the stale one goes.
        for path in (built / "marts.db/x").glob("part-*"):
            path.unlink()
        write_parquet(conn, built / "marts.db/x/part-00000-c3.snappy.parquet", "select 7 as id, 'new' as tag")
        for path in sorted((built / "core.db/fct_y").rglob("*"), key=lambda p: -len(p.parts)):
            path.unlink() if path.is_file() else path.rmdir()
        (built / "core.db/fct_y").rmdir()
        again = refresh_lake_views(conn, str(spark))
        assert again.created == ["marts.x", "staging.stg_claims"] and again.dropped == ["core.fct_y"]
        assert conn.fetchall("select id, tag from marts.x") == [(7, "new")]
        assert view_names(conn) == {"marts.x", "staging.stg_claims"}
        tables = {
            f"{s}.{n}"
            for s, n in conn.fetchall(
                "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
                "and table_schema in ('core', 'marts')"
            )
        }
        assert tables == {"marts.kept", "marts.other"}

        # No Spark directory at all: every view it made goes, never a table.
        gone = refresh_lake_views(conn, str(tmp_path / "nowhere"))
        assert gone.dropped == ["marts.x", "staging.stg_claims"] and view_names(conn) == set()
        assert conn.scalar("select count(*) from marts.other") == 1


def test_the_assets_publish_to_the_lake(lake_warehouse: WarehouseResource, landing: Path) -> None:
    """The staging asset publishes what its load committed (and the audit and quarantine), the quality
    asset the check results it copied; both name the lake path in their metadata."""
    staging_claims = next(
        a for a in build_staging_assets(partitions_for_tests()) if a.key == AssetKey(["staging", "claims"])
    )
    quality = build_quality_asset([AssetKey(["staging", "claims"])], partitions_for_tests())
    resources = {"warehouse": lake_warehouse, "landing": LandingDirResource(landing_dir=str(landing))}
    result = materialize(
        [staging_claims, quality],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": DAYS[0].isoformat(),
            "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
        },
        raise_on_error=False,
    )
    assert result.success
    lake = lake_warehouse.lake_dir
    assert partition_dirs(lake, "claims") == [f"_load_date={d.isoformat()}" for d in DAYS]
    for table in ("load_audit", "quarantine", "check_results"):
        assert (feed_dir(lake, table) / "part-0.parquet").is_file(), table
    metadata = {
        event.asset_key.to_user_string(): event.materialization.metadata
        for event in result.get_asset_materialization_events()
        if event.partition in (None, DAYS[0].isoformat()) and "lake_path" in event.materialization.metadata
    }
    assert metadata["staging/claims"]["lake_path"].value == str(feed_dir(lake, "claims"))
    assert metadata["quality/data_quality"]["lake_path"].value == str(feed_dir(lake, "check_results"))
    with lake_warehouse.connect() as conn:
        assert not rows_differ(conn, "check_results", str(feed_dir(lake, "check_results") / "part-0.parquet"))
        assert conn.scalar("select count(*) from staging.check_results") > 0
        assert not rows_differ(
            conn, "claims", str(feed_dir(lake, "claims") / "*" / "*.parquet"), hive_partitioning="true"
        )
    # Re-running the same window loads nothing new and rewrites no partition.
    stamps = {p: p.stat().st_mtime_ns for p in feed_dir(lake, "claims").rglob("part-0.parquet")}
    assert materialize(
        [staging_claims],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": DAYS[0].isoformat(),
            "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
        },
    ).success
    assert stamps == {p: p.stat().st_mtime_ns for p in feed_dir(lake, "claims").rglob("part-0.parquet")}
    assert os.listdir(feed_dir(lake, "claims"))  # still there


def test_a_lake_behind_a_url_is_written_through_fsspec(
    lake_warehouse: WarehouseResource, landing: Path, tmp_path: Path
) -> None:
    """The object-store path (files written locally, then one PUT each), on fsspec's in-memory filesystem."""
    import fsspec

    lake = f"memory://aca-test-{uuid.uuid4().hex[:8]}/lake"
    fs = fsspec.filesystem("memory")
    root = lake.split("://", 1)[1]
    with lake_warehouse.connect() as conn:
        loaded = load_claims(conn, landing)
        assert sorted(sync_partitions(conn, "claims", lake, loaded).written) == DAYS
        publish_whole(conn, "load_audit", lake)
        assert lake_tables(conn, lake)[0]["location"] == f"{lake}/staging/claims"
        names = sorted(p.rsplit("/", 1)[-1] for p in fs.find(f"{root}/staging/claims"))
        assert names == ["part-0.parquet"] * 3
        assert fs.exists(f"{root}/staging/_published/claims.json")
        fs.get(f"{root}/staging/claims", str(tmp_path / "copy" / "claims"), recursive=True)
        assert not rows_differ(
            conn, "claims", str(tmp_path / "copy" / "claims" / "*" / "*.parquet"), hive_partitioning="true"
        )
        write_claims(landing, DAYS[1], clean=0, defective=1)
        assert sync_partitions(conn, "claims", lake, load_claims(conn, landing)).removed == [DAYS[1]]
        assert not fs.exists(f"{root}/staging/claims/_load_date={DAYS[1].isoformat()}")
        assert fs.exists(f"{root}/staging/load_audit/part-0.parquet")
    fs.rm(root.split("/")[0], recursive=True)
    leftovers = [p for p in Path(tempfile.gettempdir()).glob(f"{LAKE_SCRATCH_PREFIX}{os.getpid()}-*")]
    assert leftovers == []  # the local copies on their way are removed
