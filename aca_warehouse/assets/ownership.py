"""Who owns the assets, and the layer tag every asset carries: one place for both.

Dagster shows owners on each asset's page and filters the catalog by them and by tags. Every asset
belongs to the data-platform team; a dbt model can name other owners in its YAML
(`config: {meta: {dagster: {owners: [...]}}}`, which dagster-dbt reads first). The layer tag
(`layer: landing | staging | intermediate | core | marts | quality | reports`) repeats the asset's
group as a tag, so a catalog search or an asset selection (`tag:layer=core`) finds a layer's assets.
"""

from __future__ import annotations

DATA_PLATFORM_TEAM = "team:aca-data-platform"
OWNERS: list[str] = [DATA_PLATFORM_TEAM]
LAYER_TAG = "layer"


def layer_tags(layer: str) -> dict[str, str]:
    """The tags of an asset of `layer`."""
    return {LAYER_TAG: layer}


__all__ = ["DATA_PLATFORM_TEAM", "LAYER_TAG", "OWNERS", "layer_tags"]
