"""One-at-a-time check of the parameters the posterior holds fixed: does moving one from
its low to its high value move a claim's check? Evidence for :func:`resurgence.analysis.
claim_evidence.classify`, run on request (``resurgence claims --oat-runs``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from resurgence.analysis.claims import CLAIMS, Claim, check

OAT_MOVES = 0.05  # a driver moves a check when its low-to-high swing changes the median by 5%


def _oat_range(p) -> tuple[float, float]:
    """The 10th and 90th percentiles of the prior, or for a fixed parameter half and one and
    a half times its default, inside its support."""
    lo, hi, _, _ = p.support()
    if p.uncertain:
        a, b = (float(v) for v in p.prior.ppf(np.array([0.1, 0.9]), p.default))
    elif p.default != 0:
        a, b = sorted((0.5 * p.default, 1.5 * p.default))
    else:
        a, b = 0.0, 0.5
    return float(np.clip(a, lo, hi)), float(np.clip(b, lo, hi))


def one_at_a_time(claims: list[Claim] | None = None, runs: int = 20, seed: int = 1,
                  posterior=None, varied: set[str] | None = None, workers: int = 1,
                  progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """A reduced one-at-a-time check of every stated driver that the runs do not vary
    (the attribution cannot see those) and that no scenario of the check sets itself (that
    is the check's lever, e.g. ``branch_coordination`` in ``poor-coordination``): the
    check's median effect with the driver at the low and at the high end of
    :func:`_oat_range`, all settings in one paired ensemble.
    ``moves``: the swing is at least ``OAT_MOVES`` of the larger median (and not zero)."""
    from resurgence.calibration.posterior import full_specs
    from resurgence.model.sim import all_params
    from resurgence.runs.ensemble import run_ensemble
    from resurgence.runs.prepare import resolve

    specs = {p.name: p for p in full_specs()}
    model = {p.name for p in all_params()}  # observation-model rates never act on a run
    varied = varied if varied is not None else (set(posterior.draws.columns) if posterior
                                                else set())
    def lever(c: Claim, k: str) -> bool:  # a scenario of the check sets it: not a driver
        return any(k in resolve(n).params for n in (c.a, c.b) if n)

    todo = [(c, k) for c in (claims if claims is not None else CLAIMS) for k in c.drivers
            if k not in varied and k in model and not lever(c, k)]
    scs: dict[str, Any] = {}
    for c, k in todo:
        for tag, v in zip(("lo", "hi"), _oat_range(specs[k]), strict=True):
            for n in (c.a, c.b):
                if n and f"{n}@{k}:{tag}" not in scs:
                    base = resolve(n)
                    scs[f"{n}@{k}:{tag}"] = base.model_copy(update={
                        "name": f"{n}@{k}:{tag}", "params": {**base.params, k: v}})
    if not scs:
        return pd.DataFrame(columns=["claim", "parameter", "low", "high", "effect_low",
                                     "effect_high", "moves"])
    res = run_ensemble(list(scs.values()), runs, seed, posterior=posterior, workers=workers,
                       progress=progress)
    rows = []
    for c, k in todo:
        lo, hi = _oat_range(specs[k])
        mids = []
        for tag in ("lo", "hi"):
            cc = dataclasses.replace(c, a=f"{c.a}@{k}:{tag}" if c.a else None, b=f"{c.b}@{k}:{tag}")
            mids.append(check(cc, res.outcomes)[1]["mid"])
        swing = abs(mids[1] - mids[0])
        moves = swing > 1e-12 and swing >= OAT_MOVES * max(abs(mids[0]), abs(mids[1]))
        rows.append({"claim": c.id, "parameter": k, "low": lo, "high": hi,
                     "effect_low": mids[0], "effect_high": mids[1], "moves": bool(moves)})
    return pd.DataFrame(rows)


def oat_map(table: pd.DataFrame) -> dict[tuple[str, str], bool]:
    """{(claim id, parameter): moves} from :func:`one_at_a_time`'s table."""
    return {(r.claim, r.parameter): bool(r.moves) for r in table.itertuples()}
