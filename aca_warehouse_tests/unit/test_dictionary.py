"""The data dictionary: it loads, it transcribes the landing contract, and its generated doc is current."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from aca_warehouse.contract.dictionary import DICTIONARY_PATH, MAX_DEFECT_RATE_ENV, load_dictionary
from aca_warehouse.errors import ConfigurationError
from aca_warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit

LANDING_MD = PROJECT_ROOT.parent / "shared" / "contract" / "LANDING.md"
ARCHITECTURE_MD = PROJECT_ROOT / "docs" / "ARCHITECTURE.md"
FEED_SECTIONS = {
    "exchange/plans": "plans",
    "exchange/members": "members",
    "claims_system/products": "products",
    "claims_system/providers": "providers",
    "claims_system/claims": "claims",
    "claims_system/premiums": "premiums",
}


def _load_doc_script():
    spec = importlib.util.spec_from_file_location(
        "gen_data_dictionary_doc", PROJECT_ROOT / "scripts" / "gen_data_dictionary_doc.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_feed_locations_keep_the_api_landing_uses() -> None:
    feeds = load_dictionary().feeds
    assert list(feeds) == [
        "plans",
        "members",
        "enrollment_events",
        "products",
        "providers",
        "claims",
        "premiums",
    ]
    claims = feeds["claims"]
    assert (claims.directory, claims.file_prefix, claims.extension, claims.cadence) == (
        "claims_system/claims",
        "claims",
        "csv",
        "daily",
    )
    events = feeds["enrollment_events"]
    assert (events.file_prefix, events.extension, events.is_snapshot) == ("events", "jsonl", False)
    assert feeds["members"].is_snapshot


def test_reason_codes_are_listed_once_in_the_generated_dictionary() -> None:
    """The dictionary is the one source: the generated DATA_DICTIONARY.md lists every code with its
    meaning; ARCHITECTURE.md points there instead of keeping a copy."""
    text = (PROJECT_ROOT / "docs" / "DATA_DICTIONARY.md").read_text(encoding="utf-8")
    section = text.split("## Reason codes")[1].split("\n## ")[0]
    codes = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    assert codes == list(load_dictionary().reason_codes)
    assert all(load_dictionary().reason_codes[code].strip() for code in codes)
    architecture = ARCHITECTURE_MD.read_text(encoding="utf-8")
    assert "(DATA_DICTIONARY.md)" in architecture and "| `wrong_field_count` |" not in architecture


@pytest.mark.skipif(
    not LANDING_MD.exists(), reason="the shared landing contract is not checked out next to the repo"
)
def test_columns_transcribe_the_landing_contract() -> None:
    text = LANDING_MD.read_text(encoding="utf-8")
    feeds = load_dictionary().feeds
    for heading, feed_name in FEED_SECTIONS.items():
        section = text.split(f"## {heading}")[1].split("\n## ")[0]
        names: list[str] = []
        for cells in re.findall(r"^\| ([^|]+) \| [a-z]+ \|", section, flags=re.MULTILINE):
            if cells.strip() != "column":
                names += [n.strip() for n in cells.split(",")]
        assert sorted(names) == sorted(feeds[feed_name].column_names), feed_name
    events = text.split("## exchange/enrollment_events")[1].split("\n## ")[0]
    common = re.findall(r"`([a-z_]+)`", events.split("Common fields:")[1].split("\n|")[0])
    per_type = {}
    for event_type, fields in re.findall(r"^\| ([A-Z][A-Za-z]+) \| (.+) \|$", events, flags=re.MULTILINE):
        per_type[event_type] = [f.strip().split(" ")[0] for f in re.sub(r"\([^)]*\)", "", fields).split(",")]
    variants = feeds["enrollment_events"].variants
    assert variants is not None
    assert {name: list(v.fields) for name, v in variants.types.items()} == per_type
    union = list(dict.fromkeys(f for fields in per_type.values() for f in fields))
    assert feeds["enrollment_events"].column_names == common + union


def test_required_columns_and_keys_follow_the_precise_reading() -> None:
    feeds = load_dictionary().feeds
    required = {name: set(feed.required_columns) for name, feed in feeds.items()}
    assert required["claims"] == set(feeds["claims"].column_names) - {
        "rendering_npi",
        "procedure_code",
        "ndc",
        "denial_reason_code",
    }
    assert required["premiums"] == set(feeds["premiums"].column_names)
    assert required["plans"] == set(feeds["plans"].column_names) - {"plan_name", "issuer_name"}
    assert required["products"] == {"product_id", "hios_plan_id", "effective_date"}
    assert required["members"] == {
        "member_id",
        "issuer_member_no",
        "subscriber_id",
        "relationship",
        "date_of_birth",
        "gender",
        "tobacco_user",
    }
    assert required["providers"] == {"npi", "entity_type", "network_status"}
    assert required["enrollment_events"] == {
        "event_id",
        "event_type",
        "occurred_at",
        "application_id",
        "member_id",
        "subscriber_id",
    }
    keys = {name: feed.key for name, feed in feeds.items()}
    assert keys == {
        "plans": ("hios_plan_id", "plan_year"),
        "members": ("member_id",),
        "enrollment_events": ("event_id",),
        "products": ("product_id", "effective_date"),
        "providers": ("npi",),
        "claims": ("claim_id", "line_number", "claim_version"),
        "premiums": ("payment_id",),
    }
    assert {name: feed.cross_load for name, feed in feeds.items()} == {
        "plans": "snapshot",
        "members": "snapshot",
        "products": "snapshot",
        "providers": "snapshot",
        "enrollment_events": "first_delivery_wins",
        "claims": "latest_load_wins",
        "premiums": "latest_load_wins",
    }


def test_row_rules_declare_every_column_they_read() -> None:
    """A rule is guarded by the columns it `uses`; reading an undeclared column would skip the guard."""
    for feed in load_dictionary().feeds.values():
        for rule in feed.rules:
            if rule.kind != "predicate":
                continue
            assert rule.violated_when
            words = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", re.sub(r"'[^']*'", "", rule.violated_when)))
            read = words & set(feed.column_names)
            assert read <= set(rule.uses), (feed.name, rule.code, read - set(rule.uses))


def test_every_generator_defect_code_is_a_code_of_its_feed() -> None:
    defects = pytest.importorskip("aca_warehouse.generator.defects")
    dictionary = load_dictionary()
    for feed_name, codes in defects.FEED_CODES.items():
        assert set(codes) <= set(dictionary.feeds[feed_name].reason_codes(dictionary)), feed_name


def test_defect_rate_threshold_comes_from_the_yaml_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dictionary = load_dictionary()
    monkeypatch.delenv(MAX_DEFECT_RATE_ENV, raising=False)
    assert dictionary.max_defect_rate() == dictionary.default_max_defect_rate == 0.05
    monkeypatch.setenv(MAX_DEFECT_RATE_ENV, "0.2")
    assert dictionary.max_defect_rate() == 0.2
    monkeypatch.setenv(MAX_DEFECT_RATE_ENV, "lots")
    with pytest.raises(ConfigurationError, match=MAX_DEFECT_RATE_ENV):
        dictionary.max_defect_rate()


def test_an_inconsistent_dictionary_is_refused(tmp_path: Path) -> None:
    text = DICTIONARY_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "dictionary.yaml"
    broken.write_text(text.replace("code: moop_below_deductible", "code: moop_too_low"), encoding="utf-8")
    with pytest.raises(ConfigurationError, match="moop_too_low"):
        load_dictionary(broken)
    broken.write_text(
        text.replace("uses: [moop_individual, deductible_individual]", "uses: [moop]"), encoding="utf-8"
    )
    with pytest.raises(ConfigurationError, match="unknown column moop"):
        load_dictionary(broken)


def test_generated_data_dictionary_doc_is_current() -> None:
    script = _load_doc_script()
    rendered = script.render_data_dictionary()
    assert script.DOC_PATH.read_text(encoding="utf-8") == rendered, (
        "docs/DATA_DICTIONARY.md is stale: run `uv run python scripts/gen_data_dictionary_doc.py`"
    )
    for feed in load_dictionary().feeds.values():
        assert f"### {feed.name}" in rendered
        for column in feed.column_names:
            assert f"`{column}`" in rendered
