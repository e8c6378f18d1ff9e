"""The documentation's moving parts: dbt-docs links on the dbt assets, and the site extension's rewriting.

The site itself is built by `make docs` in CI (`.ci/run`), with warnings as errors.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

from aca_warehouse.settings import PROJECT_ROOT

pytestmark = pytest.mark.unit


def _site_extension() -> ModuleType:
    path = PROJECT_ROOT / "docs" / "_ext" / "aca_docs.py"
    spec = importlib.util.spec_from_file_location("aca_docs", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_dbt_model_asset_links_to_its_page_in_the_dbt_docs() -> None:
    from aca_warehouse.definitions import defs

    manifest = json.loads((PROJECT_ROOT / "dbt" / "target" / "manifest.json").read_text())
    graph = defs.resolve_asset_graph()
    model_keys = [k for k in graph.get_all_asset_keys() if k.path[0] in ("core", "marts")]
    assert model_keys
    for key in model_keys:
        match = re.search(
            r"\[dbt docs\]\(http://127\.0\.0\.1:8000/dbt/index\.html#!/model/([^)]+)\)",
            graph.get(key).description,
        )
        assert match, key.to_user_string()
        unique_id = match.group(1)
        assert unique_id in manifest["nodes"] and unique_id.endswith("." + key.path[-1])


def test_the_dbt_docs_address_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from aca_warehouse.assets.dbt import AcaDbtTranslator

    monkeypatch.setenv("ACA_DBT_DOCS_URL", "https://docs.example.org/aca/dbt/index.html")
    description = AcaDbtTranslator().get_description(
        {
            "resource_type": "model",
            "name": "plan_month",
            "unique_id": "model.aca_warehouse.plan_month",
            "description": "Plans.",
        }
    )
    assert description.endswith(
        "[dbt docs](https://docs.example.org/aca/dbt/index.html#!/model/model.aca_warehouse.plan_month)"
    )


def test_contract_text_goes_under_the_page_heading_except_in_code() -> None:
    demote = _site_extension().demote_headings
    text = "# Contract\n\n## Layout\n\n```\n# not a heading\n```\n###### deepest\n"
    assert demote(text) == "### Contract\n\n#### Layout\n\n```\n# not a heading\n```\n###### deepest\n"


def test_repository_links_to_the_contracts_point_at_the_site_pages() -> None:
    fill = _site_extension().fill_generated_pages
    source = [
        "See [the landing contract](../../shared/contract/LANDING.md) and [MARTS](../../shared/contract/MARTS.md#shared)."
    ]
    fill(None, "GENERATOR", source)
    assert (
        source[0]
        == "See [the landing contract](contracts/landing.md) and [MARTS](contracts/marts.md#shared)."
    )


def test_every_page_of_docs_is_markdown_the_site_reads() -> None:
    """The site reads docs/*.md in place: a new page needs only a toctree entry (Sphinx fails on an orphan)."""
    docs = PROJECT_ROOT / "docs"
    index = (docs / "index.md").read_text()
    pages = sorted(
        p.relative_to(docs).with_suffix("").as_posix() for p in docs.rglob("*.md") if "_build" not in p.parts
    )
    listed = set(re.findall(r"^(?:[^\n<]*<)?([A-Za-z_/]+)>?$", index, flags=re.M))
    assert [p for p in pages if p != "index" and p not in listed] == []
    assert Path(docs / "conf.py").exists()


def test_the_architecture_trace_is_at_most_twelve_files_that_hand_on_in_order() -> None:
    """docs/ARCHITECTURE.md opens with the trace of one claim file: at most 12 files, each one that
    exists, and the dbt part reads in one direction (each model refers to the one before it)."""
    text = (PROJECT_ROOT / "docs" / "ARCHITECTURE.md").read_text()
    section = text.split("## One claim file, landing to marts", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| *(\d+) *\| *`([^`]+)` *\|", section, re.M)
    files = [path for _, path in rows]
    assert [int(n) for n, _ in rows] == list(range(1, len(rows) + 1))
    assert 1 <= len(files) <= 12, files
    assert len(set(files)) == len(files)
    for path in files:
        assert (PROJECT_ROOT / path).is_file(), path
    models = [Path(p).stem for p in files if p.startswith("dbt/models/")]
    assert models[0].startswith("stg_") and models[-1] in MARTS_TRACE_END
    assert (
        "source('staging', 'claims')"
        in (PROJECT_ROOT / files[files.index(_model_path(files, models[0]))]).read_text()
    )
    for before, model in zip(models, models[1:], strict=False):
        sql = (PROJECT_ROOT / _model_path(files, model)).read_text()
        assert f"ref('{before}')" in sql, f"{model} does not read {before}"
    python = [p for p in files if p.endswith(".py")]
    assert python[0] == "aca_warehouse/definitions.py"
    assert "aca_warehouse/sensors/landing.py" in python and "aca_warehouse/staging/loader.py" in python


MARTS_TRACE_END = ("claims_daily",)


def _model_path(files: list[str], model: str) -> str:
    return next(p for p in files if Path(p).stem == model)
