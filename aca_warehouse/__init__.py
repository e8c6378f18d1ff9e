"""aca_warehouse: an ACA insurer's landing files to a dimensional warehouse and marts, as Dagster assets."""

__version__ = "0.1.0"
