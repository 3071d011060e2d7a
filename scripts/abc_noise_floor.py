"""The ABC's noise floor: how far from the data a single parameter draw lands by its own
stochasticity (trajectory and reporting noise) alone, against the fit's last tolerance.

Re-simulates every draw of the shipped posterior once with fresh runs (new trajectories and
new observation noise), then the draw that scored best and a median one ``--repeats`` times
each, and prints the distances' quantiles beside the last ABC tolerance. If the tolerance
is below a good draw's own median distance, the accepted particles are partly selected for
lucky noise, so the move acceptance falls however the moves are made.

Usage: python scripts/abc_noise_floor.py [--repeats 300]
"""

from __future__ import annotations

import argparse
import json
from functools import partial

import numpy as np

from resurgence.calibration.cases import IRAQ_2020
from resurgence.calibration.inference import _score, history_runs, history_setup
from resurgence.calibration.posterior import shipped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=300)
    args = ap.parse_args(argv)
    case = IRAQ_2020
    post = shipped(case.name)
    assert post is not None
    sc, design = history_setup(case, case.until, None, fit=True)
    seed = int(post.meta.get("seed", 1))
    score = partial(_score, design=design, seed=seed, simulate_noise=True)

    def dist(draws: np.ndarray, first: int) -> np.ndarray:
        ids = first + np.arange(len(draws))
        return np.concatenate(history_runs(sc, post.paramset(draws), ids, seed, score,
                                       theatre=case.theatre, chunk_size=250))

    def q(x: np.ndarray) -> dict[str, float]:
        return {k: round(float(v), 3) for k, v in zip(("p10", "median", "p90"),
                                                      np.quantile(x, [0.1, 0.5, 0.9]), strict=True)}

    n = post.size
    fresh = dist(np.arange(n), 5_000_000)  # run ids far from the fit's
    order = np.argsort(fresh)
    out = {"last_tolerance": round(float(post.meta["generations"][-1]["epsilon"]), 3),
           "every_draw_fresh": q(fresh)}
    for label, j in (("best_draw_repeated", order[0]), ("median_draw_repeated", order[n // 2])):
        out[label] = {"draw": int(j), **q(dist(np.full(args.repeats, j), 6_000_000))}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
