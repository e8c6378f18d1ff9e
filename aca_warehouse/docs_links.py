"""Links from the Dagster UI into the documentation: where the generated dbt docs are served."""

from __future__ import annotations

import os

DBT_DOCS_URL_ENV = "ACA_DBT_DOCS_URL"
# Where `make docs-serve` serves the site built by `make docs` (the dbt docs are its dbt/ folder).
DBT_DOCS_URL_DEFAULT = "http://127.0.0.1:8000/dbt/index.html"


def dbt_docs_url(unique_id: str) -> str:
    """The page of one dbt node (`model.aca_warehouse.plan_month`) in the dbt docs."""
    base = (os.environ.get(DBT_DOCS_URL_ENV) or DBT_DOCS_URL_DEFAULT).split("#", 1)[0]
    resource_type = unique_id.split(".", 1)[0]
    return f"{base}#!/{resource_type}/{unique_id}"
