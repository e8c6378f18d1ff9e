"""Warnings the manifest records about valid rows: unknown members, unmapped products, claims outside coverage, re-delivered events.

Definitions (the same as docs/GENERATOR.md):
- unknown_member: a claim's or premium's member_no is not the issuer_member_no of any member row
  of any members snapshot of the generated set;
- unmapped_product: no row of the product in the newest products snapshot of the set covers the
  claim's service_from_date (premiums: the first day of coverage_month);
- outside_coverage: a claim of a known member whose service_from_date is in none of the member's
  coverage spans, derived as LANDING.md says from all first deliveries of events in the set;
- redelivered_event: an event_id already delivered in an earlier file.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def coverage_spans(events: pd.DataFrame) -> pd.DataFrame:
    """Coverage spans (member_id, start, end) from first-delivered events, applied in (instant, event_id) order.

    `events` needs: event_id, event_type, instant (epoch seconds), application_id, member_id,
    coverage_start / coverage_end (day ordinals or -1).  Within one member and application, a span
    created by a CoverageEffectuated or PlanChanged survives the later cuts (a PlanChanged cuts at its
    coverage_start - 1, a CoverageTerminated at its coverage_end) only if it starts on or before every
    one of them, and then ends at the earliest of them (or 31 Dec of its start year).
    """
    kinds = ["CoverageEffectuated", "PlanChanged", "CoverageTerminated"]
    ev = events[events["event_type"].isin(kinds).to_numpy()]
    ev = ev.sort_values(["member_id", "application_id", "instant", "event_id"], kind="stable")
    etype = ev["event_type"].to_numpy()
    start = ev["coverage_start"].to_numpy().astype(np.int64)
    end = ev["coverage_end"].to_numpy().astype(np.int64)
    big = np.int64(10**9)
    cut = np.where(etype == "PlanChanged", start - 1, np.where(etype == "CoverageTerminated", end, big))
    group = pd.factorize(
        pd.MultiIndex.from_arrays([ev["member_id"].to_numpy(), ev["application_id"].to_numpy()])
    )[0]
    n = len(ev)
    # the earliest cut strictly after each event of its group: a reversed running minimum, shifted by one
    rev = pd.Series(cut[::-1]).groupby(group[::-1]).cummin().to_numpy()[::-1]
    later = np.full(n, big, dtype=np.int64)
    if n > 1:
        same = group[1:] == group[:-1]
        later[:-1] = np.where(same, rev[1:], big)
    creates = etype != "CoverageTerminated"
    year_end = np.array(
        [
            date(date.fromordinal(int(s)).year, 12, 31).toordinal() if c else 0
            for s, c in zip(start.tolist(), creates.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    span_end = np.minimum(year_end, later)
    keep = creates & (start <= span_end)
    return pd.DataFrame(
        {"member_id": ev["member_id"].to_numpy()[keep], "start": start[keep], "end": span_end[keep]}
    )


def _padded(
    keys: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Intervals grouped by key into a padded (keys + 1) x k matrix of starts and ends (last row: no interval)."""
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object))
    n_keys = len(uniques)
    slot = (
        pd.Series(codes).groupby(codes).cumcount().to_numpy() if len(codes) else np.zeros(0, dtype=np.int64)
    )
    width = int(slot.max()) + 1 if len(slot) else 1
    lo = np.ones((n_keys + 1, width), dtype=np.int64)
    hi = np.zeros((n_keys + 1, width), dtype=np.int64)
    lo[codes, slot] = starts
    hi[codes, slot] = ends
    return pd.Index(uniques), lo, hi


def _contains(
    index: pd.Index, lo: np.ndarray, hi: np.ndarray, keys: np.ndarray, days: np.ndarray
) -> np.ndarray:
    row = index.get_indexer(keys) if len(keys) else np.zeros(0, dtype=np.int64)
    row = np.where(row < 0, len(index), row)
    d = np.asarray(days, dtype=np.int64)[:, None]
    return ((lo[row] <= d) & (d <= hi[row])).any(axis=1)


def covered(spans: pd.DataFrame, member_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Whether each (member, day) falls in one of the member's spans."""
    index, lo, hi = _padded(spans["member_id"].to_numpy(), spans["start"].to_numpy(), spans["end"].to_numpy())
    return _contains(index, lo, hi, np.asarray(member_ids, dtype=object), days)


def product_mapped(crosswalk: pd.DataFrame, products: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Whether each product has a crosswalk slice covering the day (termination -1 = open-ended)."""
    term = crosswalk["termination_date"].to_numpy()
    index, lo, hi = _padded(
        crosswalk["product_id"].to_numpy(),
        crosswalk["effective_date"].to_numpy(),
        np.where(term >= 0, term, 10**7),
    )
    return _contains(index, lo, hi, np.asarray(products, dtype=object), days)
