"""Simulation-based calibration (SBC; Talts, Betancourt, Simpson, Vehtari & Gelman 2018) of
the ABC-SMC inference (:func:`resurgence.calibration.inference.abc_smc`).

If the inference is right, then for theta drawn from the prior, data simulated from theta
and a posterior fitted to those data, the rank of theta among ``L`` posterior draws is
uniform on 0..L, for every parameter. A posterior that is too narrow (under-dispersed)
puts the truth in the tails too often: a U-shaped rank histogram, central intervals that
cover less than their level. One too wide (over-dispersed): a hump, over-coverage. One
that is biased: ranks piled on one side.

:func:`rank_test` judges ranks by a chi-square test on ``bins`` equal bins and a
Kolmogorov-Smirnov test of the normalised ranks, and reports the coverage of the central
50% and 80% posterior intervals and the share of ranks in the outer 10% on each side.
:func:`sbc` runs the loop for any prior and fit; :func:`simulator_fit` builds the fit of the
real model: one run of the simulator at theta (the other parameters at their defaults),
synthetic observations drawn from the observation model (negative-binomial noise around
each row's expectation), and ``abc_smc`` on those rows exactly as :func:`calibrate` scores
the real ones. ``benchmarks/sbc.py`` runs it at a useful size; the tests run a reduced one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
from scipy import stats

from resurgence.calibration import obsmodel
from resurgence.calibration.cases import Case, get_case
from resurgence.calibration.inference import Space, _score, abc_smc, history_runs, history_setup
from resurgence.calibration.posterior import full_specs
from resurgence.core.errors import ArgumentError
from resurgence.model.params import ParamSet

#: parameters of the iraq-2020 case that the observations identify (each has a series that
#: measures it almost directly): the IS attack rate (CTC and UCDP counts), Musings'
#: reporting rate, the militia base-attack rate (the Knights counts), UCDP deaths per attack
IDENTIFIABLE: tuple[str, ...] = ("attack_rate", "rate_musings", "attack_rate_base",
                                 "sb_deaths_per_attack")


def ranks(truth: np.ndarray, draws: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Rank of each replicate's true value among its ``L`` posterior draws, per parameter
    (0..L; ties broken at random). ``truth``: (N, p); ``draws``: N arrays (L, p)."""
    out = np.empty(truth.shape, dtype=int)
    for i, (t, d) in enumerate(zip(truth, draws, strict=True)):
        below = (d < t[None, :]).sum(axis=0)
        ties = (d == t[None, :]).sum(axis=0)
        out[i] = below + np.array([rng.integers(0, k + 1) for k in ties])
    return out


def coverage(truth: np.ndarray, draws: Sequence[np.ndarray], level: float) -> np.ndarray:
    """Share of replicates whose true value lies in the central ``level`` posterior
    interval, per parameter."""
    q = (1 - level) / 2
    inside = [(np.quantile(d, q, axis=0) <= t) & (t <= np.quantile(d, 1 - q, axis=0))
              for t, d in zip(truth, draws, strict=True)]
    return np.mean(inside, axis=0)


@dataclass
class SBCResult:
    names: list[str]
    truth: np.ndarray  # (N, p)
    ranks: np.ndarray  # (N, p), 0..L
    L: int
    coverage50: np.ndarray
    coverage80: np.ndarray
    settings: dict = dataclasses.field(default_factory=dict)

    def table(self, bins: int = 10) -> pd.DataFrame:
        return rank_test(self.ranks, self.L, self.names, self.coverage50, self.coverage80,
                         bins=bins)


