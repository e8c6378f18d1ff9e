"""What the Dagster UI shows about the dbt assets, after a real `materialize` of them (DuckDB, PostgreSQL).

The core scenario's `full` warehouse (fixtures/core/pipeline.py, shared with test_core.py and
test_marts.py): every landing file staged by the real staging assets into a fresh warehouse, then
the dbt assets materialized once (the first build builds every model). Asserted on what that
build recorded (its events) and on the tables it built:
- `dagster/row_count` on every table model's materialization equals the table's count (views: none);
- `dagster/column_schema` names every column of every dbt model's table or view (core and marts,
  staging and intermediate), in order, each with a description and the built column's type;
- owners and the layer tag on every asset, `dagster/table_name` and code references on every dbt
  model, a description on every dbt asset check, and no "(unserializable)" metadata the UI shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import AssetKey, MetadataValue
from dagster._core.execution.execution_result import ExecutionResult

from aca_warehouse.resources.warehouse import WarehouseResource
from aca_warehouse_tests.fixtures.core.pipeline import SCENARIO_KINDS, ensure_dbt_manifest, scenario_result

KINDS = SCENARIO_KINDS
DOCUMENTED_LAYERS = ("staging", "intermediate", "core", "marts")  # every layer of dbt models
# The UI hides these two dagster-dbt entries by name (they hold the manifest and the translator).
UI_HIDDEN_METADATA = {"dagster_dbt/manifest", "dagster_dbt/dagster_dbt_translator"}


@dataclass
class DbtBuild:
    kind: str
    warehouse: WarehouseResource
    result: ExecutionResult
    seconds: float
    manifest: dict[str, Any]


@pytest.fixture(scope="module", params=KINDS)
def dbt_build(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbtBuild]:
    import json

    manifest_path = ensure_dbt_manifest()
    scenario = scenario_result(request.param, tmp_path_factory)
    build = scenario.runs["full"]
    assert build.recorded is not None
    yield DbtBuild(
        request.param,
        scenario.full,
        build.recorded,
        build.seconds,
        json.loads(Path(manifest_path).read_text()),
    )


def model_nodes(manifest: dict[str, Any], layers: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    return [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and (layers is None or n["fqn"][1] in layers)
    ]


DBT_NODES = ("aca_dbt_models",)  # the one dbt asset (assets/dbt.py)


def dbt_asset_definitions() -> list[Any]:
    from aca_warehouse_tests.pipeline import dbt_models

    return [dbt_models()]


def asset_key_of(node: dict[str, Any]) -> AssetKey:
    return AssetKey([node["fqn"][1], node["name"]])


def raw_value(value: Any) -> Any:
    """A definition's metadata value: raw as declared, or wrapped in a MetadataValue."""
    return value.value if isinstance(value, MetadataValue) else value


def built_columns(warehouse: WarehouseResource, schema: str, table: str) -> list[tuple[str, str]]:
    with warehouse.connect() as conn:
        rows = conn.fetchall(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            [schema, table],
        )
    return [(name, str(kind).lower().replace(" ", "")) for name, kind in rows]


def test_the_build_succeeds_with_code_references_and_no_project_metadata(dbt_build: DbtBuild) -> None:
    """Code references are on, and the project is kept out of the metadata: the build still runs
    (dagster-dbt reads the project back during a build; the translator supplies it)."""
    assert dbt_build.result.success
    for definition in dbt_asset_definitions():
        for key, metadata in definition.metadata_by_key.items():
            assert "dagster_dbt/project" not in metadata, key
    print(f"dbt build with row counts: {dbt_build.seconds:.1f} s")


def test_row_count_on_every_table_model_equals_the_table(dbt_build: DbtBuild) -> None:
    counts: dict[AssetKey, int] = {}
    materializations = [
        m for node in DBT_NODES for m in dbt_build.result.asset_materializations_for_node(node)
    ]
    for materialization in materializations:
        value = materialization.metadata.get("dagster/row_count")
        if value is not None:
            counts[materialization.asset_key] = value.value
    tables = [
        n for n in model_nodes(dbt_build.manifest) if n["config"]["materialized"] in ("table", "incremental")
    ]
    views = [n for n in model_nodes(dbt_build.manifest) if n["config"]["materialized"] == "view"]
    assert {asset_key_of(n) for n in tables} == set(counts), (
        "every table model and nothing else has a row count"
    )
    assert not {asset_key_of(n) for n in views} & set(counts)
    with dbt_build.warehouse.connect() as conn:
        for node in tables:
            actual = conn.scalar(f'select count(*) from "{node["schema"]}"."{node["alias"]}"')
            assert counts[asset_key_of(node)] == actual, node["name"]
    # the scenario's facts are not empty: the counts are not trivially 0
    assert counts[AssetKey(["core", "fct_claim_lines"])] > 0
    assert counts[AssetKey(["marts", "plan_month"])] > 0


