"""The engine's randomness contract (resurgence.engine, resurgence.ensemble).

One root seed; run ``i`` draws from ``SeedSequence(root).spawn(n)[i]``; a run's numbers
depend on its index only (not on chunk, worker or horizon), and scenarios of one ensemble
share their uniforms (common random numbers).
"""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.core.rng import run_generator
from resurgence.model.sim import Sim, default_params, simulate_chunk
from resurgence.results.outcomes import OUTCOMES
from resurgence.runs.ensemble import resolve, run_ensemble
from resurgence.scenario.schema import ScenarioError

RUNS = 24
WEEKS = 30


def _sim(theatre, scenario="stay-3000", run_ids=range(RUNS), seed=7, weeks=WEEKS, params=None):
    sc = resolve(scenario, weeks)
    ids = np.asarray(list(run_ids))
    return simulate_chunk(sc, theatre, params or default_params(len(ids)), ids, seed)


def _assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.fixture(scope="module")
def ref(theatre):
    return _sim(theatre)


def test_same_seed_is_bit_identical(theatre, ref) -> None:
    again = _sim(theatre)
    _assert_same(ref, again)
    assert ref["is_attacks"].shape == (RUNS, WEEKS, theatre.n_regions)
    assert ref["us_troops"].shape == (RUNS, WEEKS)
    assert ref["is_attacks"].sum() > 0


def test_different_seed_differs(theatre, ref) -> None:
    other = _sim(theatre, seed=8)
    for k in ("is_attacks", "is_fighters", "militia_attacks_us", "is_removed"):
        assert not np.array_equal(ref[k], other[k]), k
    # deterministic series (no randomness feeds them) are equal whatever the seed
    np.testing.assert_array_equal(ref["us_troops"], other["us_troops"])


def test_run_generator_is_the_spawned_child(theatre) -> None:
    for root in (0, 7, 2020, 2**40 + 3):
        children = np.random.SeedSequence(root).spawn(12)
        for i in (0, 1, 5, 11):
            want = np.random.Generator(np.random.PCG64(children[i])).random(64)
            np.testing.assert_array_equal(run_generator(root, i).random(64), want)
    assert not np.array_equal(run_generator(7, 0).random(8), run_generator(7, 1).random(8))


def test_each_run_draws_its_own_block(theatre) -> None:
    """The uniforms of run i in a chunk are run i's stream, row by row (week-major)."""
    sc = resolve("stay-3000", 6)
    ids = [3, 0, 17]
    sim = Sim(sc, theatre, default_params(3), ids, 5)
    sim._seed = 5
    sim.draw_uniforms()
    assert sim.U.shape == (3, 6, sim.columns) and sim.U.dtype == np.float32
    for row, run in enumerate(ids):
        want = run_generator(5, run).random((6, sim.columns), dtype=np.float32)
        np.testing.assert_array_equal(sim.U[row], want)


def test_chunk_invariance_in_the_engine(theatre, ref) -> None:
    parts = [_sim(theatre, run_ids=r) for r in (range(0, 5), range(5, 6), range(6, RUNS))]
    joined = {k: np.concatenate([p[k] for p in parts]) for k in ref}
    _assert_same(ref, joined)
    # a single run alone, and runs in another order, equal their rows of the big chunk
    alone = _sim(theatre, run_ids=[13])
    _assert_same({k: v[13:14] for k, v in ref.items()}, alone)
    rev = _sim(theatre, run_ids=range(RUNS - 1, -1, -1))
    _assert_same(ref, {k: v[::-1] for k, v in rev.items()})


def test_runs_are_independent_of_each_others_parameters(theatre, ref) -> None:
    """Changing run 4's parameters changes run 4 only."""
    params = default_params(RUNS)
    att = params.values["attack_rate"].copy()
    att[4] *= 3
    out = _sim(theatre, params=params.with_overrides({"attack_rate": att}))
    others = np.arange(RUNS) != 4
    for k in ref:
        np.testing.assert_array_equal(out[k][others], ref[k][others], err_msg=k)
    assert out["is_attacks"][4].sum() > 2 * ref["is_attacks"][4].sum()


def _summaries_equal(a, b) -> None:
    for name in a.outcomes:
        for s in OUTCOMES:
            np.testing.assert_array_equal(a.outcomes[name][s.name], b.outcomes[name][s.name],
                                          err_msg=f"{name}.{s.name}")


