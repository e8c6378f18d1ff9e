"""Sphinx configuration of the documentation site (`make docs` builds it into docs/_build/html).

The pages are the Markdown files of docs/ themselves (MyST), the README, the contracts from
../shared/contract, the data dictionary rendered from aca_warehouse/contract/dictionary.yaml at build
time, and the API reference (autodoc). Project-specific parts live in docs/_ext/aca_docs.py.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = DOCS_DIR.parent
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(DOCS_DIR / "_ext"))

# Importing the documented modules imports dagster, whose beta notices are not about the docs.
warnings.filterwarnings("ignore", message=".*is currently in (beta|preview).*")

project = "aca_warehouse"
author = "aca_warehouse contributors"
copyright = "aca_warehouse contributors, Apache-2.0"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
    "aca_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []
# Illustrative snippets (JSON with comments and "...") are shown as written, unhighlighted.
suppress_warnings = ["misc.highlighting_failure"]

# MyST: the Markdown docs stay plain Markdown; ```mermaid fences become diagrams rendered at build time.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
myst_fence_as_directive = ["mermaid"]

# Autodoc: importing a documented module has no side effects (no database, no dbt parse).
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"

html_theme = "furo"
html_title = "aca_warehouse"
html_static_path = ["_static"]
html_css_files = ["aca.css"]
html_show_sourcelink = False

# Where the contracts (../shared/contract) and the generated dbt docs are read from.
aca_contract_dir = os.environ.get("ACA_CONTRACT_DIR") or str(PROJECT_ROOT.parent / "shared" / "contract")
aca_dbt_docs_dir = os.environ.get("ACA_DBT_DOCS_DIR") or str(DOCS_DIR / "_build" / "dbt-docs")
# The dbt docs are copied into the site as dbt/index.html.
html_extra_path = [aca_dbt_docs_dir] if Path(aca_dbt_docs_dir, "dbt", "index.html").exists() else []
