"""The Dagster UI in a real browser: Debian's Chromium driven by Playwright against `dagster dev`.

The session's `dagster_dev` (conftest.py, shared with test_webserver_smoke.py) serves the demo landing
set, which its running sensor loads with one catch-up run; the tests then read the pages a user opens
after `make run` / `make ui`: the lineage with the layers, a staging asset with its partitions and load
figures, a check that explains itself, a mart with its typed columns, the sensor with a one-line
cursor and a tick that says what it saw, the charts drawn in the reports asset's metadata; and a
range backfill launched by clicking runs as one run and succeeds.

The browser is the system's Chromium (`apt-get install chromium`; .ci/run installs it), launched
through `executable_path`: never `playwright install`, which downloads a browser. Without Chromium
the module is skipped, except in CI (CI=true), where that is a failure. Screenshots of every page go
to the test's temp folder (its path is printed), or to ACA_UI_SCREENSHOTS when set (CI artifacts).
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from ..conftest import DEMO_DAYS, DEMO_START
from ..dagster_ui import DagsterDev, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("webserver")]

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
LOCATION = "__repository__@aca_warehouse"
TIMEOUT_MS = 30_000

if CHROMIUM is None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(
            "CI is set but Chromium is not installed: .ci/run installs it (apt-get install -y chromium)",
            pytrace=False,
        )
    pytest.skip(
        "no Chromium browser (install Debian's: apt-get install -y chromium; not `playwright install`)",
        allow_module_level=True,
    )

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError  # noqa: E402

ASSET_CHECKS = """
query($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetChecksOrError { ... on AssetChecks { checks { name description } } }
      assetMaterializations(limit: 1) { partition metadataEntries { label
        ... on IntMetadataEntry { intValue } } }
    }
  }
}"""


BACKFILLS = """
{ partitionBackfillsOrError(limit: 20) { ... on PartitionBackfills { results {
    id status runs(limit: 10) { runId status tags { key value } } } } } }"""


class UI:
    """One browser page on the webserver; `open` a path, `shot` the page into the screenshot folder."""

    def __init__(self, page: Page, base_url: str, shots: Path) -> None:
        self.page = page
        self.base_url = base_url
        self.shots = shots
        self.first_visit = True

    def open(self, path: str) -> Page:
        self.page.goto(self.base_url + path)
        with contextlib.suppress(PlaywrightTimeoutError):  # the UI polls live data; assertions wait anyway
            self.page.wait_for_load_state("networkidle", timeout=10_000)
        skip = self.page.get_by_role("button", name="Skip")  # the community modal of a first visit
        with contextlib.suppress(PlaywrightTimeoutError):
            skip.first.click(timeout=10_000 if self.first_visit else 500)
        self.first_visit = False
        return self.page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def loaded(dagster_dev: DagsterDev) -> DagsterDev:
    """The sensor's catch-up run over the demo landing set, succeeded."""
    wait_for(lambda: bool(dagster_dev.sensor_runs()), 180, "the landing sensor to request a run")
    dagster_dev.wait_for_run(dagster_dev.sensor_runs()[-1]["runId"], 420)  # the first (runs: newest first)
    return dagster_dev