def test_chunk_size_does_not_change_ensemble_results() -> None:
    kw = dict(runs=30, seed=3, weeks=26)
    one = run_ensemble(["stay-3000", "full-withdrawal"], chunk_size=250, **kw)
    many = run_ensemble(["stay-3000", "full-withdrawal"], chunk_size=7, **kw)
    _summaries_equal(one, many)
    assert one.outcomes["stay-3000"]["is_attacks_y1"].shape == (30,)


def test_worker_count_does_not_change_ensemble_results() -> None:
    kw = dict(runs=24, seed=9, weeks=20, chunk_size=6)
    serial = run_ensemble(["announced-2500", "escalation"], workers=1, **kw)
    parallel = run_ensemble(["announced-2500", "escalation"], workers=2, **kw)
    _summaries_equal(serial, parallel)


def test_ensemble_summaries_match_the_engine(theatre) -> None:
    """run_ensemble's per-run summary equals the one computed from simulate_chunk arrays."""
    res = run_ensemble(["stay-3000"], 10, 7, weeks=WEEKS, chunk_size=4)
    arr = _sim(theatre, run_ids=range(10))
    want = arr["is_attacks"][:, :52].sum(axis=(1, 2), dtype=np.float64)
    np.testing.assert_array_equal(res.outcomes["stay-3000"]["is_attacks_y1"], want)


# --- common random numbers -------------------------------------------------------------------

def test_identical_scenarios_have_zero_paired_differences(variant) -> None:
    twin = variant("stay-3000", "stay-3000-twin")
    res = run_ensemble(["stay-3000", twin], 40, 11, weeks=52)
    a, b = res.outcomes["stay-3000"], res.outcomes["stay-3000-twin"]
    for s in OUTCOMES:
        np.testing.assert_array_equal(b[s.name] - a[s.name], 0.0, err_msg=s.name)
    assert np.std(a["is_attacks_y1"]) > 0  # runs differ from each other, just not across twins


def test_paired_differences_are_much_tighter_than_unpaired() -> None:
    paired = run_ensemble(["stay-3000", "announced-2500"], 100, 1, weeks=52)
    other_seed = run_ensemble(["announced-2500"], 100, 2, weeks=52)
    a = paired.outcomes["stay-3000"]
    b = paired.outcomes["announced-2500"]
    c = other_seed.outcomes["announced-2500"]
    for name in ("is_attacks_y1", "is_fighters_end", "is_villages_end", "militia_attacks_us",
                 "iran_influence_end", "pressure_mean", "host_strength_mean"):
        sd_paired, sd_unpaired = np.std(b[name] - a[name]), np.std(c[name] - a[name])
        assert sd_unpaired > 0, name
        assert sd_paired < 0.25 * sd_unpaired, (name, sd_paired, sd_unpaired)
    # and the paired effect has the expected sign in (nearly) every run: fewer troops, more attacks
    d = b["is_attacks_y1"] - a["is_attacks_y1"]
    assert np.mean(d > 0) > 0.9


def test_horizon_prefix_property(theatre) -> None:
    """A 52-week run equals the first 52 weeks of a 104-week run, for every metric."""
    short = _sim(theatre, "full-withdrawal", run_ids=range(12), weeks=52)
    long = _sim(theatre, "full-withdrawal", run_ids=range(12), weeks=104)
    assert long["is_attacks"].shape[1] == 104
    _assert_same(short, {k: v[:, :52] for k, v in long.items()})


def test_ensemble_rejects_mismatched_horizons(variant) -> None:
    longer = variant("stay-3000", "longer", weeks=60)
    with pytest.raises(ScenarioError, match="share 'start' and 'weeks'"):
        run_ensemble(["stay-3000", longer], 2, 1)


def test_distinct_scenarios_sharing_a_name_are_not_silently_merged(variant) -> None:
    clash = variant("full-withdrawal", "stay-3000")  # a different policy under the same name
    assert clash.name == "stay-3000"
    with pytest.raises(ScenarioError, match="distinct names: 'stay-3000' appears twice") as e:
        run_ensemble(["stay-3000", clash], 8, 1, weeks=40)
    assert "\n" not in str(e.value)
