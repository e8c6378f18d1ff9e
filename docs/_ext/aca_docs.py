"""The site's own Sphinx extension: pages generated from the project's sources of truth, and Mermaid.

- `DATA_DICTIONARY.md` is rendered from `aca_warehouse/contract/dictionary.yaml` at build time (the
  committed file is the same text, kept fresh by a test), so the site can never show a stale rule.
- `contracts/*.md` get the text of `../shared/contract/*.md` appended (under the page's own heading);
  a missing contracts folder stops the build with a message saying where it was looked for.
- Links written for the repository (`../../shared/contract/LANDING.md`) point at those pages.
- ```` ```mermaid ```` fences (MyST `fence_as_directive`) are rendered to inline SVG at build time
  with mermaidx (the Mermaid JS library run in an embedded JS engine: no browser, no network), cached
  by content under `_build/mermaid-cache/`; a diagram that does not render fails the build.
- Directives generated from code: `aca-cli-help` (every `aca-warehouse` subcommand's --help) and
  `aca-chart-catalogue` (the charts of the reports asset).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.errors import ConfigError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACT_PAGES = {"contracts/landing": "LANDING.md", "contracts/marts": "MARTS.md"}
DICTIONARY_PAGE = "DATA_DICTIONARY"
_CONTRACT_LINK = re.compile(r"\]\((?:\.\./)+shared/contract/(LANDING|MARTS)\.md(#[^)]*)?\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


# -- generated pages -----------------------------------------------------------------------------


def _render_data_dictionary() -> str:
    script = PROJECT_ROOT / "scripts" / "gen_data_dictionary_doc.py"
    spec = importlib.util.spec_from_file_location("gen_data_dictionary_doc", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render_data_dictionary()


def demote_headings(markdown: str, levels: int = 2) -> str:
    """Every ATX heading `levels` levels down (at most to level 6), except inside fenced code."""
    out, in_fence = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (heading := re.match(r"(#{1,6}) ", line)):
            depth = min(6, len(heading.group(1)) + levels)
            line = "#" * depth + line[len(heading.group(1)) :]
        out.append(line)
    return "\n".join(out) + "\n"


def contract_dir(app: Sphinx) -> Path:
    return Path(app.config.aca_contract_dir).resolve()


def check_inputs(app: Sphinx) -> None:
    """Stop before reading anything when an input that lives outside docs/ is missing."""
    missing = [name for name in CONTRACT_PAGES.values() if not (contract_dir(app) / name).is_file()]
    if missing:
        raise ConfigError(
            f"the contracts {', '.join(missing)} are not in {contract_dir(app)}: the site includes "
            "../shared/contract/*.md from beside the repository. Put the shared folder there, or set "
            "ACA_CONTRACT_DIR to the folder that holds LANDING.md and MARTS.md."
        )
    if app.builder.format == "html" and not app.config.html_extra_path:
        raise ConfigError(
            f"the dbt docs are not built ({app.config.aca_dbt_docs_dir}/dbt/index.html is missing); "
            "run `uv run --frozen python scripts/build_dbt_docs.py` (`make docs` does it first)"
        )


def fill_generated_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == DICTIONARY_PAGE:
        app.env.note_dependency(str(PROJECT_ROOT / "aca_warehouse" / "contract" / "dictionary.yaml"))
        source[0] = _render_data_dictionary()
    elif docname in CONTRACT_PAGES:
        path = contract_dir(app) / CONTRACT_PAGES[docname]
        app.env.note_dependency(str(path))
        source[0] = source[0].rstrip() + "\n\n" + demote_headings(path.read_text(encoding="utf-8"))
    depth = docname.count("/")

    def to_page(match: re.Match[str]) -> str:
        page = "../" * depth + f"contracts/{match.group(1).lower()}.md"
        return f"]({page}{match.group(2) or ''})"

    source[0] = _CONTRACT_LINK.sub(to_page, source[0])


# -- mermaid -----------------------------------------------------------------------------------


def render_mermaid_svg(source: str, cache_dir: Path) -> tuple[str, str]:
    """The diagram as SVG markup with ids unique to it (and its root element's id), from the cache
    or rendered now."""
    import mermaidx

    digest = hashlib.sha256(f"{mermaidx.__version__}\n{source}".encode()).hexdigest()
    cached = cache_dir / f"{digest}.svg"
    if cached.exists():
        svg = cached.read_text(encoding="utf-8")
    else:
        svg = mermaidx.render(source).svg()
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(svg, encoding="utf-8")
        partial.replace(cached)
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    element_id = f"mermaid-{digest[:12]}"
    return svg.replace("my-svg", element_id), element_id


class MermaidDirective(SphinxDirective):
    """```` ```mermaid ```` in MyST: the diagram, rendered to SVG while building."""

    has_content = True
    optional_arguments = 1
    final_argument_whitespace = True

    def run(self) -> list[nodes.Node]:
        source = "\n".join(self.content).strip()
        if not source:
            raise self.error("empty mermaid diagram")
        cache_dir = Path(self.env.app.outdir).parent / "mermaid-cache"
        try:
            svg, element_id = render_mermaid_svg(source, cache_dir)
        except Exception as exc:  # mermaid's own parse errors come through the JS engine
            raise self.error(f"the mermaid diagram does not render: {exc}") from exc
        # The same SVG as a file of its own, to open at full size (wide diagrams shrink to the page).
        name = f"{element_id}.svg"
        images = Path(self.env.app.outdir) / "_images"
        images.mkdir(parents=True, exist_ok=True)
        (images / name).write_text(svg, encoding="utf-8")
        href = "../" * self.env.docname.count("/") + f"_images/{name}"
        html = (
            f'<div class="mermaid-diagram">{svg}</div>'
            f'<p class="mermaid-full-size"><a href="{href}">Open the diagram at full size</a></p>'
        )
        return [nodes.raw("", html, format="html")]


# -- pages from code -----------------------------------------------------------------------------


class CliHelpDirective(SphinxDirective):
    """The `--help` of `aca-warehouse` and of each of its subcommands, as the installed code prints it."""

    def run(self) -> list[nodes.Node]:
        from aca_warehouse.cli import build_parser

        saved = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "100"
        try:
            parser = build_parser()
            parts = ["```text", parser.format_help().rstrip(), "```", ""]
            for action in parser._subparsers._group_actions:  # argparse keeps subcommands here
                for name, sub in action.choices.items():
                    parts += [
                        f"**`aca-warehouse {name}`**",
                        "",
                        "```text",
                        sub.format_help().rstrip(),
                        "```",
                        "",
                    ]
        finally:
            if saved is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = saved
        return self.parse_text_to_nodes("\n".join(parts))


class ChartCatalogueDirective(SphinxDirective):
    """The charts the reports asset draws: file name, title and what each shows."""

    def run(self) -> list[nodes.Node]:
        from aca_warehouse.reports.charts import CHARTS

        lines = []
        for spec in CHARTS:
            reads = ", ".join(f"`{table}`" for table in spec.reads)
            lines += [f"`{spec.name}`", f": **{spec.title}**. {spec.description} Reads {reads}.", ""]
        return self.parse_text_to_nodes("\n".join(lines))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("aca_contract_dir", "", "env")
    app.add_config_value("aca_dbt_docs_dir", "", "env")
    app.connect("builder-inited", check_inputs)
    app.connect("source-read", fill_generated_pages)
    app.add_directive("mermaid", MermaidDirective)
    app.add_directive("aca-cli-help", CliHelpDirective)
    app.add_directive("aca-chart-catalogue", ChartCatalogueDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
