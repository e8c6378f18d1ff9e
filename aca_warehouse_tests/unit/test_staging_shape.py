"""The staging assets' shape and checks, PHI masking of raw values, and how landing files are grouped into
load batches (no warehouse, no run)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, BackfillPolicy

from aca_warehouse.checks.staging import CHECK_NAMES, PHI_MASK, masked_raw_values, phi_names
from aca_warehouse.contract.dictionary import load_dictionary
from aca_warehouse.landing import LandingFile
from aca_warehouse.staging.batch import BatchFile, plan_batches
from aca_warehouse.staging.reader import RawLayout
from aca_warehouse.staging.results import FileLoadResult
from aca_warehouse_tests.pipeline import partitions_for_tests, staging_assets

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "landing_handmade"
DICTIONARY = load_dictionary()


def test_one_staging_asset_per_feed_with_the_agreed_shape() -> None:
    dictionary = load_dictionary()
    assert [a.key for a in staging_assets()] == [AssetKey(["staging", f]) for f in dictionary.feeds]
    for asset_def in staging_assets():
        feed = asset_def.key.path[1]
        assert asset_def.group_names_by_key[asset_def.key] == "staging"
        assert asset_def.partitions_def == partitions_for_tests()
        assert asset_def.backfill_policy is not None
        assert asset_def.backfill_policy == BackfillPolicy.single_run()
        assert set(asset_def.asset_deps[asset_def.key]) == {AssetKey(["landing", feed])}
        assert asset_def.required_resource_keys >= {"warehouse", "landing"}
        specs = {spec.name: spec for spec in asset_def.check_specs}
        assert list(specs) == list(CHECK_NAMES)
        assert {name for name, spec in specs.items() if spec.blocking} == {
            "reconciliation",
            "key_unique_within_load",
            "required_not_null",
            "accepted_values",
        }
        assert [specs[name].description for name in CHECK_NAMES] and all(
            spec.description for spec in specs.values()
        )
        assert "warn" in specs["defect_rate"].description.lower()
        assert asset_def.metadata_by_key[asset_def.key]["dagster/table_name"] == f"staging.{feed}"
        description = asset_def.descriptions_by_key[asset_def.key]
        assert dictionary.feeds[feed].description in description and "staging.quarantine" in description


def test_phi_is_masked_in_raw_values_by_column_or_whole() -> None:
    phi = phi_names(load_dictionary())
    assert {"ssn", "member_no", "first_name", "date_of_birth"} <= phi
    masked = json.loads(
        masked_raw_values(json.dumps({" ssn ": "123-45-6789", "gender": "F", "email": None}), phi)
    )
    assert masked == {" ssn ": PHI_MASK, "gender": "F", "email": None}
    assert masked_raw_values(json.dumps(["a", "123-45-6789"]), phi) == PHI_MASK
    assert masked_raw_values(json.dumps("a whole line 123-45-6789"), phi) == PHI_MASK
    assert masked_raw_values("not json", phi) == PHI_MASK


def test_batches_group_by_header_layout_and_stay_under_the_byte_bound() -> None:
    feed = DICTIONARY.feeds["providers"]
    start = date(2025, 1, 1)

    def item(day: int, size: int, header: tuple[str, ...]) -> tuple[BatchFile, RawLayout]:
        load_date = start + timedelta(days=day)
        landing_file = LandingFile("providers", Path(f"p_{load_date}.csv"), f"p_{load_date}.csv", load_date)
        result = FileLoadResult(
            "providers", landing_file.relative_path, load_date, f"id{day}", "", file_bytes=size
        )
        layout = RawLayout(feed=feed, header=header, data_columns=(), contract_source={})
        return BatchFile(landing_file, result), layout

    usual, other = ("a", "b"), ("b", "a")
    files = [item(d, 40, usual) for d in (3, 0, 1, 2, 5, 6)] + [item(4, 10, other), item(7, 500, usual)]
    batches = plan_batches(files, max_bytes=100)
    days = [[(f.result.load_date - start).days for f in b.files] for b in batches]
    assert days == [[0, 1], [2, 3], [4], [5, 6], [7]]
    assert [b.layout.header for b in batches] == [usual, usual, other, usual, usual]
    assert [[f.index for f in b.files] for b in batches] == [[0, 1], [0, 1], [0], [0, 1], [0]]
    assert [len(b.files) for b in plan_batches(files, max_bytes=10**9, max_files=3)] == [3, 3, 1, 1]


def test_the_batch_bound_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from aca_warehouse.errors import ConfigurationError
    from aca_warehouse.settings import load_settings

    monkeypatch.delenv("ACA_STAGING_BATCH_MB", raising=False)
    assert load_settings().staging_batch_bytes == 64 << 20
    monkeypatch.setenv("ACA_STAGING_BATCH_MB", "8")
    assert load_settings().staging_batch_bytes == 8 << 20
    monkeypatch.setenv("ACA_STAGING_BATCH_MB", "0")
    with pytest.raises(ConfigurationError, match="ACA_STAGING_BATCH_MB"):
        load_settings()


@pytest.mark.unit
def test_the_definitions_hold_each_staging_check_once_through_its_asset() -> None:
    """The staging checks are the staging assets' own specs (no separate @asset_check list): the
    code location has every one of them, each once, and they are evaluated by the assets."""
    from aca_warehouse.definitions import defs

    expected = {
        AssetCheckKey(AssetKey(["staging", f]), name) for f in load_dictionary().feeds for name in CHECK_NAMES
    }
    assert expected <= set(defs.resolve_asset_graph().asset_check_keys)
    standalone = {key for checks_def in defs.asset_checks or [] for key in checks_def.check_keys}
    assert standalone and not standalone & expected  # the freshness checks only
    for asset_def in staging_assets():
        assert {k.name for k in asset_def.check_keys} == set(CHECK_NAMES)
