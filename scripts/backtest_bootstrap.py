"""How sure is the backtest's verdict? The paired CRPS difference of the default forecast
(the blend) against the best naive rule, source by source, with bootstrap intervals.

Reads a ``resurgence backtest --out DIR`` folder (``scores.csv``, ``verdict.csv``). For each
scored source, on the targets both methods scored: the mean difference (blend minus the
best naive rule; negative = the blend is better), its 80% interval from resampling targets
within origins (stratified; it ignores the correlation of one origin's targets, so it is
too narrow), the mean difference at each origin, and the share of the difference that the
single largest target carries.

Usage: python scripts/backtest_bootstrap.py DIR [--reps 4000]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--reps", type=int, default=4000)
    a = ap.parse_args(argv)
    scores = pd.read_csv(a.folder / "scores.csv")
    verdict = pd.read_csv(a.folder / "verdict.csv")
    rng = np.random.default_rng(1)
    key = ["origin", "series", "granularity", "target_start", "target_end"]
    out = {}
    for _, v in verdict.dropna(subset=["crps_met"]).iterrows():
        s = scores[scores["series"] == v["series"]]
        both = (s[s["method"] == "blend"].set_index(key)["crps"].to_frame("blend")
                .join(s[s["method"] == v["best_naive"]].set_index(key)["crps"].rename("naive"),
                      how="inner"))
        d = (both["blend"] - both["naive"]).reset_index()
        d.columns = [*key, "diff"]
        groups = [g["diff"].to_numpy() for _, g in d.groupby("origin")]
        boots = np.array([np.concatenate([rng.choice(g, g.size) for g in groups]).mean()
                          for _ in range(a.reps)])
        big = d.loc[d["diff"].abs().idxmax()]
        out[v["label"]] = {
            "targets": int(len(d)), "best_naive": v["best_naive"],
            "mean_difference": round(float(d["diff"].mean()), 2),
            "interval_80": [round(float(x), 2) for x in np.quantile(boots, [0.1, 0.9])],
            "share_blend_better": round(float((d["diff"] < 0).mean()), 2),
            "by_origin": {str(o): round(float(g["diff"].mean()), 2)
                          for o, g in d.groupby("origin")},
            "largest_target": f"{big['origin']} {big['granularity']} {big['target_start']}: "
                              f"{big['diff']:+.1f} of a total {d['diff'].sum():+.1f}"}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
