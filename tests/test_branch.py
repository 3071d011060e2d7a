"""Shared history once: branching scenarios at their first divergence is bit-identical."""

from __future__ import annotations

import numpy as np

from resurgence.analysis.brief import all_scenarios
from resurgence.calibration.posterior import resolve_posterior
from resurgence.runs.branch import divergence, simulate_branched
from resurgence.runs.ensemble import resolve, run_ensemble, scenario_params, simulate_spun, spun_up
from resurgence.scenario.drivers import compile_drivers


def test_branched_equals_each_scenario_alone(theatre) -> None:
    post = resolve_posterior("shipped")
    scs = [resolve(s, 30) for s in all_scenarios()]  # the brief's 17
    assert len(scs) >= 15 and len({s.start for s in scs}) == 1
    ids = np.arange(3, 9)
    ps = post.paramset(ids)
    items = [(i, sc, scenario_params(sc, ps)) for i, sc in enumerate(scs)]
    got = dict(simulate_branched(items, theatre, ids, 7, post.start))
    assert sorted(got) == list(range(len(scs)))
    shared = 0
    ref = compile_drivers(spun_up(scs[0], post.start)[0], theatre)
    for i, sc, p in items:
        want = simulate_spun(sc, theatre, p, ids, 7, post.start)
        assert set(got[i]) == set(want)
        for k in want:
            np.testing.assert_array_equal(got[i][k], want[k], err_msg=f"{sc.name} {k}")
        shared += divergence(ref, compile_drivers(spun_up(sc, post.start)[0], theatre)) > 0
    assert shared >= 5  # most scenarios share the spin-up from 2018


def test_ensemble_of_identical_scenarios_differs_by_zero(theatre) -> None:
    a = resolve("announced-2500", 12)
    b = a.model_copy(update={"name": "copy"})
    res = run_ensemble([a, b], 7, 3, chunk_size=3, posterior=resolve_posterior("shipped"))
    for k, v in res.outcomes["announced-2500"].items():
        np.testing.assert_array_equal(v, res.outcomes["copy"][k])
