"""Each source's reports as one non-overlapping partition of months: what the statistical
baseline fits and the origin-state filter weighs (weekly snapshots are never levels).
Light on purpose (pandas only): the filter needs it without the baseline's statsmodels."""

from __future__ import annotations

import datetime as dt

import pandas as pd

#: (source, metric) -> series (column) name
SOURCES: dict[tuple[str, str], str] = {
    ("ged_cm", "sb_deaths"): "ged_sb_deaths", ("ged_cm", "sb_events"): "ged_sb_events",
    ("musings", "incidents"): "incidents", ("ctc", "is_attacks"): "is_attacks_ctc"}
COLS = ("ged_sb_deaths", "ged_sb_events", "incidents", "is_attacks_ctc")

def month_index(d: pd.Timestamp | dt.date, first: dt.date) -> int:
    return (d.year - first.year) * 12 + d.month - first.month


def add_months(d: dt.date, k: int) -> dt.date:
    m = d.year * 12 + d.month - 1 + k
    return dt.date(m // 12, m % 12 + 1, 1)


#: months of history before the origin the baseline is fitted to
WINDOW_MONTHS = 60


def window_start(origin: dt.date) -> dt.date:
    """First month of the default fit window: ``WINDOW_MONTHS`` months before ``origin``."""
    return add_months(origin.replace(day=1), -WINDOW_MONTHS)


def partition(obs: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """One non-overlapping partition of months per source (national rows).

    Complete months first; then quarters whose months are all missing; then, for a year,
    the remainder (year total minus the rows inside it) over its still-uncovered months.
    Weeks and partial periods are not levels. Returns rows ``column, months (tuple of
    month indices from first), value, days``.
    """
    out = []
    nat = obs[(obs["region"] == "IQ") & (obs["period_start"].dt.day == 1)
              & obs["period_end"].dt.is_month_end]
    for (src, met), col in SOURCES.items():
        s = nat[(nat["source"] == src) & (nat["metric"] == met)]
        covered: dict[int, float] = {}
        rows = []
        for gran in ("month", "quarter", "year"):
            for _, r in s[s["granularity"] == gran].sort_values("period_start").iterrows():
                a, b = month_index(r["period_start"], first), month_index(r["period_end"], first)
                if a < 0 or b > month_index(pd.Timestamp(last), first):
                    continue
                months = [m for m in range(a, b + 1) if m not in covered]
                if not months:
                    continue
                inside = sum(v for m, v in covered.items() if a <= m <= b)
                value = float(r["value"]) - inside
                if value <= 0:
                    continue
                for m in months:
                    covered[m] = value / len(months)
                days = sum(pd.Period(year=first.year + (first.month - 1 + m) // 12,
                                     month=(first.month - 1 + m) % 12 + 1, freq="M").days_in_month
                           for m in months)
                rows.append({"column": col, "months": tuple(months), "value": value,
                             "days": days, "granularity": gran if len(months) == b - a + 1
                             else f"{gran} remainder"})
        out += rows
    return pd.DataFrame(out, columns=["column", "months", "value", "days", "granularity"])


#: parameter vector of a source: log sds, then logits
