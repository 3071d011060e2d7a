"""In-sample check: the 2019 Musings level (incidents/day) against each method's 80%
predictive interval, fitted to data up to 2020-11-30 (published before 2020-12-01).

Usage: python scripts/insample_2019.py [--runs 500]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

import numpy as np

from resurgence.calibration import baseline as bl
from resurgence.calibration.blend import packaged_weights, pool
from resurgence.calibration.cases import IRAQ_2020, case_observations
from resurgence.calibration.posterior import shipped
from resurgence.calibration.predictive import predictive


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=500)
    args = ap.parse_args(argv)
    start = dt.date(2020, 12, 1)
    obs = case_observations(IRAQ_2020, start - dt.timedelta(days=1), published_before=start)
    bf = bl.fit(obs, start, first=IRAQ_2020.history_start)
    months = list(range(12, 24))  # 2019 from a January 2018 start
    base = bl.insample(bf, "incidents", months, args.runs, seed=1) / 365
    rows, pred = predictive(shipped("iraq-2020"), runs=args.runs, seed=11)
    k = rows.index[(rows["source"] == "musings") & (rows["granularity"] == "year")
                   & (rows["region"] == "IQ") & (rows["period_start"].dt.year == 2019)][0]
    sim = pred[:, k] / 365
    w = packaged_weights("iraq-2020")["weights"]["incidents"]
    blend = pool(sim, base, w, np.random.default_rng(5), n=2000)
    observed = float(rows.loc[k, "value"]) / 365
    out = {"observed_2019_incidents_per_day": round(observed, 2)}
    for name, v in (("simulator", sim), ("baseline", base), ("blend", blend)):
        lo, med, hi = np.quantile(v, [0.1, 0.5, 0.9])
        out[name] = {"median": round(float(med), 2), "p10": round(float(lo), 2),
                     "p90": round(float(hi), 2), "inside_80": bool(lo <= observed <= hi)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
