"""Dagster assets, one module per layer: landing -> staging -> dbt (core and marts)."""