def rank_test(r: np.ndarray, L: int, names: Sequence[str], cov50: np.ndarray | None = None,
              cov80: np.ndarray | None = None, bins: int = 10) -> pd.DataFrame:
    """Per parameter: chi-square and KS tests of uniform ranks, coverage, tail shares, the
    mean normalised rank (0.5 if unbiased; above: the truth tends to lie above the
    posterior, i.e. the posterior is biased low), and a reading of the shape."""
    n = len(r)
    rows = []
    for j, name in enumerate(names):
        x = r[:, j]
        u = (x + 0.5) / (L + 1)  # normalised ranks in (0, 1)
        counts = np.histogram(u, bins=bins, range=(0.0, 1.0))[0]
        chi2, p_chi2 = stats.chisquare(counts)
        ks = stats.kstest(u, "uniform")
        tails = float(np.mean((u < 0.1) | (u > 0.9)))
        c50 = float(cov50[j]) if cov50 is not None else np.nan
        c80 = float(cov80[j]) if cov80 is not None else np.nan
        se50, se80 = np.sqrt(0.25 / n), np.sqrt(0.16 / n)
        off = (np.isfinite(c80) and abs(c80 - 0.8) > 3 * se80) or (
            np.isfinite(c50) and abs(c50 - 0.5) > 3 * se50)
        bias = u.mean() - 0.5
        if min(p_chi2, ks.pvalue) >= 0.01 and not off:
            shape = "uniform (no evidence against calibration)"
        elif abs(bias) > 3 * np.sqrt(1 / 12 / n) and abs(bias) > 0.08:
            shape = "biased: truth " + ("above" if bias > 0 else "below") + " the posterior"
        elif tails > 0.2 + 2 * np.sqrt(0.16 / n) or (np.isfinite(c80) and c80 < 0.8 - 2 * se80):
            shape = "under-dispersed (posterior too narrow)"
        elif tails < 0.2 - 2 * np.sqrt(0.16 / n) or (np.isfinite(c80) and c80 > 0.8 + 2 * se80):
            shape = "over-dispersed (posterior too wide)"
        else:
            shape = "non-uniform"
        rows.append({"parameter": name, "replicates": n, "draws": L,
                     "chi2": float(chi2), "p_chi2": float(p_chi2), "ks": float(ks.statistic),
                     "p_ks": float(ks.pvalue), "coverage50": c50, "coverage80": c80,
                     "tails_10pct_each_side": tails, "mean_rank": float(u.mean()),
                     "reading": shape})
    return pd.DataFrame(rows)


def calibrated(table: pd.DataFrame, alpha: float = 0.01) -> bool:
    """True when no parameter's ranks reject uniformity at ``alpha`` (chi-square and KS,
    Bonferroni over the parameters) and every central 50% and 80% interval covers within
    three binomial standard errors of its level."""
    a = alpha / max(len(table), 1)
    n = table["replicates"].to_numpy(float)
    ok50 = np.abs(table["coverage50"] - 0.5) <= 3 * np.sqrt(0.25 / n)
    ok80 = np.abs(table["coverage80"] - 0.8) <= 3 * np.sqrt(0.16 / n)
    return bool((table["p_chi2"] >= a).all() and (table["p_ks"] >= a).all()
                and ok50.all() and ok80.all())


Fit = Callable[[np.ndarray, int], np.ndarray]


Mapper = Callable[[Fit, list[tuple[np.ndarray, int]]], list[np.ndarray]]


def sbc(space: Space, fit: Fit, replicates: int, *, draws: int = 49, seed: int = 0,
        progress: Callable[[int], None] | None = None, mapper: Mapper | None = None,
        ) -> SBCResult:
    """The SBC loop: theta_i from the prior (``space``), ``fit(theta_i, i)`` returns
    posterior draws (n, p) for data simulated at theta_i; ``draws`` of them, picked at
    random without replacement, give the rank. ``mapper(fit, [(theta_i, i), ...])`` may
    run the fits elsewhere (a process pool); the result does not depend on it."""
    if replicates < 2 or draws < 1:
        raise ArgumentError(f"field 'replicates' = {replicates} / 'draws' = {draws}: expected "
                            "at least 2 replicates and 1 draw")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**30,)))
    truth = space.from_u(rng.random((replicates, len(space.params))))
    if mapper is not None:
        fitted = mapper(fit, [(truth[i], i) for i in range(replicates)])
    else:
        fitted = []
        for i in range(replicates):
            fitted.append(fit(truth[i], i))
            if progress:
                progress(i + 1)
    post = []
    for d in fitted:
        d = np.asarray(d, float)
        if len(d) < draws:
            raise ArgumentError(f"field 'draws' = {draws}: the fit returned only {len(d)}")
        post.append(d[rng.choice(len(d), draws, replace=False)])
    return SBCResult([p.name for p in space.params], truth, ranks(truth, post, rng), draws,
                     coverage(truth, post, 0.5), coverage(truth, post, 0.8))


def _expected(arrays, params: ParamSet, run_ids, *, design: obsmodel.ObsDesign) -> np.ndarray:
    return obsmodel.expected(design, arrays, params.values)


