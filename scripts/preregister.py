"""Freeze the 2021-2023 evaluation: forecasts of every target from data up to 2020-11-30.

Writes into ``preregistration/`` (see its README.md for the protocol):

- ``targets.parquet``: for every target and method, the predictive ensemble (one row per
  draw): Musings incidents per day in 2021, 2022 and 2023; CTC IS attacks per quarter
  2021 Q1-2023 Q4; UCDP state-based deaths and events per month 2020-12..2023-12;
  methods ``blend`` (the default), ``simulator``, ``baseline`` and the five naive rules;
- ``quantiles.csv``: the 10/25/50/75/90% quantiles of each (readable, diffable);
- ``forecast_national.parquet``: the default (blend) forecast file's national rows;
- ``manifest.json``: commands, seeds, package version, the blend weights and SHA-256 of
  every file written.

Usage: python scripts/preregister.py [--runs 1000] [--out preregistration]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.calibration import naive
from resurgence.calibration.backtest import FIRST, _mi, monthly_history, vintage
from resurgence.calibration.blend import packaged_weights
from resurgence.calibration.cases import IRAQ_2020
from resurgence.calibration.forecast import forecast
from resurgence.core.atomic import atomic_output_path, atomic_write_text
from resurgence.core.version import __version__

START = dt.date(2020, 12, 1)
MONTHS = 37  # to 2023-12
SCENARIO = "announced-2500"
SEED = 7


def targets() -> list[dict]:
    out = []
    for y in (2021, 2022, 2023):
        out.append({"target": f"musings_incidents_per_day_{y}", "series": "incidents",
                    "start": dt.date(y, 1, 1), "end": dt.date(y, 12, 31),
                    "divide_by_days": True})
        for q in range(4):
            s = dt.date(y, 3 * q + 1, 1)
            e = (pd.Timestamp(s) + pd.offsets.QuarterEnd(0)).date()
            out.append({"target": f"ctc_is_attacks_{y}Q{q + 1}", "series": "is_attacks_ctc",
                        "start": s, "end": e, "divide_by_days": False})
    for m in pd.period_range("2020-12", "2023-12", freq="M"):
        for ser, name in (("ged_sb_deaths", "ucdp_sb_deaths"), ("ged_sb_events", "ucdp_sb_events")):
            out.append({"target": f"{name}_{m}", "series": ser, "start": m.start_time.date(),
                        "end": m.end_time.date(), "divide_by_days": False})
    return out


def ensembles(fc: pd.DataFrame, tg: list[dict]) -> dict[str, np.ndarray]:
    nat = fc[fc["region"] == "IQ"]
    ps = pd.to_datetime(nat["period_start"]).dt.date
    out = {}
    for t in tg:
        sub = nat[(nat["series"] == t["series"]) & (ps >= t["start"]) & (ps <= t["end"])]
        v = sub.groupby("run", observed=True)["value"].sum().to_numpy(float)
        out[t["target"]] = v / ((t["end"] - t["start"]).days + 1) if t["divide_by_days"] else v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("preregistration"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    tg = targets()
    frames, fcs = [], {}
    for method in ("blend", "simulator", "baseline"):
        fc = forecast("iraq-2020", SCENARIO, start=START, months=MONTHS, runs=args.runs,
                      seed=SEED, method=method)
        fcs[method] = fc
        for name, v in ensembles(fc, tg).items():
            frames.append(pd.DataFrame({"target": name, "method": method,
                                        "draw": np.arange(v.size), "value": v}))
    hist = monthly_history(vintage(IRAQ_2020, START), START)
    rng = np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=(2**31 + 11,)))
    for t in tg:
        th, yh = hist[t["series"]]
        months = np.arange(_mi(t["start"]), _mi(t["end"]) + 1)
        for m in naive.METHODS:
            v = naive.predictive(m, th, yh, months, rng, n=1000)
            if t["divide_by_days"]:
                v = v / ((t["end"] - t["start"]).days + 1)
            frames.append(pd.DataFrame({"target": t["target"], "method": m,
                                        "draw": np.arange(v.size), "value": v}))
    ens = pd.concat(frames, ignore_index=True)
    files = {}
    with atomic_output_path(args.out / "targets.parquet") as tmp:
        ens.to_parquet(tmp, index=False, compression="zstd")
    files["targets.parquet"] = args.out / "targets.parquet"
    q = ens.groupby(["target", "method"])["value"].quantile([0.1, 0.25, 0.5, 0.75, 0.9])
    q = q.unstack().rename(columns=lambda c: f"q{int(round(c * 100)):02d}").reset_index()
    atomic_write_text(args.out / "quantiles.csv", q.to_csv(index=False, float_format="%.4g"))
    files["quantiles.csv"] = args.out / "quantiles.csv"
    nat = fcs["blend"][fcs["blend"]["region"] == "IQ"].reset_index(drop=True)
    with atomic_output_path(args.out / "forecast_national.parquet") as tmp:
        nat.to_parquet(tmp, index=False, compression="zstd")
    files["forecast_national.parquet"] = args.out / "forecast_national.parquet"
    manifest = {
        "frozen": dt.date.today().isoformat(), "package_version": __version__,
        "data": "observations up to 2020-11-30, only rows published before 2020-12-01",
        "forecast_command": (f"resurgence forecast --case iraq-2020 --scenario {SCENARIO} "
                             f"--start {START} --months {MONTHS} --runs {args.runs} --seed {SEED} "
                             "--method blend"),
        "script": f"python scripts/preregister.py --runs {args.runs}",
        "naive_history_first_month": FIRST.isoformat(),
        "blend_weights": packaged_weights("iraq-2020"),
        "sha256": {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}}
    atomic_write_text(args.out / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    print(json.dumps({"targets": len(tg), "rows": len(ens), "out": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