def test_every_column_of_every_dbt_model_is_documented_and_typed(dbt_build: DbtBuild) -> None:
    """The built tables' columns are exactly the ones the manifest documents, in order, each with a
    description and its type; and the assets' column schema (what the UI shows) is that list. A
    column added to a model without YAML fails here."""
    metadata_by_key = {k: v for a in dbt_asset_definitions() for k, v in a.metadata_by_key.items()}
    nodes = [
        n
        for n in model_nodes(dbt_build.manifest, DOCUMENTED_LAYERS)
        if n["config"]["materialized"] != "ephemeral"
    ]
    assert len(nodes) >= 45
    problems: list[str] = []
    for node in nodes:
        actual = built_columns(dbt_build.warehouse, node["schema"], node["alias"])
        assert actual, f"{node['name']} was not built"
        documented = [
            (
                c["name"],
                (c.get("data_type") or "").lower().replace(" ", ""),
                (c.get("description") or "").strip(),
            )
            for c in node["columns"].values()
        ]
        if [name for name, _, _ in documented] != [name for name, _ in actual]:
            problems.append(
                f"{node['name']}: built columns {[n for n, _ in actual]}, documented {[n for n, _, _ in documented]}"
            )
            continue
        for (name, kind, description), (_, built_kind) in zip(documented, actual, strict=True):
            if not description:
                problems.append(f"{node['name']}.{name}: no description")
            if not kind:
                problems.append(f"{node['name']}.{name}: no data_type")
            elif dbt_build.kind == "duckdb" and kind != built_kind:  # the types documented are DuckDB's
                problems.append(f"{node['name']}.{name}: documented type {kind!r}, built {built_kind!r}")
        schema = raw_value(metadata_by_key[asset_key_of(node)]["dagster/column_schema"])
        shown = [
            (c.name, (c.type or "").lower().replace(" ", ""), (c.description or "").strip())
            for c in schema.columns
        ]
        if shown != documented:
            problems.append(f"{node['name']}: the asset's column schema is not the documented one")
    assert problems == []


def test_owners_layer_tags_and_table_names(dbt_build: DbtBuild) -> None:
    from aca_warehouse.assets.ownership import DATA_PLATFORM_TEAM
    from aca_warehouse.definitions import defs

    dbt_models = {asset_key_of(n): n for n in model_nodes(dbt_build.manifest)}
    graph = defs.resolve_asset_graph()
    checked = 0
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assert DATA_PLATFORM_TEAM in node.owners, key
        assert node.tags.get("layer") == (dbt_models[key]["fqn"][1] if key in dbt_models else key.path[0]), (
            key
        )
        if key in dbt_models:
            metadata = node.metadata
            model = dbt_models[key]
            assert raw_value(metadata["dagster/table_name"]).endswith(
                f"{model['schema']}.{model['alias']}"
            ), key
            assert raw_value(metadata["dagster/code_references"]).code_references, key
        elif key.path[0] == "staging":  # the Python staging assets
            assert raw_value(node.metadata["dagster/table_name"]) == f"staging.{key.path[1]}", key
        checked += 1
    assert checked >= len(dbt_models) + 3


def test_no_unserializable_metadata_is_shown(dbt_build: DbtBuild) -> None:
    """The asset snapshot the UI reads: no entry it shows is an '(unserializable)' placeholder."""
    from dagster._core.remote_representation.external_data import RepositorySnap

    from aca_warehouse.definitions import defs

    snap = RepositorySnap.from_def(defs.get_repository_def())
    shown = [
        (node.asset_key.to_user_string(), key)
        for node in snap.asset_nodes
        for key, value in node.metadata.items()
        if key not in UI_HIDDEN_METADATA and "(unserializable)" in str(getattr(value, "value", value))
    ]
    assert shown == []
    assert any(node.metadata.get("dagster/code_references") for node in snap.asset_nodes)


def test_every_dbt_check_has_a_description(dbt_build: DbtBuild) -> None:
    specs = {spec.key: spec for a in dbt_asset_definitions() for spec in a.check_specs}
    assert len(specs) == sum(1 for n in dbt_build.manifest["nodes"].values() if n["resource_type"] == "test")
    for key, spec in specs.items():
        description = spec.description or ""
        assert description, key
        assert not description.startswith(("dbt test ", "dbt generic test ")), (key, description)
        assert "Severity " in description or "severity " in description, (key, description)
    evaluated = {e.asset_check_key for e in dbt_build.result.get_asset_check_evaluations()}
    assert evaluated and evaluated <= set(specs)
    # singular tests show their YAML description; generic ones name their column
    warn = next(s for k, s in specs.items() if k.name == "warn_claims_outside_coverage")
    assert "coverage span" in (warn.description or "") and "never blocks" in (warn.description or "")
    not_null = next(s for k, s in specs.items() if k.name == "not_null_warehouse_as_of_as_of_month")
    assert "warehouse_as_of.as_of_month" in (not_null.description or "")