def simulator_fit(case: str | Case = "iraq-2020", names: Sequence[str] = IDENTIFIABLE, *,
                  until: dt.date | None = None, particles: int = 64, generations: int = 4,
                  alpha: float = 0.5, max_steps: int = 3, seed: int = 1, workers: int = 1,
                  simulate_noise: bool = False) -> tuple[Space, Fit]:
    """The prior space of ``names`` and the fit of the real model for :func:`sbc`: one
    simulator run at theta (others at their defaults), observations drawn around the
    observation model's expectation for every row the case uses, ABC-SMC on them, scored
    :func:`calibrate` did before the SBC finding or, with ``simulate_noise`` (as it does now), on observations drawn around each
    simulation's expectation (standard ABC)."""
    case = get_case(case) if isinstance(case, str) else case
    sc, design = history_setup(case, until or case.until)
    specs = {p.name: p for p in full_specs()}
    unknown = [n for n in names if n not in specs or not specs[n].uncertain]
    if unknown:
        raise ArgumentError(f"field 'names' = {unknown[0]!r}: not an uncertain parameter")
    cal = [specs[n] for n in names]
    space = Space(cal, [case.prior_overrides.get(p.name, p.prior) for p in cal])

    def params_at(theta: np.ndarray) -> ParamSet:
        ps = ParamSet.defaults(full_specs(), len(theta))
        return ps.with_overrides({p.name: theta[:, j] for j, p in enumerate(cal)})

    def fit(theta: np.ndarray, i: int) -> np.ndarray:
        # the synthetic truth: run 10**9 + i; observation noise from its own stream
        mu = np.concatenate(history_runs(sc, params_at(theta[None, :]), np.array([10**9 + i]),
                                         seed, partial(_expected, design=design),
                                         theatre=case.theatre, workers=1))[0]
        u = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**29, i))).random(len(mu))
        y = obsmodel.draw(mu, design.dispersion, u).astype(float)
        rows = design.rows.copy()
        rows["value"] = y
        synth = dataclasses.replace(design, rows=rows)
        score = partial(_score, design=synth, seed=seed, simulate_noise=simulate_noise)
        offset = (i + 1) * 10**6  # the fit's runs: their own random streams per replicate

        def simulate(th: np.ndarray, first_run: int) -> np.ndarray:
            ids = offset + first_run + np.arange(len(th))
            return np.concatenate(history_runs(sc, params_at(th), ids, seed, score,
                                               theatre=case.theatre, workers=workers))

        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**28, i)))
        theta_post, _ = abc_smc(space, simulate, rng, particles=particles,
                                generations=generations, alpha=alpha, max_steps=max_steps)
        return theta_post

    return space, fit


def toy_fit(*, simulate_noise: bool, particles: int = 100, generations: int = 6,
            dispersion: float = 20.0, weeks: int = 52, max_steps: int = 3) -> tuple[Space, Fit]:
    """A cheap problem for :func:`sbc` with the real ``abc_smc`` and the real observation
    model: weekly IS attacks ~ Poisson(level x exp(trend x years)), observed as monthly
    totals with negative-binomial noise (size ``dispersion``), scored by
    :func:`obsmodel.distance`. ``simulate_noise=False`` scores the simulated trajectory's
    *expected* observations, as :func:`calibrate` did before; ``True`` also draws the observation
    noise in every simulation (standard ABC, exact as the tolerance goes to 0)."""
    from resurgence.model.params import Param, Prior, lognormal

    months = int(np.ceil(weeks * 12 / 52))
    month = np.minimum(np.arange(weeks) * 12 // 52, months - 1)
    weights = np.zeros((weeks, months))
    weights[np.arange(weeks), month] = 1.0
    rows = pd.DataFrame({"value": np.zeros(months), "group": "toy"})
    design = obsmodel.ObsDesign(
        rows=rows, weights=weights, region_index=np.full(months, -1),
        quantity=np.array(["is"] * months), rate=np.array(["rate_toy"] * months),
        background=np.array([""] * months), months=np.ones(months),
        dispersion=np.full(months, float(dispersion)))
    params = [Param("level", 30.0, "attacks/week", "IS attacks per week mid-period",
                    lognormal(30, 0.5)),
              Param("trend", 0.0, "1/year", "log growth of attacks per year",
                    Prior("normal", 0.0, 0.5))]
    space = Space(params, [p.prior for p in params])
    t = np.arange(weeks) / 52 - 0.5

    def expected(theta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lam = theta[:, :1] * np.exp(theta[:, 1:2] * t[None, :])
        x = rng.poisson(lam).astype(float)[:, :, None]
        return obsmodel.expected(design, {"is_attacks": x}, {"rate_toy": np.ones(len(theta))})

    def fit(theta: np.ndarray, i: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence(1000, spawn_key=(i,)))
        mu = expected(theta[None, :], rng)[0]
        y = obsmodel.draw(mu, design.dispersion, rng.random(months)).astype(float)
        synth = dataclasses.replace(design, rows=rows.assign(value=y))

        def simulate(th: np.ndarray, first_run: int) -> np.ndarray:
            m = expected(th, rng)
            if simulate_noise:
                m = obsmodel.draw(m, design.dispersion[None, :], rng.random(m.shape)).astype(float)
            return obsmodel.distance(synth, m)

        return abc_smc(space, simulate, rng, particles=particles, generations=generations,
                       max_steps=max_steps)[0]

    return space, fit
