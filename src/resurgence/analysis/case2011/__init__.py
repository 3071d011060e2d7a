"""The 2011 case (DESIGN §4, claim C7): from the US withdrawal of 18 December 2011 to 2014.

:func:`run_case_2011` calibrates :data:`resurgence.calibration.cases.IRAQ_2011` by ABC-SMC on the only
observations of its history window that the observation model can use (Iraq Body Count
civilian deaths in 2009 and 2010; nothing after 17 December 2011), runs the ``iraq-2011``
scenario forward from a 2009 spin-up on the posterior, and scores what the model said at
the withdrawal against what followed:

* Iraq Body Count yearly civilian deaths 2012, 2013 (and 2014) against the posterior
  predictive (``ibc_deaths_per_attack`` x simulated IS attacks, with the source's negative-
  binomial noise): median, 80% interval and the observed value's predictive quantile;
* Musings on Iraq average incidents per day in 2014 (``rate_musings`` x (IS + militia
  attacks); the rate keeps its 2018-era default because no 2009-11 Musings data exist);
* whether and when IS comes to hold ground (the model's ``is_holds_ground``: a region's
  forces collapsed or contested villages above ``hold_villages``): the probability by
  2012-12-31, 2013-12-31, 2014-06-30 (the fall of Mosul was on 10 June 2014) and
  2014-12-31, the distribution of the first week, and collapse in Nineveh and Anbar.

Two data points cannot pin down ten parameters: the posterior is mostly the prior. This is a
qualitative test of the collapse mechanism, not a validated forecast (docs/case-2011.md).

Drivers after the origin. ``drivers="ex-ante"`` (the default) runs the forecast a
forecaster could have made on the day: the post-withdrawal posture (troops, bases and
enablers to zero, as announced in October 2011) is kept, every other lever is held at its
value on the origin and later shocks are dropped (:func:`ex_ante`). ``drivers="conditional"``
runs the shipped scenario, whose exogenous levers after the origin follow what happened
(Syria's war, sectarian politics, protest camps, prison breaks): a forecast conditional on
them. Both are scored alike: CRPS, the observed value's predictive quantile (PIT) and
whether it falls in the 50/80/90% central intervals.

The forward runs are those of ``run_ensemble(["iraq-2011"], runs, seed, posterior=post)``
(run ``i`` takes draw ``i mod D`` and spins up from the posterior's start with the same
random streams); they go through :func:`resurgence.runs.ensemble.map_runs` so that the weekly
series needed here are reduced in the workers instead of being written to a bundle.
"""

from resurgence.analysis.case2011.result import (
    COLLAPSE_REGIONS,
    DEATH_YEARS,
    DRAWS,
    DRIVERS,
    FALLUJAH,
    GENERATIONS,
    HOLD_DATES,
    MOSUL,
    ORIGIN,
    RUNS,
    SEED,
    WORKERS,
    Case2011Result,
)
from resurgence.analysis.case2011.run import ex_ante, run_case_2011

__all__ = ["COLLAPSE_REGIONS", "DEATH_YEARS", "DRAWS", "DRIVERS", "FALLUJAH", "GENERATIONS",
           "HOLD_DATES", "MOSUL", "ORIGIN", "RUNS", "SEED", "WORKERS", "Case2011Result",
           "ex_ante", "run_case_2011"]
