"""Turns the simulated applications into enrollment events, coverage segments and premium months."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aca_warehouse.generator import reference as ref
from aca_warehouse.generator.catalog import PlanCatalog
from aca_warehouse.generator.population import (
    DAY,
    TERM_DEATH,
    TERM_NONE,
    PopulationSimulator,
)
from aca_warehouse.generator.timeline import (
    EPOCH_ORDINAL,
    STREAM_EVENTS,
    Calendar,
    local_day_of,
    stream,
)

EVENT_TYPES = (
    "ApplicationSubmitted",
    "PlanSelected",
    "CoverageEffectuated",
    "PlanChanged",
    "CoverageTerminated",
)
AS, PS, CE, PC, CT = range(5)
SEP_REASON_TEXT = np.array(list(ref.SEP_REASONS) + ["birth"], dtype=object)


def member_id_text(person: np.ndarray) -> np.ndarray:
    """Exchange member ids: 10 digits with leading zeros (text, never a number)."""
    return np.array([f"{1_000_000 + int(p) * 7:010d}" for p in person], dtype=object)


def member_no_text(hh: np.ndarray, suffix: np.ndarray) -> np.ndarray:
    """The insurer's member numbers: household number + person suffix."""
    return np.array(
        [f"HV{int(h) + 10_001:08d}{int(s):02d}" for h, s in zip(hh, suffix, strict=True)], dtype=object
    )


