"""Does a source's reporting noise shrink with the period's length? UCDP's monthly
state-based counts before the first backtest origin, months against quarters.

If the months' deviations from the local level were independent, a quarter's total would
have a negative-binomial size three times the months' (its relative variance a third). The
script estimates the size ``k`` from ``var = mu + mu^2 / k`` around a centred 5-period moving
mean (the derivation of the events' noise size, :data:`obsmodel.METRIC_DISPERSION`), for
months and for their quarterly totals, in 2010-13 and 2015-17 (UCDP GED candidate
months, all published before 2018-07-01), and prints the ratio.

Usage: python scripts/noise_by_period.py
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from resurgence.calibration.cases import IRAQ_2020, case_observations


def nb_size(y: pd.Series, window: int = 5) -> float:
    """The negative-binomial size of the months' variance around a centred ``window``-period
    moving mean, as the reporting noise of UCDP events was derived (``obsmodel``,
    ``METRIC_DISPERSION``): ``mean(level)^2 / (var - mean(level))``, the variance scaled by
    ``window / (window - 1)`` for the level fitted from the same points."""
    y = y.astype(float).reset_index(drop=True)
    lev = y.rolling(window, center=True, min_periods=3).mean()
    var = float(((y - lev) ** 2).mean() * window / (window - 1))
    m = float(lev.mean())
    return m * m / (var - m) if var > m else float("inf")


def main() -> int:
    obs = case_observations(IRAQ_2020, dt.date(2017, 12, 31), published_before=dt.date(2018, 7, 1))
    g = obs[(obs["source"] == "ged_cm") & (obs["region"] == "IQ") & (obs["granularity"] == "month")]
    out = {}
    for metric in ("sb_events", "sb_deaths"):
        x = g[g["metric"] == metric].set_index("period_start")["value"].sort_index()
        for a, b in (("2010", "2013"), ("2015", "2017")):
            months = x[a:b].astype(float)
            quarters = months.resample("QS").sum()
            km, kq = nb_size(months), nb_size(quarters)
            out[f"{metric} {a}-{b}"] = {"month_size": round(km, 1), "quarter_size": round(kq, 1),
                                       "ratio": round(kq / km, 2), "independent_months_ratio": 3.0}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
