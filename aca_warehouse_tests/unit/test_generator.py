"""Tests of the seed-data generator against the landing contract, its manifest, determinism and realism."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import signal
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from aca_warehouse.errors import GeneratorError
from aca_warehouse.generator import generate, simulate_day
from aca_warehouse_tests.contract_validator import FEEDS, csv_records, npi_ok, validate_landing

pytestmark = pytest.mark.unit

START = date(2025, 12, 1)  # the window crosses into plan year 2026
DAYS = 45
MEMBERS = 300
DEFECT_RATE = 0.08

# reason codes of the dictionary (docs/DATA_DICTIONARY.md) that apply to each feed
EXPECTED_CLASSES = {
    "claims": {
        "wrong_field_count",
        "missing_required",
        "bad_int",
        "bad_decimal",
        "bad_date",
        "bad_enum",
        "bad_format",
        "out_of_range",
        "duplicate_row",
        "duplicate_key",
        "bad_npi",
        "negative_amount",
        "amount_order",
        "amount_identity",
        "denied_with_payment",
        "missing_denial_reason",
        "unexpected_denial_reason",
        "reversed_nonzero",
        "date_order",
        "wrong_load_date",
        "missing_procedure",
        "missing_ndc",
        "missing_diagnosis",
    },
    "premiums": {
        "wrong_field_count",
        "missing_required",
        "bad_decimal",
        "bad_date",
        "bad_format",
        "wrong_load_date",
        "premium_identity",
        "negative_amount",
        "duplicate_row",
        "duplicate_key",
    },
    "plans": {
        "wrong_field_count",
        "missing_required",
        "bad_int",
        "bad_decimal",
        "bad_date",
        "bad_enum",
        "bad_format",
        "out_of_range",
        "negative_amount",
        "issuer_id_mismatch",
        "moop_below_deductible",
        "duplicate_row",
        "duplicate_key",
    },
    "members": {
        "wrong_field_count",
        "missing_required",
        "bad_date",
        "bad_enum",
        "bad_format",
        "bad_int",
        "out_of_range",
        "duplicate_row",
        "duplicate_key",
    },
    "providers": {
        "wrong_field_count",
        "missing_required",
        "bad_int",
        "bad_enum",
        "bad_npi",
        "duplicate_row",
        "duplicate_key",
    },
    "products": {
        "wrong_field_count",
        "missing_required",
        "bad_date",
        "bad_format",
        "crosswalk_overlap",
        "duplicate_row",
        "duplicate_key",
    },
    "enrollment_events": {
        "not_json_object",
        "missing_required",
        "bad_timestamp",
        "bad_date",
        "bad_decimal",
        "bad_enum",
        "bad_format",
        "bad_coverage_date",
        "unexpected_value",
        "negative_amount",
        "duplicate_row",
        "duplicate_key",
    },
}

# federal default age curve, for the premium check
AGE_CURVE = {
    **{a: 0.765 for a in range(15)},
    15: 0.833,
    16: 0.859,
    17: 0.885,
    18: 0.913,
    19: 0.941,
    20: 0.970,
    **{a: 1.0 for a in range(21, 25)},
    25: 1.004,
    26: 1.024,
    27: 1.048,
    28: 1.087,
    29: 1.119,
    30: 1.135,
    31: 1.159,
    32: 1.183,
    33: 1.198,
    34: 1.214,
    35: 1.222,
    36: 1.230,
    37: 1.238,
    38: 1.246,
    39: 1.262,
    40: 1.278,
    41: 1.302,
    42: 1.325,
    43: 1.357,
    44: 1.397,
    45: 1.444,
    46: 1.500,
    47: 1.563,
    48: 1.635,
    49: 1.706,
    50: 1.786,
    51: 1.865,
    52: 1.952,
    53: 2.040,
    54: 2.135,
    55: 2.230,
    56: 2.333,
    57: 2.437,
    58: 2.548,
    59: 2.603,
    60: 2.714,
    61: 2.810,
    62: 2.873,
    63: 2.952,
}


def _factor(age: int) -> float:
    return AGE_CURVE.get(age, 3.0)


@pytest.fixture(scope="session")
def clean_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen_clean") / "landing"
    generate(root, members=MEMBERS, start=START, days=DAYS, seed=42, progress=False)
    return root


@pytest.fixture(scope="session")
def defect_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gen_defects") / "landing"
    generate(
        root,
        members=MEMBERS,
        start=START,
        days=DAYS,
        seed=42,
        defect_rate=DEFECT_RATE,
        malformed_file=True,
        progress=False,
    )
    return root


@pytest.fixture(scope="session")
def clean_report(clean_set: Path):
    return validate_landing(clean_set)


@pytest.fixture(scope="session")
def defect_report(defect_set: Path):
    return validate_landing(defect_set)


def _manifest(root: Path) -> dict:
    return json.loads(root.with_name(root.name + ".manifest.json").read_text())


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def _csv_rows(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _files(root: Path, feed: str) -> list[Path]:
    folder, prefix, ext = FEEDS[feed]
    return sorted((root / folder).glob(f"{prefix}_*.{ext}"))


# ------------------------------------------------------------------------------ the contract


def test_layout_and_file_names(clean_set: Path, clean_report) -> None:
    assert clean_report.ignored == [".generator.json"]  # the state file is the only non-landing file
    days = [START + timedelta(days=i) for i in range(DAYS)]
    snapshot_days = [START, date(2026, 1, 1)]
    for feed in ("plans", "members", "products", "providers"):
        assert [p.name for p in _files(clean_set, feed)] == [
            f"{FEEDS[feed][1]}_{d}.csv" for d in snapshot_days
        ]
    assert [p.name for p in _files(clean_set, "claims")] == [f"claims_{d}.csv" for d in days]
    assert [p.name for p in _files(clean_set, "enrollment_events")] == [f"events_{d}.jsonl" for d in days]
    assert [p.name for p in _files(clean_set, "premiums")] == [
        f"premiums_{d}.csv" for d in days if d.weekday() < 5
    ]
    manifest_path = clean_set.with_name("landing.manifest.json")
    assert manifest_path.exists()  # next to the landing directory, never inside it


def test_clean_set_is_fully_valid(clean_set: Path, clean_report) -> None:
    manifest = _manifest(clean_set)
    assert not any(fr.rejected for fr in clean_report.files.values())
    bad = {path: fr.bad for path, fr in clean_report.files.items() if fr.bad}
    assert bad == {}
    assert manifest["totals"]["defective_rows"] == 0
    for path, entry in manifest["files"].items():
        assert clean_report.files[path].rows == entry["rows"], path
    assert manifest["malformed_files"] == []


def test_money_dates_and_text_formats(clean_set: Path) -> None:
    money = {
        "premium_age21",
        "deductible_individual",
        "moop_individual",
        "billed_amount",
        "allowed_amount",
        "paid_amount",
        "copay_amount",
        "coinsurance_amount",
        "deductible_amount",
        "premium_billed",
        "aptc_amount",
        "member_paid_amount",
    }
    for feed in ("plans", "claims", "premiums"):
        for path in _files(clean_set, feed)[:6]:
            assert b"\r" not in path.read_bytes()
            for row in _csv_rows(path):
                for col in money & set(row):
                    whole, _, cents = row[col].partition(".")
                    assert whole.isdigit() and len(cents) == 2, (path.name, col, row[col])
    for path in _files(clean_set, "enrollment_events")[:5]:
        for raw in path.read_text().splitlines():
            ev = json.loads(raw)
            ts = ev["occurred_at"]
            assert ts.endswith("Z") or ts[-6] in "+-", ts
            for key in ("monthly_premium", "aptc_amount"):
                if key in ev:
                    assert (
                        f'"{key}": ' in raw
                        and raw.split(f'"{key}": ')[1].split(",")[0].rstrip("}").count(".") == 1
                    )
    assert (clean_set / "claims_system/providers").glob("*.csv")
    first_provider_file = _files(clean_set, "providers")[0]
    assert first_provider_file.read_bytes().startswith(b"\xef\xbb\xbf")  # this export carries a BOM


def test_npis_hios_and_coverage_dates(clean_set: Path) -> None:
    for row in _csv_rows(_files(clean_set, "providers")[0]):
        assert npi_ok(row["npi"]) and row["npi"][0] in "12"
        assert row["entity_type"] == ("1" if row["npi"][0] == "1" else "2")
    for path in _files(clean_set, "enrollment_events"):
        for ev in _events(path):
            if "coverage_start" in ev:
                assert ev["coverage_start"].endswith("-01")
            if "coverage_end" in ev:
                end = date.fromisoformat(ev["coverage_end"])
                assert (end + timedelta(days=1)).day == 1


# ------------------------------------------------------------------------------ defects and manifest


def test_manifest_defects_match_validator_line_by_line(defect_set: Path, defect_report) -> None:
    manifest = _manifest(defect_set)
    assert manifest["totals"]["defective_rows"] > 0
    for path, entry in manifest["files"].items():
        fr = defect_report.files[path]
        assert fr.rejected is None, path
        expected = {d["line"]: set(d["reason_codes"]) for d in entry["defects"]}
        assert fr.bad == expected, path
        assert fr.rows == entry["rows"], path
        assert entry["defective_rows"] == len(entry["defects"])
        assert all(len(d["reason_codes"]) == 1 for d in entry["defects"])  # one broken rule per defective row


def test_manifest_warnings_match_validator(defect_set: Path, defect_report) -> None:
    manifest = _manifest(defect_set)
    for path, entry in manifest["files"].items():
        expected = {w["line"]: set(w["codes"]) for w in entry["warnings"]}
        assert defect_report.warnings.get(path, {}) == expected, path
    totals = manifest["totals"]["warnings_by_code"]
    for code in ("unknown_member", "unmapped_product", "outside_coverage", "redelivered_event"):
        assert totals.get(code, 0) > 0, code


def test_every_rule_class_is_injected_per_feed(defect_set: Path) -> None:
    manifest = _manifest(defect_set)
    seen: dict[str, set[str]] = defaultdict(set)
    for entry in manifest["files"].values():
        seen[entry["feed"]] |= set(entry["defects_by_reason"])
    for feed, classes in EXPECTED_CLASSES.items():
        assert seen[feed] == classes, feed


def test_defect_rate_is_respected(defect_set: Path) -> None:
    totals = _manifest(defect_set)["totals"]
    rate = totals["defective_rows"] / totals["rows"]
    assert 0.6 * DEFECT_RATE < rate < 2.0 * DEFECT_RATE


def test_defects_are_extra_rows_only(clean_set: Path, defect_set: Path) -> None:
    """Removing the manifest's defective lines gives back the clean file byte for byte."""
    manifest = _manifest(defect_set)
    for path, entry in manifest["files"].items():
        defect_lines = {d["line"] for d in entry["defects"]}
        data = (defect_set / path).read_bytes()
        if path.endswith(".jsonl"):
            kept = [ln for i, ln in enumerate(data.split(b"\n")[:-1], start=1) if i not in defect_lines]
            rebuilt = b"".join(ln + b"\n" for ln in kept)
        else:
            text = data.decode("utf-8")
            bom = "\ufeff" if text.startswith("\ufeff") else ""
            records = list(csv_records(text[len(bom) :]))
            rebuilt = (
                bom + "".join(raw + "\n" for line, raw, _ in records if line not in defect_lines)
            ).encode()
            assert {line for line, _, _ in records} >= defect_lines, path
        assert rebuilt == (clean_set / path).read_bytes(), path