def application_id_text(year: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Marketplace application ids `APP-<plan year>-<7 digits>` (one distinct text per application)."""
    key = np.asarray(year, dtype=np.int64) * 10_000_000 + np.asarray(seq, dtype=np.int64)
    uniq, inverse = np.unique(key, return_inverse=True)
    text = np.array([f"APP-{k // 10_000_000}-{k % 10_000_000:07d}" for k in uniq.tolist()], dtype=object)
    return text[inverse]


class Enrollment:
    """Flat enrollment tables of all simulated plan years."""

    def __init__(self, sim: PopulationSimulator, cat: PlanCatalog, cal: Calendar, seed: int) -> None:
        self.sim, self.cat, self.cal, self.seed = sim, cat, cal, seed
        self.apps = pd.concat(sim.apps, ignore_index=True)
        am = pd.concat(sim.app_members, ignore_index=True)
        am["pos"] = am.groupby("app").cumcount()
        self.app_members = am
        p = sim.pop
        self.person_suffix = p.col("suffix").astype(np.int64)
        self.member_id = member_id_text(np.arange(p.n_people))
        self.member_no = member_no_text(sim.hh_all, self.person_suffix)

    # ---------------------------------------------------------------- events
    def events(self) -> pd.DataFrame:
        """Every event of every on-exchange application member, with its delivery day(s)."""
        apps = self.apps[~self.apps["off_exchange"].to_numpy().astype(bool)]
        a = apps.set_index("app")
        am = self.app_members[np.isin(self.app_members["app"].to_numpy(), apps["app"].to_numpy())]
        aa = a.loc[am["app"].to_numpy()]
        cat = self.cat
        parts = []

        def part(kind: int, mask: np.ndarray, sec: np.ndarray, **extra: np.ndarray) -> None:
            d = {
                "kind": np.full(int(mask.sum()), kind),
                "app": am["app"].to_numpy()[mask],
                "person": am["person"].to_numpy()[mask],
                "pos": am["pos"].to_numpy()[mask],
                "sec": sec[mask],
                "plan_year": aa["plan_year"].to_numpy()[mask],
            }
            for k, v in extra.items():
                d[k] = v[mask]
            parts.append(pd.DataFrame(d))

        n = len(am)
        every = np.ones(n, dtype=bool)
        eff = aa["effectuated"].to_numpy().astype(bool)
        period = aa["period"].to_numpy()
        reason = aa["sep_reason"].to_numpy()
        part(AS, every, aa["submitted_sec"].to_numpy(), period=period, reason=reason)
        plan = aa["plan_row"].to_numpy()
        part(
            PS,
            every,
            aa["selected_sec"].to_numpy(),
            plan=plan,
            start=aa["coverage_start"].to_numpy(),
            premium=am["premium"].to_numpy(),
            aptc=am["aptc"].to_numpy(),
        )
        part(CE, eff, aa["eff_sec"].to_numpy(), plan=plan, start=aa["coverage_start"].to_numpy())
        new_plan = aa["new_plan_row"].to_numpy()
        changed = (aa["change_kind"].to_numpy() > 0) & (new_plan != plan)
        part(PC, changed, aa["change_sec"].to_numpy(), plan=new_plan, start=aa["change_start"].to_numpy())
        term = aa["term_reason"].to_numpy()
        eff_sec = aa["eff_sec"].to_numpy()
        part(
            CT,
            term != TERM_NONE,
            np.maximum(aa["term_sec"].to_numpy(), eff_sec + 3600),
            end=aa["coverage_end"].to_numpy(),
            reason=term,
        )
        died = am["member_term_sec"].to_numpy() >= 0
        part(
            CT,
            died,
            np.maximum(am["member_term_sec"].to_numpy(), eff_sec + 3600),
            end=am["member_end"].to_numpy(),
            reason=np.full(n, TERM_DEATH),
        )
        ev = pd.concat(parts, ignore_index=True)
        ev = ev.sort_values(["plan_year", "app", "pos", "kind", "sec"], kind="stable").reset_index(drop=True)
        ev["key"] = (ev["app"].to_numpy() * 64 + ev["pos"].to_numpy()) * 8 + ev["kind"].to_numpy()
        ev["key"] = (
            ev["key"] * 2 + ev.groupby("key").cumcount().to_numpy()
        )  # a second CT (death) stays unique
        ev["occurred_day"] = local_day_of(ev["sec"].to_numpy())
        # delivery: per plan year, in a fixed order, independent of the generated window
        first_delivery = np.empty(len(ev), dtype=np.int64)
        redelivery = np.full(len(ev), -1, dtype=np.int64)
        as_utc = np.zeros(len(ev), dtype=bool)
        order_sec = np.zeros(len(ev), dtype=np.int64)
        for year, idx in ev.groupby("plan_year").indices.items():
            rng = stream(self.seed, STREAM_EVENTS, int(year))
            k = len(idx)
            occ = ev["occurred_day"].to_numpy()[idx]
            late = rng.random(k) < 0.03
            fd = occ + np.where(late, rng.integers(1, 11, k), 0)
            first_delivery[idx] = fd
            again = rng.random(k) < 0.012
            redelivery[idx] = np.where(again, fd + rng.integers(1, 15, k), -1)
            as_utc[idx] = rng.random(k) < 0.1
            order_sec[idx] = rng.integers(0, DAY, k)
        ev["first_delivery"] = first_delivery
        ev["redelivery"] = redelivery
        ev["as_utc"] = as_utc
        ev["order_sec"] = order_sec
        ev["member_id"] = self.member_id[ev["person"].to_numpy()]
        sub = self.sim.subscriber_all[self.sim.hh_all[ev["person"].to_numpy()]]
        ev["subscriber_id"] = self.member_id[sub]
        app_year = a.loc[ev["app"].to_numpy(), "plan_year"].to_numpy()
        app_seq = a.loc[ev["app"].to_numpy(), "app_seq"].to_numpy()
        ev["application_id"] = application_id_text(app_year, app_seq)
        ev["hios"] = np.where(
            ev["plan"].notna(), cat.hios[ev["plan"].fillna(0).astype(np.int64).to_numpy()], None
        )
        return ev

    # ---------------------------------------------------------------- coverage
    def segments(self) -> pd.DataFrame:
        """Member coverage segments as the insurer knows them (one plan and product each).

        `end` is the real end of coverage; `perceived_end` >= end is how long the member keeps using
        services (grace months before a non-payment termination, a card used after a voluntary end).
        """
        apps = self.apps[
            self.apps["effectuated"].to_numpy().astype(bool) & ~self.apps["cancelled"].to_numpy().astype(bool)
        ]
        a = apps.set_index("app")
        am = self.app_members[np.isin(self.app_members["app"].to_numpy(), apps["app"].to_numpy())]
        aa = a.loc[am["app"].to_numpy()]
        member_end = am["member_end"].to_numpy()
        cov_end = aa["coverage_end"].to_numpy()
        end_all = np.where(member_end >= 0, np.minimum(member_end, cov_end), cov_end)
        perceived = np.where(member_end >= 0, end_all, aa["perceived_end"].to_numpy())
        change = aa["change_kind"].to_numpy() > 0
        cstart = aa["change_start"].to_numpy()
        eff_day = (aa["eff_sec"].to_numpy() - 5 * 3600) // DAY + EPOCH_ORDINAL
        term_day = np.where(
            aa["term_sec"].to_numpy() >= 0, (aa["term_sec"].to_numpy() - 5 * 3600) // DAY + EPOCH_ORDINAL, -1
        )
        base = {
            "person": am["person"].to_numpy(),
            "app": am["app"].to_numpy(),
            "hh": am["hh"].to_numpy(),
            "subscriber": aa["subscriber"].to_numpy(),
            "plan_year": aa["plan_year"].to_numpy(),
            "eff_day": eff_day,
            "term_day": term_day,
            "binder_day": aa["binder_day"].to_numpy(),
            "last_paid_month": aa["last_paid_month"].to_numpy(),
            "off_exchange": aa["off_exchange"].to_numpy(),
            "app_start": aa["coverage_start"].to_numpy(),
        }
        first = pd.DataFrame(
            {
                **base,
                "plan_row": aa["plan_row"].to_numpy(),
                "product": aa["product"].to_numpy(),
                "start": aa["coverage_start"].to_numpy(),
                "end": np.where(change, np.minimum(cstart - 1, end_all), end_all),
                "perceived_end": np.where(change, np.minimum(cstart - 1, end_all), perceived),
                "premium": am["premium"].to_numpy(),
                "aptc": am["aptc"].to_numpy(),
                "seg": 0,
            }
        )
        second = pd.DataFrame(
            {
                **base,
                "plan_row": aa["new_plan_row"].to_numpy(),
                "product": aa["new_product"].to_numpy(),
                "start": cstart,
                "end": end_all,
                "perceived_end": perceived,
                "premium": am["premium2"].to_numpy(),
                "aptc": am["aptc2"].to_numpy(),
                "seg": 1,
            }
        )[change]
        seg = pd.concat([first, second], ignore_index=True)
        seg = (
            seg[seg["perceived_end"] >= seg["start"]]
            .sort_values(["app", "person", "seg"])
            .reset_index(drop=True)
        )
        return seg

    # ---------------------------------------------------------------- premiums
    def premium_rows(self, seg: pd.DataFrame) -> pd.DataFrame:
        """One row per subscriber, product and paid coverage month, with when it was paid."""
        covered = seg[seg["end"] >= seg["start"]]
        m0 = self.cal.month_index(covered["start"].to_numpy())
        m1 = self.cal.month_index(covered["end"].to_numpy())
        count = m1 - m0 + 1
        rep = np.repeat(np.arange(len(covered)), count)
        month = np.repeat(m0, count) + (np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count))
        mm = covered.iloc[rep][
            [
                "subscriber",
                "product",
                "premium",
                "aptc",
                "last_paid_month",
                "binder_day",
                "app_start",
                "off_exchange",
                "app",
            ]
        ].reset_index(drop=True)
        mm["month"] = month
        mm = mm[mm["month"] <= mm["last_paid_month"]]
        mm["binder_month"] = (
            self.cal.month_index(np.maximum(mm["app_start"].to_numpy(), self.cal.first)) == mm["month"]
        ) & (mm["binder_day"] >= 0)
        g = mm.groupby(["month", "subscriber", "product"], sort=True)
        rows = g.agg(
            billed=("premium", "sum"),
            aptc=("aptc", "sum"),
            binder=("binder_month", "max"),
            binder_day=("binder_day", "max"),
        ).reset_index()
        return rows

    # ---------------------------------------------------------------- membership
    def on_file(self) -> pd.DataFrame:
        """When each on-exchange member is on the exchange's file: [from_day, to_day) per application."""
        if getattr(self, "_on_file", None) is not None:
            return self._on_file
        apps = self.apps[~self.apps["off_exchange"].to_numpy().astype(bool)]
        a = apps.set_index("app")
        am = self.app_members[np.isin(self.app_members["app"].to_numpy(), apps["app"].to_numpy())]
        aa = a.loc[am["app"].to_numpy()]
        start = aa["submitted_day"].to_numpy()
        eff = aa["effectuated"].to_numpy().astype(bool)
        term_day = np.where(
            aa["term_sec"].to_numpy() >= 0, (aa["term_sec"].to_numpy() - 5 * 3600) // DAY + EPOCH_ORDINAL, -1
        )
        cov_end = aa["coverage_end"].to_numpy()
        stop = np.where(term_day >= 0, np.maximum(cov_end + 1, term_day), cov_end + 1)
        never = ~eff
        stop = np.where(never, aa["coverage_start"].to_numpy() + 35, stop)
        member_end = am["member_end"].to_numpy()
        stop = np.where(member_end >= 0, np.minimum(stop, member_end + 1), stop)
        self._on_file = pd.DataFrame(
            {"person": am["person"].to_numpy(), "hh": am["hh"].to_numpy(), "from_day": start, "to_day": stop}
        )
        return self._on_file
