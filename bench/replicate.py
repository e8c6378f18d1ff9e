"""Scale a generated landing set out: K disjoint copies of its population, same catalogs, same days.

The generator simulates a whole window in memory (3.4 GB peak at 100,000 members x 1 year), so a
million members would not fit on a 24 GB machine. For the largest benchmark points the landing set
of a smaller population is replicated instead: copy k > 0 prefixes every person- and
transaction-level id (member ids and numbers, claim ids, payment ids, event and application ids)
with `S<k>-`, so the copies are disjoint members with their own claims, premiums and events, while
the plan, product and provider snapshots (reference data) are shared as they are. Every file still
follows the landing contract (ids have no format rules), each copy's rows keep their own order, and
the result loads like any other landing directory. The distribution per member is the base's.

Run: `uv run python -m bench.replicate --base DIR --out DIR --copies 10`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

import duckdb

# Per feed directory: the columns that identify a person or a transaction.
CSV_ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "claims_system/claims": ("claim_id", "member_no"),
    "claims_system/premiums": ("payment_id", "member_no"),
    "exchange/members": ("member_id", "issuer_member_no", "subscriber_id"),
}
SHARED_FEEDS = ("exchange/plans", "claims_system/products", "claims_system/providers")
JSONL_FEED = "exchange/enrollment_events"
_JSON_IDS = re.compile(r'("(?:event_id|application_id|member_id|subscriber_id)"\s*:\s*")')


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def replicate_csv(
    con: duckdb.DuckDBPyConnection, source: Path, target: Path, ids: tuple[str, ...], copies: int
) -> None:
    """`copies` copies of the file's rows (copy 0 unchanged, then S1-, S2-, ... ids), one header."""
    with source.open(encoding="utf-8-sig") as handle:
        header = handle.readline().strip().split(",")  # the generator's headers are plain names
    columns = ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in header)
    relation = (
        f"read_csv({_sql_string(str(source))}, header = true, auto_detect = false, columns = {{{columns}}})"
    )
    parts = []
    for k in range(copies):
        replaced = ", ".join(f'\'S{k}-\' || "{c}" as "{c}"' for c in ids)
        rows = f"select * replace ({replaced})" if k else "select *"
        parts.append(f"{rows}, {k} as _copy from {relation}")
    union = " union all ".join(parts)
    con.execute(
        f"copy (select * exclude (_copy) from ({union}) order by _copy) to {_sql_string(str(target))} "
        "(header true, delimiter ',', quote '\"')"
    )


def replicate_jsonl(source: Path, target: Path, copies: int) -> None:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    with target.open("w", encoding="utf-8", newline="") as out:
        for k in range(copies):
            if k == 0:
                out.writelines(lines)
            else:
                prefix = f"\\g<1>S{k}-"
                out.writelines(_JSON_IDS.sub(prefix, line) for line in lines)


def replicate(base: Path, out: Path, copies: int) -> dict[str, int]:
    """Write the replicated landing set; returns files written per feed."""
    if copies < 1:
        raise ValueError("copies must be >= 1")
    con = duckdb.connect()
    written: dict[str, int] = {}
    for feed in (*CSV_ID_COLUMNS, *SHARED_FEEDS, JSONL_FEED):
        source_dir = base / feed
        target_dir = out / feed
        target_dir.mkdir(parents=True, exist_ok=True)
        for source in sorted(source_dir.glob("*_????-??-??.*")):
            target = target_dir / source.name
            if feed in SHARED_FEEDS or copies == 1:
                shutil.copyfile(source, target)
            elif feed == JSONL_FEED:
                replicate_jsonl(source, target, copies)
            else:
                replicate_csv(con, source, target, CSV_ID_COLUMNS[feed], copies)
            written[feed] = written.get(feed, 0) + 1
    con.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", type=Path, required=True, help="a landing directory written by the generator"
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--copies", type=int, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    written = replicate(args.base, args.out, args.copies)
    print(f"{sum(written.values())} files in {time.perf_counter() - started:.1f}s: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