def test_malformed_file_is_rejected_as_a_whole(defect_set: Path, defect_report) -> None:
    manifest = _manifest(defect_set)
    assert len(manifest["malformed_files"]) == 1
    info = manifest["malformed_files"][0]
    fr = defect_report.files[info["path"]]
    assert fr.rejected and info["missing_columns"][0] in fr.rejected
    assert date.fromisoformat(info["load_date"]).weekday() >= 5  # a day with no regular premiums file


# ------------------------------------------------------------------------------ determinism


def test_same_arguments_give_identical_bytes(clean_set: Path, tmp_path: Path) -> None:
    again = tmp_path / "landing"
    generate(again, members=MEMBERS, start=START, days=DAYS, seed=42, progress=False)
    assert _hashes(again) == _hashes(clean_set)
    assert _manifest(again)["files"] == _manifest(clean_set)["files"]


def test_parallel_rendering_gives_identical_bytes(
    defect_set: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACA_GENERATOR_WORKERS", "2")  # claims months and files in two worker processes
    again = tmp_path / "landing"
    generate(
        again,
        members=MEMBERS,
        start=START,
        days=DAYS,
        seed=42,
        defect_rate=DEFECT_RATE,
        malformed_file=True,
        progress=False,
    )
    assert _hashes(again) == _hashes(defect_set)


def test_another_seed_gives_other_data(clean_set: Path, tmp_path: Path) -> None:
    other = tmp_path / "landing"
    generate(other, members=MEMBERS, start=START, days=3, seed=7, progress=False)
    assert (
        _hashes(other)["claims_system/claims/claims_2025-12-01.csv"]
        != _hashes(clean_set)["claims_system/claims/claims_2025-12-01.csv"]
    )


def test_prefix_stability_and_simulate_day(tmp_path: Path) -> None:
    """N days then N+1 days give the same first N days; simulate_day adds exactly the next day."""
    kwargs = dict(members=120, start=START, seed=3, defect_rate=0.05, malformed_file=True, progress=False)
    short, longer = tmp_path / "a" / "landing", tmp_path / "b" / "landing"
    generate(short, days=31, **kwargs)
    generate(longer, days=32, **kwargs)
    h_short, h_long = _hashes(short), _hashes(longer)
    assert {k: v for k, v in h_long.items() if k in h_short} == h_short
    new = set(h_long) - set(h_short)
    assert new and all("2026-01-01" in k for k in new)  # the new day, a month start: snapshots too
    before = {p: (short / p).stat().st_mtime_ns for p in h_short}
    summary = simulate_day(short, progress=False)
    assert summary.files_written == len(new)
    assert _hashes(short) == h_long
    assert {p: (short / p).stat().st_mtime_ns for p in h_short} == before  # nothing rewritten
    assert json.loads((short / ".generator.json").read_text())["params"]["days"] == 32
    assert _manifest(short)["files"] == _manifest(longer)["files"]


# ------------------------------------------------------------------------------ realism


def test_plan_catalog(clean_set: Path) -> None:
    plans = _csv_rows(_files(clean_set, "plans")[0])
    years = {r["plan_year"] for r in plans}
    assert years == {"2025", "2026"}
    assert {r["metal_tier"] for r in plans} == {
        "Catastrophic",
        "Bronze",
        "Expanded Bronze",
        "Silver",
        "Gold",
        "Platinum",
    }
    assert {r["csr_variant"] for r in plans} == {"01", "02", "03", "04", "05", "06"}
    assert all(r["metal_tier"] == "Silver" for r in plans if r["csr_variant"] in ("04", "05", "06"))
    assert {r["plan_type"] for r in plans} == {"HMO", "PPO", "EPO", "POS"}
    assert len({r["state"] for r in plans}) >= 2 and len({r["issuer_id"] for r in plans}) >= 3
    by_key = {(r["hios_plan_id"], r["plan_year"]): r for r in plans}
    changed = [
        k
        for (k, y) in by_key
        if y == "2025"
        and (k, "2026") in by_key
        and by_key[(k, "2026")]["premium_age21"] != by_key[(k, "2025")]["premium_age21"]
    ]
    assert len(changed) > 100  # new plan year, new rates
    discontinued = {k for (k, y) in by_key if y == "2025"} - {k for (k, y) in by_key if y == "2026"}
    assert discontinued


def test_products_remapped_and_unmapped(clean_set: Path) -> None:
    products = _csv_rows(_files(clean_set, "products")[-1])
    by_product = defaultdict(list)
    for r in products:
        by_product[r["product_id"]].append(r)
    assert any(len({r["hios_plan_id"] for r in rows}) > 1 for rows in by_product.values())  # remapped
    manifest = _manifest(clean_set)
    unmapped_claims = sum(
        e["warnings_by_code"].get("unmapped_product", 0)
        for e in manifest["files"].values()
        if e["feed"] == "claims"
    )
    assert unmapped_claims > 0


def test_claims_versions_and_statuses(clean_set: Path) -> None:
    rows = [r for p in _files(clean_set, "claims") for r in _csv_rows(p)]
    assert {r["claim_type"] for r in rows} == {"PROFESSIONAL", "INSTITUTIONAL", "PHARMACY"}
    assert {r["claim_status"] for r in rows} == {"PAID", "DENIED", "REVERSED"}
    versions = defaultdict(list)
    for r in rows:
        versions[(r["claim_id"], r["line_number"])].append(
            (r["claim_version"], r["claim_status"], r["adjudicated_date"])
        )
    adjusted = [v for v in versions.values() if len(v) > 1]
    assert adjusted, "no adjustments"
    for v in adjusted:
        v.sort()
        assert [d for _, _, d in v] == sorted(d for _, _, d in v)  # a later version comes in a later file
    assert any(s == "REVERSED" for v in adjusted for _, s, _ in v)
    assert all(r["ndc"] and not r["procedure_code"] for r in rows if r["claim_type"] == "PHARMACY")
    assert all(len(r["place_of_service"]) == 2 for r in rows)
    richer = defaultdict(list)  # cost sharing by metal tier: a bronze member pays more of the allowed amount
    plans = {r["hios_plan_id"]: r["metal_tier"] for r in _csv_rows(_files(clean_set, "plans")[0])}
    crosswalk = {r["product_id"]: r["hios_plan_id"] for r in _csv_rows(_files(clean_set, "products")[0])}
    for r in rows:
        if r["claim_status"] == "PAID" and r["product_id"] in crosswalk:
            tier = plans.get(crosswalk[r["product_id"]])
            richer[tier].append((float(r["allowed_amount"]), float(r["paid_amount"])))
    share = {t: sum(p for _, p in v) / sum(a for a, _ in v) for t, v in richer.items() if v}
    assert share["Gold"] > share["Bronze"]


def test_members_move_change_and_leave(clean_set: Path) -> None:
    first, second = (_csv_rows(p) for p in _files(clean_set, "members"))
    a = {r["member_id"]: r for r in first}
    b = {r["member_id"]: r for r in second}
    assert set(a) - set(b), "nobody left"
    assert set(b) - set(a), "nobody joined"
    both = set(a) & set(b)
    assert any(a[m]["address_line1"] != b[m]["address_line1"] for m in both), "nobody moved"
    assert any(a[m]["household_income_fpl_pct"] != b[m]["household_income_fpl_pct"] for m in both)
    subscribers = {r["member_id"] for r in first if r["relationship"] == "self"}
    assert all(r["subscriber_id"] in subscribers for r in first)
    assert any(r["relationship"] == "child" for r in first) and any(
        r["relationship"] == "spouse" for r in first
    )
    assert any("\n" in r["address_line1"] or "," in r["address_line1"] for r in first)  # quoted fields


def test_events_late_redelivered_and_varied(clean_set: Path) -> None:
    seen: dict[str, str] = {}
    redelivered = late = 0
    types, reasons, periods = set(), set(), set()
    for path in _files(clean_set, "enrollment_events"):
        file_day = path.stem.split("_")[1]
        for ev in _events(path):
            types.add(ev["event_type"])
            reasons.add(ev.get("termination_reason"))
            periods.add((ev.get("enrollment_period"), ev.get("sep_reason") is None))
            if ev["event_id"] in seen:
                redelivered += 1
                assert seen[ev["event_id"]] < file_day
            seen.setdefault(ev["event_id"], file_day)
            if ev["occurred_at"][:10] < file_day:
                late += 1
    assert types == {
        "ApplicationSubmitted",
        "PlanSelected",
        "CoverageEffectuated",
        "PlanChanged",
        "CoverageTerminated",
    }
    assert {"non_payment", "voluntary"} <= reasons
    assert ("OEP", True) in periods and ("SEP", False) in periods
    assert redelivered > 0 and late > 0


def test_premiums_follow_age_curve_and_aptc(clean_set: Path) -> None:
    plans = {
        r["hios_plan_id"] + r["plan_year"]: float(r["premium_age21"])
        for r in _csv_rows(_files(clean_set, "plans")[0])
    }
    members = {r["member_id"]: r for p in _files(clean_set, "members") for r in _csv_rows(p)}
    matched = checked = 0
    for path in _files(clean_set, "enrollment_events"):
        for ev in _events(path):
            if ev["event_type"] != "PlanSelected" or ev["member_id"] not in members:
                continue
            m = members[ev["member_id"]]
            start = date.fromisoformat(ev["coverage_start"])
            dob = date.fromisoformat(m["date_of_birth"])
            age = int((start.toordinal() - dob.toordinal()) / 365.2425)
            base = plans.get(ev["hios_plan_id"] + str(start.year))
            premium = float(ev["monthly_premium"])
            assert 0 <= float(ev["aptc_amount"]) <= premium
            if base is None or premium == 0:
                continue
            factor = _factor(age) * (1.2 if m["tobacco_user"] == "Y" and age >= 21 else 1.0)
            checked += 1
            matched += abs(round(base * factor, 2) - premium) <= 0.011
    assert checked > 100 and matched / checked > 0.97


def test_premium_rows_and_corrections(clean_set: Path) -> None:
    seen: dict[str, str] = {}
    corrected = 0
    for path in _files(clean_set, "premiums"):
        for r in _csv_rows(path):
            assert r["paid_date"] == path.stem.split("_")[1]
            if r["payment_id"] in seen:
                corrected += 1
            seen[r["payment_id"]] = r["aptc_amount"]
    assert len(seen) > 100
    assert corrected > 0  # the same payment_id posted again with other amounts


# ------------------------------------------------------------------------------ user mistakes


def test_refuses_to_mix_with_existing_files(clean_set: Path) -> None:
    with pytest.raises(GeneratorError, match="already holds"):
        generate(clean_set, members=10, days=2, progress=False)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"members": 0}, "--members"),
        ({"days": 0}, "--days"),
        ({"defect_rate": 0.9}, "--defect-rate"),
        ({"days": 3, "start": date(2025, 12, 1), "malformed_file": True}, "weekend"),
    ],
)
def test_rejects_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(GeneratorError, match=message):
        generate(tmp_path / "landing", progress=False, **{"members": 20, **kwargs})


