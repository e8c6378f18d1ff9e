"""The landing sensor's decisions: new file -> run for its date, identical re-delivery -> nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context

from aca_warehouse.resources import LandingDirResource

pytestmark = pytest.mark.unit


def _write(root: Path, rel: str, text: str, age_seconds: float = 60) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    past = time.time() - age_seconds
    os.utime(path, (past, past))
    return path


def _evaluate(defs, landing: Path, cursor: str | None):
    sensor = defs.resolve_sensor_def("landing_files_sensor")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(
            instance=instance,
            cursor=cursor,
            definitions=defs,
            resources={**defs.resources, "landing": LandingDirResource(landing_dir=str(landing))},
        )
        return sensor(context)


def test_new_file_requests_one_run_for_its_date_and_identical_redelivery_none(tmp_path: Path) -> None:
    from aca_warehouse.definitions import defs

    header = "claim_id,line_number\n"
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,1\n")
    _write(tmp_path, "claims_system/premiums/premiums_2025-11-03.csv", "payment_id\nP1\n")
    _write(tmp_path, "claims_system/claims/claims_2025-11-04.csv.part", header)  # partial upload
    _write(tmp_path, "claims_system/claims/claims_2025-11-05.csv", header, age_seconds=0)  # still growing

    result = _evaluate(defs, tmp_path, None)
    assert [r.partition_key for r in result.run_requests] == ["2025-11-03"]
    request = result.run_requests[0]
    selected = {k.to_user_string() for k in request.asset_selection}
    assert {"landing/claims", "landing/premiums"} <= selected
    assert "landing/members" not in selected

    # The same bytes written again (new mtime) request nothing; the cursor stays bounded JSON.
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,1\n", age_seconds=30)
    again = _evaluate(defs, tmp_path, result.cursor)
    assert not again.run_requests

    # A corrected file requests a new run for the same date, with a different run key.
    _write(tmp_path, "claims_system/claims/claims_2025-11-03.csv", header + "C1,2\n", age_seconds=20)
    corrected = _evaluate(defs, tmp_path, again.cursor)
    assert [r.partition_key for r in corrected.run_requests] == ["2025-11-03"]
    assert corrected.run_requests[0].run_key != request.run_key
    assert {k.to_user_string() for k in corrected.run_requests[0].asset_selection} >= {"landing/claims"}
