"""Dagster resources: the warehouse (DuckDB or PostgreSQL) and dbt, chosen by configuration."""

from aca_warehouse.resources.landing import LandingDirResource
from aca_warehouse.resources.warehouse import WarehouseConnection, WarehouseResource

__all__ = ["LandingDirResource", "WarehouseConnection", "WarehouseResource"]
