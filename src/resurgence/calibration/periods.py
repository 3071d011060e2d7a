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


#: granularities in the order a partition takes them (others, e.g. multi-month rows, last)
ORDER = {"month": 0, "quarter": 1, "year": 2}


def month_number(d: pd.Timestamp | dt.date) -> int:
    """Months since year 0: ``year * 12 + month - 1``."""
    return d.year * 12 + d.month - 1


def cover(rows: pd.DataFrame, *, others: bool = False, contiguous: bool = False):
    """The one rule both the ABC's rows and the baseline's months follow: walk a series'
    rows complete months first, then quarters, then years (then, with ``others``, any other
    non-week granularity), each taking the months still uncovered at its total minus the
    rows already inside it. Yields ``(row, months, value, whole)``: ``months`` the month
    numbers (:func:`month_number`) the row now stands for, ``whole`` False for a remainder.
    With ``contiguous`` a remainder must be one run of whole months (so that it is again a
    period with a start and an end); rows whose remainder is not positive are dropped."""
    rows = rows[rows["granularity"] != "week"]
    if not others:
        rows = rows[rows["granularity"].isin(list(ORDER))]
    covered: dict[int, float] = {}
    for _, r in sorted(rows.iterrows(), key=lambda kv: (ORDER.get(kv[1]["granularity"], 3),
                                                       kv[1]["period_start"])):
        ps, pe = pd.Timestamp(r["period_start"]), pd.Timestamp(r["period_end"])
        a, b = month_number(ps), month_number(pe)
        months = [m for m in range(a, b + 1) if m not in covered]
        if not months:
            continue
        whole = len(months) == b - a + 1
        if contiguous and not whole and (months != list(range(months[0], months[-1] + 1))
                                         or ps.day != 1 or not pe.is_month_end):
            continue  # a non-contiguous or ragged remainder: not a clean period
        value = float(r["value"]) - sum(v for m, v in covered.items() if a <= m <= b)
        if value <= 0:
            continue
        for m in months:
            covered[m] = value / len(months)
        yield r, months, value, whole


def partition(obs: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """One non-overlapping partition of months per source (national rows, :func:`cover`).

    Complete months first; then quarters whose months are all missing; then, for a year,
    the remainder (year total minus the rows inside it) over its still-uncovered months.
    Weeks and partial periods are not levels; rows outside ``first..last`` are left out.
    Returns rows ``column, months (tuple of month indices from first), value, days``.
    """
    out = []
    nat = obs[(obs["region"] == "IQ") & (obs["period_start"].dt.day == 1)
              & obs["period_end"].dt.is_month_end]
    m0, m1 = month_number(first), month_number(last)
    for (src, met), col in SOURCES.items():
        s = nat[(nat["source"] == src) & (nat["metric"] == met)]
        ps, pe = s["period_start"].dt, s["period_end"].dt
        s = s[(ps.year * 12 + ps.month - 1 >= m0) & (pe.year * 12 + pe.month - 1 <= m1)]
        for r, months, value, whole in cover(s):
            days = sum(pd.Period(year=m // 12, month=m % 12 + 1, freq="M").days_in_month
                       for m in months)
            out.append({"column": col, "months": tuple(m - m0 for m in months), "value": value,
                        "days": days, "granularity": r["granularity"] if whole
                        else f"{r['granularity']} remainder"})
    return pd.DataFrame(out, columns=["column", "months", "value", "days", "granularity"])
