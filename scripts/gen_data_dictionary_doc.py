"""Writes docs/DATA_DICTIONARY.md from aca_warehouse/contract/dictionary.yaml (run it after editing the YAML).

uv run python scripts/gen_data_dictionary_doc.py          # write the doc
uv run python scripts/gen_data_dictionary_doc.py --check  # exit 1 if the committed doc is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aca_warehouse.contract.dictionary import Column, Dictionary, Feed, load_dictionary
from aca_warehouse.staging.tables import AUDIT_COLUMNS, METADATA_COLUMNS, QUARANTINE_COLUMNS

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "DATA_DICTIONARY.md"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _column_rules(column: Column, dictionary: Dictionary) -> str:
    checks = dictionary.column_checks
    parts = [f"at most {column.max_length} bytes → `{checks['max_length']}`"]
    if column.accepted_values is not None:
        values = ", ".join(f"`{v}`" for v in column.accepted_values)
        parts.append(f"one of {values} → `{checks['accepted_values']}`")
    if column.pattern is not None:
        parts.append(f"matches `{column.pattern}` → `{checks['pattern']}`")
    if column.range is not None:
        parts.append(f"{column.range.describe()} → `{checks['range']}`")
    if column.non_negative:
        parts.append(f">= 0 → `{checks['non_negative']}`")
    if column.npi_luhn:
        parts.append(f"10 digits, Luhn check digit with prefix 80840 → `{checks['npi_luhn']}`")
    return "; ".join(parts)


def _feed_section(feed: Feed, dictionary: Dictionary) -> list[str]:
    out = [f"### {feed.name}", ""]
    out.append(f"{feed.description}")
    out.append("")
    out.append(
        f"- **Files**: `<landing root>/{feed.directory}/{feed.file_prefix}_YYYY-MM-DD.{feed.extension}` "
        f"({'JSON Lines' if feed.is_jsonl else 'CSV with a header'}), source system `{feed.system}`, "
        f"cadence **{feed.cadence}**."
    )
    out.append(f"- **Staging table**: `staging.{feed.name}` (one partition per file, by `_load_date`).")
    out.append(f"- **Grain**: {feed.grain}.")
    out.append(
        f"- **Key within a file**: ({', '.join(f'`{k}`' for k in feed.key)}) — a later line repeating it is "
        "`duplicate_key` (or `duplicate_row` when the whole line repeats); the first line counts."
    )
    out.append(f"- **Across loads** (`{feed.cross_load}`): {dictionary.cross_load_rules[feed.cross_load]}")
    if feed.phi_columns:
        out.append(f"- **PHI**: {', '.join(f'`{c}`' for c in feed.phi_columns)}.")
    out.append(
        f"- **Reason codes this feed can produce**: {', '.join(f'`{c}`' for c in feed.reason_codes(dictionary))}."
    )
    out.append("")
    out.append(
        "| column | type | staged as (DuckDB / PostgreSQL) | required | PHI | value rules (→ reason code) | description |"
    )
    out.append("|---|---|---|---|---|---|---|")
    for col in feed.columns:
        sql = dictionary.types[col.type].sql
        required = "yes" if col.required else ""
        if not col.required and feed.variants is not None:
            types = [name for name, v in feed.variants.types.items() if col.name in v.required]
            required = f"for {', '.join(types)}" if types else ""
        out.append(
            f"| `{col.name}` | {col.type} | {sql['duckdb']} / {sql['postgres']} | {required} | "
            f"{'PHI' if col.phi else ''} | {_cell(_column_rules(col, dictionary))} | {_cell(col.description)} |"
        )
    out.append("")
    if feed.variants is not None:
        out.append(
            f"Fields per `{feed.variants.discriminator}` (a required field that is null → `missing_required`):"
        )
        out.append("")
        out.append("| event type | fields | required | meaning |")
        out.append("|---|---|---|---|")
        for variant in feed.variants.types.values():
            out.append(
                f"| `{variant.name}` | {', '.join(f'`{f}`' for f in variant.fields)} | "
                f"{', '.join(f'`{f}`' for f in variant.required)} | {_cell(variant.description)} |"
            )
        out.append("")
    if feed.rules:
        out.append("Row rules (evaluated only when every column the rule uses passed its own checks):")
        out.append("")
        out.append("| reason code | the row is bad when | uses | meaning |")
        out.append("|---|---|---|---|")
        for rule in feed.rules:
            if rule.kind == "overlap_with_earlier_row":
                assert rule.period is not None
                condition = (
                    f"an earlier line has the same {', '.join(rule.same)}, a different "
                    f"{', '.join(rule.different)} and an overlapping [{rule.period[0]}, {rule.period[1]}] "
                    f"(null {rule.period[1]} = open-ended)"
                )
            else:
                condition = f"`{rule.violated_when}`"
            out.append(
                f"| `{rule.code}` | {_cell(condition)} | {', '.join(rule.uses)} | {_cell(rule.description)} |"
            )
        out.append("")
    if feed.notes:
        out.append("Notes:")
        out.append("")
        out.extend(f"- {note}" for note in feed.notes)
        out.append("")
    return out


def render_data_dictionary(dictionary: Dictionary | None = None) -> str:
    """The whole document as Markdown."""
    d = dictionary or load_dictionary()
    out = [
        "# Data dictionary",
        "",
        "<!-- Generated from aca_warehouse/contract/dictionary.yaml by scripts/gen_data_dictionary_doc.py;"
        " do not edit by hand. -->",
        "",
        "What each landing feed must contain, how the staging loader types and judges every row, and what "
        "happens to a bad row or a bad file. The landing contract itself is `../shared/contract/LANDING.md`; "
        "this page is its transcription into rules the warehouse executes (`dictionary.yaml`), plus the "
        "decisions taken where the contract leaves room.",
        "",
        "## How a landing file is loaded",
        "",
        "1. **One file = one partition.** The date in the file name is the load date and the partition key. "
        "A run over a window of load dates loads every file of the feed whose load date is in the window; "
        "a date without a file is left as it is. Files with the same header layout load together in "
        "batches (`ACA_STAGING_BATCH_MB` of landing text at most), but each file is judged on its own: every "
        "rule below that speaks of the file looks only at that file's lines and load date.",
        "2. **Whole-file checks.** The file is rejected, nothing of it is loaded, the run fails with "
        "`LandingFileError: <file>: <problem>` and the partition keeps its previous load (a `failed` row is "
        "written to `staging.load_audit`) when:",
        *[f"   - {rejection}" for rejection in d.file_rejections],
        "",
        "   Any other file in a feed directory is not a landing file: it is ignored, and the runs and the "
        "sensor report it by name with the reason, while the feed's other files load. That is a name "
        "not of the form `<prefix>_YYYY-MM-DD.<ext>` (ASCII digits), a date that is not a real calendar "
        "day (`claims_2025-13-01.csv`), a load date after today (UTC; it loads on its day), and anything "
        "that does not resolve to a regular file inside the landing directory (a symbolic link to a file "
        "elsewhere is never read; a directory, a pipe, a dangling link).",
        "3. **Records.** CSV: one header line (a UTF-8 BOM is allowed), RFC 4180 quoting (a quoted field may "
        "span lines), `\\n` or `\\r\\n`; columns in any order, matched by name; unknown extra columns are kept "
        "in `_extra` (JSON). JSON Lines: one object per line. Blank lines are not rows. Every record keeps "
        "the physical line where it starts (`_source_line`; header = line 1, first JSON line = 1).",
        "4. **Values.** Surrounding whitespace (space, tab, CR, LF) is trimmed; an empty or blank value, or "
        "JSON null, is null. A value longer than its column's `max_length` (bytes of UTF-8, see the length "
        "limits below) gets `field_too_long` and nothing else for that column. "
        "Then each column is typed (table below); a value that does not parse gets the "
        "type's reason code and is not checked further; only parsed values are checked against accepted "
        "values, patterns and ranges.",
        "5. **Row rules** over several columns run only when every column they use passed its own checks, "
        "so one bad value yields one reason code, never a cascade.",
        "6. **Duplicates within the file.** A line whose raw fields all equal an earlier line's is "
        "`duplicate_row`; otherwise a line repeating an earlier line's key (typed values) is "
        "`duplicate_key`. The first line with a key is the one that counts, even when it is itself bad "
        "(then nothing loads for that key from that file).",
        "7. **Outcome.** A row with no reason code is staged in `staging.<feed>`; any other row goes to "
        "`staging.quarantine` with *all* its codes. For every file, rows read = rows staged + rows "
        "quarantined (a blocking check).",
        "8. **Replace, in one transaction.** The partition's rows in the feed table and the quarantine are "
        "deleted and the new ones inserted together with the audit row (one transaction replaces every "
        "partition of a batch). Re-delivering a byte-identical file "
        "(same sha256, same dictionary) changes nothing: it is audited as `unchanged`. A file with other "
        "bytes replaces the partition. Across loads staging keeps every partition; dbt applies the "
        "cross-load rule of each feed.",
        "",
        "## Types",
        "",
        "| type | DuckDB | PostgreSQL | accepted text | reason code when it does not parse | default max_length (bytes) |",
        "|---|---|---|---|---|---|",
        *[
            f"| {t.name} | {t.sql['duckdb']} | {t.sql['postgres']} | {_cell(t.format)} | "
            f"{f'`{t.reason_code}`' if t.reason_code else ''} | {t.max_length:,} |"
            for t in d.types.values()
        ],
        "",
        "## Length limits",
        "",
        "Bounds that keep one absurd row from costing memory or sinking a file; each is a per-row problem "
        "(`field_too_long`), never a file rejection.",
        "",
        "- **A column's value**: at most its `max_length` bytes of UTF-8 after trimming (characters for "
        "ASCII text): the type's default above unless the column sets its own (every column's limit is in "
        "the feed tables below).",
        f"- **Unknown extra columns** of a row (kept in `_extra`): at most "
        f"{d.limits.extra_columns_max_bytes:,} bytes of JSON together.",
        f"- **A record** (all its physical lines, quoted or not): at most {d.limits.record_max_chars:,} "
        "characters, the reader's bound (also the CSV tokenizer's field limit, so a quoted and an unquoted "
        "field have the same one). A longer record is found without holding it in memory (its end is "
        "where the double quotes since its start are balanced at a line end) and quarantined as one row "
        "with only `field_too_long`; an unterminated quote that runs to the end of the file still rejects "
        "the file. The staging loader's normalized line bound (DuckDB's `max_line_size`) is 16 times "
        "this, enough for the record written out several times over.",
        f"- **In the quarantine** a raw value longer than {d.limits.quarantine_value_max_chars:,} characters "
        "is kept as its first characters followed by `...[truncated: N characters]` (an over-long record: "
        "its first characters, as a JSON string). The landing file itself is never changed; "
        "`_source_file` and `_source_line` point at the full record.",
        "",
        "## Reason codes",
        "",
        "A quarantined row lists every code it earned, sorted and `;`-joined, in `reason_codes`; "
        "`reason_details` names the column or rule behind each.",
        "",
        "| code | meaning | feeds |",
        "|---|---|---|",
    ]
    for code, meaning in d.reason_codes.items():
        feeds = [f.name for f in d.feeds.values() if code in f.reason_codes(d)]
        out.append(f"| `{code}` | {_cell(meaning)} | {', '.join(feeds)} |")
    out += [
        "",
        "Not quarantined (valid rows): claims and premiums with an unknown member or product, claims outside "
        "any coverage span and re-delivered events are loaded and counted downstream.",
        "",
        "## Tables written by staging",
        "",
        "Every `staging.<feed>` table has the feed's columns (typed as listed per feed) followed by:",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        *[f"| `{n}` | {t} | {_cell(m)} |" for n, t, m in METADATA_COLUMNS],
        "",
        "`staging.quarantine` — one row per rejected source row (contains PHI for members):",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        *[f"| `{n}` | {t} | {_cell(m)} |" for n, t, m in QUARANTINE_COLUMNS],
        "",
        "`staging.load_audit` — one row per file load attempt:",
        "",
        "| column | type | meaning |",
        "|---|---|---|",
        *[f"| `{n}` | {t} | {_cell(m)} |" for n, t, m in AUDIT_COLUMNS],
        "",
        "## Checks on every staging asset",
        "",
        "Evaluated by the staging asset after it loads, for every partition (load date) of the run: one "
        "result per partition and check (a single-run backfill of a range included), naming the "
        "partition's file; a failing result shows a sample of the offending rows (source line, key and "
        "offending values, PHI masked). A blocking check that fails (severity ERROR) fails the run and "
        "stops downstream assets; the non-blocking defect-rate check only warns (severity WARN: the run "
        "succeeds and downstream assets run).",
        "",
        "| check | blocking | asserts |",
        "|---|---|---|",
        *[
            f"| `{c.name}` | {'yes' if c.blocking else 'no'} | {_cell(c.description)} |"
            for c in d.checks.values()
        ],
        "",
        f"The defect-rate threshold (above which the check warns) defaults to {d.default_max_defect_rate:.0%} "
        "of a file's rows (`checks.max_defect_rate` in the YAML); set `ACA_MAX_DEFECT_RATE` (a fraction, "
        "e.g. `0.1`) to override it.",
        "",
        "## Feeds",
        "",
    ]
    for feed in d.feeds.values():
        out += _feed_section(feed, d)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail if docs/DATA_DICTIONARY.md is not up to date"
    )
    args = parser.parse_args(argv)
    text = render_data_dictionary()
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(
                f"{DOC_PATH} is stale: run `uv run python scripts/gen_data_dictionary_doc.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