@pytest.fixture(scope="module")
def ui(loaded: DagsterDev, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    shots = Path(os.environ.get("ACA_UI_SCREENSHOTS") or tmp_path_factory.mktemp("ui_screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {shots}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield UI(context.new_page(), f"http://127.0.0.1:{loaded.port}", shots)
        finally:
            context.close()
            browser.close()


def test_every_partitioned_asset_backfills_as_one_run(loaded: DagsterDev) -> None:
    """Dagster's dialog for several assets says "using varying backfill policies" whatever they are (it
    compares each asset's policy object, not its value; dagster-webserver 1.13.27). The policies are
    one: every partitioned asset runs a range in a single run (docs/operations.md, backfills)."""
    nodes = loaded.graphql(
        "{ assetNodes { assetKey { path } isExecutable partitionDefinition { name }"
        " backfillPolicy { policyType maxPartitionsPerRun } } }"
    )["assetNodes"]
    partitioned = [n for n in nodes if n["isExecutable"] and n["partitionDefinition"]]
    assert len(partitioned) == len([n for n in nodes if n["isExecutable"]]) > 50
    # what "Materialize all" selects: every executable asset, i.e. every asset but one (staging.load_audit
    # is declared for lineage only; the staging assets write it)
    assert len([n for n in nodes if n["isExecutable"]]) == len(nodes) - 1, [
        n["assetKey"] for n in nodes if not n["isExecutable"]
    ]
    policies = {(n["backfillPolicy"] or {}).get("policyType") for n in partitioned}
    assert policies == {"SINGLE_RUN"}, [n["assetKey"] for n in partitioned if not n["backfillPolicy"]]


def _asset(dev: DagsterDev, key: str) -> dict:
    return dev.graphql(ASSET_CHECKS, {"key": {"path": key.split("/")}})["assetNodeOrError"]


def test_lineage_shows_the_layers(ui: UI) -> None:
    page = ui.open("/asset-groups")
    sidebar = page.get_by_text("Global asset lineage")
    expect(sidebar).to_be_visible()
    for group in ("landing", "staging", "core", "marts", "quality", "reports"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    ui.shot("lineage")


def test_staging_asset_shows_its_partitions_and_load_figures(ui: UI, loaded: DagsterDev) -> None:
    page = ui.open("/assets/staging/claims?view=partitions")
    expect(page.get_by_text(f"Materialized ({DEMO_DAYS})")).to_be_visible()
    expect(page.get_by_text("Failed (0)")).to_be_visible()
    ui.shot("staging_claims_partitions")
    # The backfill dialog of one asset states its policy: a range is one run.
    page.get_by_role("button", name="Materialize…").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Backfills all partitions in a single run.")
    ui.shot("staging_claims_backfill_dialog")
    dialog.get_by_role("button", name="Cancel").click()

    latest = _asset(loaded, "staging/claims")["assetMaterializations"][0]
    figures = {e["label"]: e.get("intValue") for e in latest["metadataEntries"]}
    assert figures["rows_staged"] > 0, figures
    page = ui.open("/assets/staging/claims")
    expect(page.get_by_text("Latest materialization")).to_be_visible()
    row = page.locator("tr", has=page.get_by_text("rows_staged", exact=True))
    rows = figures["rows_staged"]
    expect(row.locator("td").last).to_have_text(re.compile(rf"^\s*({rows}|{rows:,})\s*$"))
    # the typed column list
    expect(page.locator("tr", has=page.get_by_text("_source_line", exact=True)).first).to_contain_text(
        "integer"
    )
    ui.shot("staging_claims_overview")


def test_a_check_shows_its_result_and_description(ui: UI, loaded: DagsterDev) -> None:
    checks = {
        c["name"]: c["description"] for c in _asset(loaded, "staging/claims")["assetChecksOrError"]["checks"]
    }
    assert checks and all(checks.values()), checks
    description = checks["defect_rate"]
    page = ui.open("/assets/staging/claims?view=checks")
    page.get_by_text("defect_rate", exact=True).first.click()
    expect(page.get_by_text("Evaluation result")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^(Passed|Failed|Warning)$")).first).to_be_visible()
    shown = re.sub(r"[`*]", "", description)[:50]  # the UI renders the description's Markdown
    expect(page.get_by_text(shown, exact=False).first).to_be_visible()
    ui.shot("staging_claims_check_defect_rate")


def test_a_mart_shows_its_columns_with_types(ui: UI, loaded: DagsterDev) -> None:
    page = ui.open("/assets/marts/plan_month")
    columns = page.locator("tr", has=page.get_by_text("premium_earned", exact=True))
    expect(columns.first).to_contain_text("decimal(18,2)")
    expect(page.locator("tr", has=page.get_by_text("hios_plan_id", exact=True)).first).to_contain_text(
        "varchar"
    )
    latest = _asset(loaded, "marts/plan_month")["assetMaterializations"][0]
    row_count = {e["label"]: e.get("intValue") for e in latest["metadataEntries"]}.get("dagster/row_count")
    assert row_count, latest["metadataEntries"]
    expect(page.get_by_text("Row count", exact=True).first).to_be_visible()  # in the asset's status
    expect(page.get_by_text(f"{row_count:,}", exact=True).first).to_be_visible()
    ui.shot("marts_plan_month")


def test_the_sensor_shows_a_short_cursor_and_what_its_tick_saw(ui: UI) -> None:
    page = ui.open(f"/locations/{LOCATION}/sensors/landing_files_sensor")
    cursor = page.get_by_text(
        re.compile(r"^\d+ files known, newest load date \d{4}-\d\d-\d\d, state [0-9a-f]+$")
    )
    expect(cursor.first).to_be_visible()
    assert len(cursor.first.inner_text()) < 100
    requested = page.locator("tr", has_text="1 run requested").first
    expect(requested).to_be_visible()
    ui.shot("sensor")
    requested.get_by_text("View logs").click()
    dialog = page.get_by_role("dialog")  # the tick's log names what it saw
    last = (date.fromisoformat(DEMO_START) + timedelta(days=DEMO_DAYS - 1)).isoformat()
    expect(dialog).to_contain_text(
        re.compile(
            rf"\d+ new or changed files for {DEMO_START}\.\.{last}: one range run requested \(catch-up\)"
        )
    )
    ui.shot("sensor_tick_logs")
    page.keyboard.press("Escape")


def test_the_reports_asset_draws_its_charts_in_the_metadata(ui: UI) -> None:
    page = ui.open("/assets/reports/charts")
    row = page.locator("tr", has=page.get_by_text("chart_pmpm_by_metal_tier", exact=True)).first
    row.get_by_text("[Show Markdown]").click()
    image = page.get_by_role("dialog").locator("img[src^='data:image/png;base64,']").first
    expect(image).to_be_visible()
    wait_for(
        lambda: image.evaluate("img => img.complete && img.naturalWidth") > 100, 30, "the chart to decode"
    )
    ui.shot("reports_chart")


def test_a_range_backfill_launched_by_clicking_is_one_run(ui: UI, loaded: DagsterDev) -> None:
    """ "Materialize all" on the lineage, three load dates typed as a range, "Launch backfill": the
    daemon runs the range through every layer as ONE run (the single-run policy), which succeeds."""
    first = date.fromisoformat(DEMO_START) + timedelta(days=4)
    days = (first.isoformat(), (first + timedelta(days=2)).isoformat())

    def backfills() -> list[dict]:
        return loaded.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]

    before = {b["id"] for b in backfills()}
    page = ui.open("/asset-groups")
    page.get_by_role("button", name="Materialize all").first.click()
    dialog = page.get_by_role("dialog")
    show_all = dialog.get_by_text("Show all partitions")  # the dialog opens on the last 90 days
    with contextlib.suppress(PlaywrightTimeoutError):
        show_all.click(timeout=5_000)
    selection = dialog.get_by_placeholder(re.compile(r"^ex: "))
    selection.fill(f"[{days[0]}...{days[1]}]")
    selection.press("Enter")
    expect(dialog.get_by_text("3 partitions")).to_be_visible()
    ui.shot("backfill_dialog_range")
    dialog.get_by_role("button", name="Launch backfill").click()
    expect(dialog).to_be_hidden()

    state: dict = {}

    def backfill_done() -> bool:
        new = [b for b in backfills() if b["id"] not in before]
        if not new:
            return False
        state.update(new[0])
        if state["status"] in ("FAILED", "CANCELED", "COMPLETED_FAILED"):
            raise AssertionError(f"backfill {state}; log: {loaded.log_tail()}")
        return state["status"] in ("COMPLETED", "COMPLETED_SUCCESS")

    wait_for(backfill_done, 420, "the clicked backfill to complete")
    runs = state["runs"]
    assert len(runs) == 1, runs
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert runs[0]["status"] == "SUCCESS"
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == days
    page = ui.open(f"/runs/{runs[0]['runId']}")
    expect(page.get_by_text("Success").first).to_be_visible()
    ui.shot("backfill_run")


CHECK_EXECUTIONS = """
query($key: AssetKeyInput!, $name: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $name, limit: 20) {
    runId status evaluation { partition severity success metadataEntries { label } }
  }
}"""


def test_a_bad_claim_file_dropped_in_is_loaded_by_the_sensor_and_its_check_shows_the_rows(
    ui: UI, loaded: DagsterDev
) -> None:
    """The user's path: a corrected claims file with bad rows lands; the sensor loads its date in one run
    (green: the defect rate warns); the defect_rate check of that partition shows which lines and why.
    Last in the module: it changes the warehouse's last demo day."""
    last = (date.fromisoformat(DEMO_START) + timedelta(days=DEMO_DAYS - 1)).isoformat()
    path = loaded.landing / "claims_system" / "claims" / f"claims_{last}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("claim_type")
    bad_lines = []
    for index, row in enumerate(rows[1:]):
        if index % 3 == 0:
            row[column] = "BOGUS"
            bad_lines.append(index + 2)  # line 1 is the header
    staged = path.with_name(".incoming.csv")  # hidden names are not landing files: write, then rename
    with staged.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    before = {r["runId"] for r in loaded.sensor_runs()}
    staged.replace(path)

    def new_run() -> list[dict]:
        return [r for r in loaded.sensor_runs() if r["runId"] not in before]

    wait_for(lambda: bool(new_run()), 180, "the sensor to request a run for the corrected file")
    (run,) = new_run()
    assert run["tags"].get("dagster/partition") == last, run["tags"]
    loaded.wait_for_run(run["runId"], 420)

    executions = loaded.graphql(
        CHECK_EXECUTIONS, {"key": {"path": ["staging", "claims"]}, "name": "defect_rate"}
    )
    (evaluation,) = [
        e["evaluation"] for e in executions["assetCheckExecutions"] if e["runId"] == run["runId"]
    ]
    assert evaluation["partition"] == last and evaluation["success"] is False, evaluation
    assert evaluation["severity"] == "WARN"
    assert "sample" in {m["label"] for m in evaluation["metadataEntries"]}, evaluation

    page = ui.open("/assets/staging/claims?view=checks")
    page.get_by_text("defect_rate", exact=True).first.click()
    expect(page.get_by_text("Evaluation result")).to_be_visible()
    expect(page.get_by_text(f"claims_system/claims/claims_{last}.csv").first).to_be_visible()  # the file
    expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
    for line in bad_lines:  # the sample rows, inline: source line and reason code
        sample_row = page.locator("tr", has=page.get_by_text(str(line), exact=True)).filter(
            has_text="bad_enum"
        )
        expect(sample_row.first).to_be_visible()
    ui.shot("staging_claims_check_defect_rate_failed")
