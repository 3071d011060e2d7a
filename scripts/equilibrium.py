"""Long-run equilibrium of IS violence per draw, levers frozen (issue #9, item 4).

Runs each scenario's runs forward with the levers, bases and posture of its last week held
(``resurgence.model.equilibrium.long_run``) and prints the median and 10-90% range of
national IS attacks per week in the last year, the share of runs that settled and the share
that decay (last-year attacks below a tenth of the first year's). ``--structure`` picks the
parameter overlay of ``resurgence.model.structures``; ``--posterior`` runs the draws of a
posterior file (run i takes draw i mod D) and ``--prior`` draws of the parameters that
``scripts/posture_compare.py`` varies, from their priors, instead of the defaults. Usage::

    .venv/bin/python scripts/equilibrium.py --runs 50 --years 15 \\
        --scenarios stay-3000,announced-2500,full-withdrawal
"""

from __future__ import annotations

import argparse

import numpy as np

from resurgence.model.equilibrium import long_run
from resurgence.model.params import ParamSet
from resurgence.model.sim import default_params
from resurgence.model.structures import STRUCTURES, structure_overrides
from resurgence.runs.prepare import resolve
from resurgence.theatre.theatre import load_theatre


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--scenarios", default="stay-3000,announced-2500,full-withdrawal")
    ap.add_argument("--structure", choices=list(STRUCTURES), default="posture-matters")
    ap.add_argument("--posterior", default=None, help="a posterior CSV (default: the defaults)")
    ap.add_argument("--prior", action="store_true", help="prior draws instead of the defaults")
    a = ap.parse_args()
    th = load_theatre("iraq")
    over = structure_overrides(a.structure)
    ids = np.arange(a.runs)
    if a.posterior:
        from resurgence.calibration.posterior import Posterior

        ps: ParamSet = Posterior.load(a.posterior).paramset(ids, over or None)
    elif a.prior:
        from posture_compare import paramset, varied  # same folder

        names = varied(a.structure)
        u = np.random.default_rng(a.seed).random((a.runs, len(names)))
        ps = paramset(a.structure, names, u)
    else:
        ps = default_params(a.runs, over)
    what = f"posterior {a.posterior}" if a.posterior else "prior draws" if a.prior else "defaults"
    print(f"structure {a.structure}, {what}, "
          f"{a.runs} runs, {a.years} years, levers frozen at each scenario's last week")
    print(f"{'scenario':24s} {'attacks/wk y1':>14s} {'last year: median [10-90%]':>30s} "
          f"{'fighters end':>12s} {'settled':>8s} {'decays':>7s}")
    for name in a.scenarios.split(","):
        r = long_run(resolve(name), th, ps, ids, a.seed, years=a.years)
        q = np.quantile(r["attacks_last_year"], [0.1, 0.5, 0.9])
        print(f"{name:24s} {np.median(r['attacks_first_year']):14.1f} "
              f"{q[1]:12.1f} [{q[0]:6.1f}-{q[2]:6.1f}]     {np.median(r['fighters_end']):12.0f} "
              f"{r['settled'].mean():8.2f} {r['decays'].mean():7.2f}")


if __name__ == "__main__":
    main()
