"""Landing discovery under abuse: links out of the landing directory, non-files, misnamed and future files,
and files whose content must never be quoted back (issue: security and robustness, items 1 and 5)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize
from dagster._serdes import serialize_value

from aca_warehouse.contract import load_dictionary
from aca_warehouse.resources import LandingDirResource, WarehouseResource
from aca_warehouse.staging import load_feed_window
from aca_warehouse_tests.conftest import WAREHOUSE_KINDS

# The landing set, the planted text and the helpers the unit tests of landing discovery use too.
from ..unit.test_landing_security import CANARY, FEED_DIR, PROVIDERS, WINDOW, _landing, _outside_csv


@pytest.mark.parametrize("kind", WAREHOUSE_KINDS)
def test_linked_misnamed_and_future_files_are_reported_and_the_rest_loads(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    root = _landing(tmp_path)
    folder = root / FEED_DIR
    (folder / "providers_2025-03-02.csv").symlink_to(_outside_csv(tmp_path))
    shutil.copy(PROVIDERS, folder / "providers_2025-13-01.csv")  # no 13th month
    shutil.copy(PROVIDERS, folder / "providers_２０２５-03-05.csv")  # full-width digits
    future = datetime.now(UTC).date() + timedelta(days=30)
    shutil.copy(PROVIDERS, folder / f"providers_{future}.csv")

    with make_warehouse(kind).connect() as conn:
        report = load_feed_window(conn, "providers", root, *WINDOW)
        loaded = conn.fetchall("select distinct _source_file from staging.providers")
        audited = conn.fetchall("select source_file, status from staging.load_audit")

    assert report.errors == []
    assert loaded == [(f"{FEED_DIR}/providers_2025-03-01.csv",)]
    assert audited == [(f"{FEED_DIR}/providers_2025-03-01.csv", "loaded")]
    reasons = {i.path.relative_to(root).as_posix(): i.reason for i in report.ignored}
    assert "outside the landing directory" in reasons[f"{FEED_DIR}/providers_2025-03-02.csv"]
    assert "2025-13-01 is not a real calendar date" in reasons[f"{FEED_DIR}/providers_2025-13-01.csv"]
    assert "YYYY-MM-DD" in reasons[f"{FEED_DIR}/providers_２０２５-03-05.csv"]
    assert f"load date {future} is in the future" in reasons[f"{FEED_DIR}/providers_{future}.csv"]


@pytest.mark.parametrize("kind", WAREHOUSE_KINDS)
def test_a_rejected_file_is_never_quoted_in_errors_audit_or_run_storage(
    kind: str, make_warehouse: Callable[[str], WarehouseResource], tmp_path: Path
) -> None:
    """A system file dropped (copied) into a feed folder is rejected; nothing of its content beyond the
    contract's column names reaches the error, `staging.load_audit.message` or Dagster's run storage."""
    from aca_warehouse.assets.staging import build_staging_asset

    root = tmp_path / "landing"
    (root / FEED_DIR).mkdir(parents=True)
    (root / FEED_DIR / "providers_2025-03-01.csv").write_text(f"{CANARY}\ndaemon:x:1:1:{CANARY}\n")
    warehouse = make_warehouse(kind)
    dictionary = load_dictionary()
    from aca_warehouse_tests.pipeline import partitions_for_tests

    asset = build_staging_asset(dictionary.feeds["providers"], dictionary, partitions_for_tests())

    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [asset],
            instance=instance,
            partition_key="2025-03-01",
            resources={"warehouse": warehouse, "landing": LandingDirResource(landing_dir=str(root))},
            raise_on_error=False,
        )
        events = [serialize_value(entry) for entry in instance.all_logs(result.run_id)]
    with warehouse.connect() as conn:
        audit = conn.fetchall("select status, message from staging.load_audit")

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert "providers_2025-03-01.csv" in failure.to_string()
    assert "header lacks column(s) of the providers contract: npi" in failure.to_string()
    assert audit and audit[0][0] == "failed" and "the header has 1 column(s)" in audit[0][1]
    for text in [failure.to_string(), *[message for _, message in audit], *events]:
        assert "CANARY" not in text and "root:x" not in text