def test_manifest_cannot_live_inside_landing(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="must not be inside"):
        generate(
            tmp_path / "landing",
            members=20,
            days=2,
            manifest_path=tmp_path / "landing" / "m.json",
            progress=False,
        )


def test_simulate_day_needs_a_generated_directory(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="run generate first"):
        simulate_day(tmp_path)


def test_cli_generate_and_simulate_day(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from aca_warehouse.generator.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "landing"
    args = parser.parse_args(
        ["generate", "--out", str(out), "--members", "30", "--days", "2", "--no-progress"]
    )
    assert args.func(args) == 0
    args = parser.parse_args(["simulate-day", "--landing", str(out), "--no-progress"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "claims" in text and "manifest" in text
    assert (out / "claims_system/claims/claims_2025-11-03.csv").exists()
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--defect-rate", "2"])


@pytest.mark.unit
def test_a_window_too_large_for_memory_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aca_warehouse.errors import GeneratorError
    from aca_warehouse.generator import generate

    eight_gb = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 8 * 2**30 // 4096}
    monkeypatch.setattr("os.sysconf", lambda name: eight_gb[name])
    with pytest.raises(GeneratorError, match=r"about 34\.0 GB of memory.*bench\.replicate"):
        generate(tmp_path / "landing", members=1_000_000, days=365, progress=False)
    assert not (tmp_path / "landing").exists()


def test_generator_workers_stop_on_sigterm_whatever_their_parents_handler(tmp_path: Path) -> None:
    """A process whose SIGTERM handler does not exit (a process that ran Dagster has its own) forks the
    generator's workers; they must stop on SIGTERM again, or the pool's terminate() waits forever on a
    worker it could not stop (the generator hung in CI). Each worker checks its own handler."""
    import subprocess
    import sys

    script = (
        "import signal, sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from aca_warehouse.generator import engine, generate, world\n"
        "signal.signal(signal.SIGTERM, lambda *_: None)\n"
        "def checked(module, name):  # each worker task first checks the worker's SIGTERM handler\n"
        "    original = getattr(module, name)\n"
        "    def task(arg):\n"
        "        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL, repr(signal.getsignal(signal.SIGTERM))\n"
        "        return original(arg)\n"
        "    task.__qualname__ = task.__name__ = name\n"
        "    task.__module__ = module.__name__\n"
        "    setattr(module, name, task)\n"
        "checked(engine, '_process_chunk')\n"
        "checked(world, '_claims_month')\n"
        "generate(Path(sys.argv[1]), members=60, start=date(2025, 12, 1), days=5, seed=3, progress=False)\n"
    )
    env = {**os.environ, "ACA_GENERATOR_WORKERS": "2"}
    log = tmp_path / "generate.log"
    with log.open("w") as out:  # its own session: a hung pool is killed whole
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "landing")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            returncode = process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            returncode = None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert returncode == 0, log.read_text()[-2000:]
    assert list((tmp_path / "landing").rglob("claims_*.csv"))


def test_feed_layouts_come_from_the_dictionary() -> None:
    """The generator's directories, prefixes and CSV headers are the dictionary's, apart from the two
    documented departures (products' leading columns, members' extra column); a dictionary with
    another column order gives another header, and a departure naming a column the dictionary does
    not have is refused."""
    import dataclasses

    from aca_warehouse.contract import load_dictionary
    from aca_warehouse.generator.feeds import (
        FEEDS,
        MEMBERS_EXTRA_COLUMNS,
        PRODUCTS_LEADING_COLUMNS,
        contract_feed,
    )

    dictionary = load_dictionary()
    for feed in FEEDS:
        spec = dictionary.feeds[feed.name]
        assert (feed.directory, feed.prefix, feed.extension, feed.cadence) == (
            spec.directory,
            spec.file_prefix,
            spec.extension,
            spec.cadence,
        )
        expected = [] if spec.is_jsonl else list(spec.column_names)
        if feed.name == "products":
            expected = [
                *PRODUCTS_LEADING_COLUMNS,
                *(c for c in expected if c not in PRODUCTS_LEADING_COLUMNS),
            ]
        if feed.name == "members":
            expected += MEMBERS_EXTRA_COLUMNS
        assert list(feed.columns) == expected, feed.name

    claims = dictionary.feeds["claims"]
    reordered = dataclasses.replace(claims, columns=tuple(reversed(claims.columns)))
    other = dataclasses.replace(dictionary, feeds={**dictionary.feeds, "claims": reordered})
    assert list(contract_feed("claims", dictionary=other).columns) == list(reversed(claims.column_names))
    with pytest.raises(ValueError, match="disagree with the dictionary"):
        contract_feed("products", first=("product_code",))
    with pytest.raises(ValueError, match="disagree with the dictionary"):
        contract_feed("members", extra=("member_id",))
