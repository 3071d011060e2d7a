"""Statistical baseline: one structural time-series model per source, fitted in seconds.

Each source (UCDP state-based deaths, UCDP events, Musings incidents, CTC Sentinel IS
attacks) has its own monthly log intensity ``x_t = mu_t + u_t`` (Harvey 1989):

- a smooth damped trend ``mu``: ``mu_{t+1} = mu_t + b_t + eta_t`` with a slope that decays,
  ``b_{t+1} = phi b_t + zeta_t`` (Gardner & McKenzie 1985), and a level innovation ``eta``
  held small by its prior (the trend moves through its slope, not month-to-month jumps);
- a transient deviation ``u``, AR(1): ``u_{t+1} = rho u_t + eps_t`` (a campaign, a quiet
  month), which the forecast lets decay instead of carrying forward;
- known breaks (:data:`BREAKS`, UCDP only): in June-August 2014 (the fall of Mosul) and
  July-December 2017 (the end of the caliphate's territory: Mosul, Tal Afar, Hawija, al-Qaim,
  victory declared on 9 December) UCDP deaths fell tenfold within three months; there the
  level moves with its own, fitted, standard deviation, so that the break is neither read as
  a trend nor inflates the noise of the other months. Musings incidents show no such break
  (306 in September 2017, 285 in October): their decline is the trend.

An observation of ``n`` months with total ``Y`` is read as ``log(Y / n) = mean_j x_j + e``
over its months, with ``var e = 1/(Y+1) + s^2 * 30.44 / days``: the Poisson part and the
source's extra-Poisson noise, aggregated from the monthly level so that it shrinks with the
period's length (the Poisson-lognormal model, linearised on the log scale). Each source
contributes one non-overlapping partition of months (:func:`partition`): complete months
first, then quarters, then the remainder of a year where its months are missing; weekly
snapshots are never levels. Forecast paths are monthly and a quarter or year is the sum of
its months.

Why one model per source and not one shared latent intensity (the design before): the
sources do not move together. From January to April 2018 UCDP events went from 11 to 28 a
month while Musings incidents kept falling; a shared latent with slowly moving reporting
ratios was pulled up by UCDP and forecast Musings above its last level just before it
halved, and the same shared trend imposed the 2018-19 decline of deaths and Musings on
events, which stayed flat. The sources are tied together only where one has no data of its
own: the CTC Sentinel scale (the model's ``is_attacks`` scale) before CTC published anything
(May 2020) is bridged from the other sources through prior reporting ratios
(:data:`CTC_BRIDGE`).

The fit window is the :data:`resurgence.calibration.periods.WINDOW_MONTHS` months before the origin (each source from its
first row inside it): five years, so that the trend sees the decline since 2014-15 (the
window used to be 12 months, in which Musings had four months and a quarter).

Parameters of a source (seven: the sds of the level, slope, observation, break and transient
innovations, the damping and the persistence) are fitted by penalised maximum likelihood
(weak priors: a posterior mode) with statsmodels' Kalman filter. The forecast carries their
uncertainty by sampling importance resampling: proposals from the Laplace approximation
(inverse numerical Hessian, a little widened), weighted by the exact penalised likelihood
over the proposal density (the Gaussian approximation of weakly identified noise scales has
too heavy a tail towards large ones); then the state at the origin from its filtered
distribution under each draw, the paths forward, and Poisson-lognormal observation noise.

Why statsmodels: on the log scale the model is linear-Gaussian, so the state-space Kalman
filter (``MLEModel``) gives the exact likelihood, the filtered state at the origin and
missing months for free; a fit of all sources takes about a second, so the backtest refits
at every origin. PyMC or NumPyro would give full posteriors but cost minutes of compilation
and sampling per origin on two cores.
"""

from __future__ import annotations

import datetime as dt
import functools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.tools.numdiff import approx_hess3
from statsmodels.tsa.statespace.mlemodel import MLEModel

from resurgence.calibration.obsmodel import DAYS_PER_MONTH
from resurgence.calibration.periods import COLS, partition, window_start
from resurgence.calibration.periods import add_months as _add_months
from resurgence.calibration.periods import month_index as _month_index
from resurgence.core.errors import ArgumentError

LAGS = 12  # longest aggregate: a year
#: priors (median, sd of the log) of the monthly innovation sds: a smooth trend (level
#: innovations small, the slope carries the movement), breaks free to be large
PRIOR = {"sd_level": (0.02, 1.0), "sd_slope": (0.01, 1.0), "sd_break": (0.5, 1.0)}
#: observation noise prior by source (CTC: a curated count)
OBS_PRIOR = {"ged_sb_deaths": (0.3, 1.0), "ged_sb_events": (0.3, 1.0), "incidents": (0.2, 1.0),
             "is_attacks_ctc": (0.1, 1.0)}
#: the slope decays by a fitted factor phi a month; prior (median, sd) on logit(phi): half-life
#: of a trend about 14 months, widely uncertain
DAMPING_PRIOR = (0.95, 1.5)
#: the transient deviation: innovation sd (median, sd of the log) and monthly persistence rho
#: (median, sd of the logit)
TRANSIENT_PRIOR = (0.15, 1.0)
PERSISTENCE_PRIOR = (0.6, 1.5)
#: known breaks (first month, last month) and the sources that show them
BREAKS: list[tuple[dt.date, dt.date]] = [(dt.date(2014, 6, 1), dt.date(2014, 8, 1)),
                                         (dt.date(2017, 7, 1), dt.date(2017, 12, 1))]
BREAK_SOURCES = ("ged_sb_deaths", "ged_sb_events")
#: the CTC scale where CTC has no row of its own: each other source's count per CTC attack
#: (median, log-sd); the implied CTC levels are pooled by precision. These are the priors of
#: the earlier shared-latent baseline, set with the 2018-19 CTC counts in view (Musings/CTC
#: was 1.6 in 2018, deaths/CTC 0.44 and events/CTC 0.14 in 2019): backtest scores on the
#: CTC scale at origins before June 2020 are therefore not vintage-clean
CTC_BRIDGE = {"incidents": (1.5, 0.5), "ged_sb_deaths": (0.4, 0.8), "ged_sb_events": (0.15, 0.8)}


THETA = ("log_sd_level", "log_sd_slope", "log_sd_obs", "log_sd_break", "logit_damping",
         "log_sd_transient", "logit_persistence")
I_LEVEL, I_SLOPE, I_OBS, I_BREAK, I_DAMP, I_TRANS, I_PERS = range(7)


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def _prior_mu(col: str) -> np.ndarray:
    return np.array([np.log(PRIOR["sd_level"][0]), np.log(PRIOR["sd_slope"][0]),
                     np.log(OBS_PRIOR[col][0]), np.log(PRIOR["sd_break"][0]),
                     _logit(DAMPING_PRIOR[0]), np.log(TRANSIENT_PRIOR[0]),
                     _logit(PERSISTENCE_PRIOR[0])])


def _prior_sd(col: str) -> np.ndarray:
    return np.array([PRIOR["sd_level"][1], PRIOR["sd_slope"][1], OBS_PRIOR[col][1],
                     PRIOR["sd_break"][1], DAMPING_PRIOR[1], TRANSIENT_PRIOR[1],
                     PERSISTENCE_PRIOR[1]])


class SourceTrend(MLEModel):
    """One source's monthly log intensity ``x_t = mu_t + u_t``: a damped local linear trend
    ``mu`` and a transient AR(1) deviation ``u``, observed through aggregates of up to twelve
    months. State: ``mu_t..mu_{t-L+1}``, the slope, ``u_t..u_{t-L+1}``."""

    def __init__(self, part: pd.DataFrame, nmonths: int, column: str, first: dt.date):
        self.column = column
        self._break = np.zeros(nmonths, bool)  # the level moves into month t+1 with the break sd
        for a, b in (BREAKS if column in BREAK_SOURCES else []):
            for t in range(max(0, _month_index(pd.Timestamp(a), first) - 1),
                           min(nmonths, _month_index(pd.Timestamp(b), first))):
                self._break[t] = True
        lags = max(1, max((max(m) - min(m) + 1 for m in part["months"]), default=1))
        self.lags, k = lags, 2 * lags + 1
        L, U = lags, lags + 1  # slope, first transient state
        endog = np.full(nmonths, np.nan)
        self._known = np.zeros(nmonths)
        self._scale = np.ones(nmonths)
        design = np.zeros((1, k, nmonths))
        for _, r in part.iterrows():
            t = max(r["months"])
            endog[t] = np.log(r["value"] / len(r["months"]))
            self._known[t] = 1.0 / (r["value"] + 1.0)
            self._scale[t] = DAYS_PER_MONTH / r["days"]
            for m in r["months"]:
                design[0, t - m, t] = design[0, U + t - m, t] = 1.0 / len(r["months"])
        super().__init__(endog, k_states=k, k_posdef=3)
        self["design"] = design
        T = np.zeros((k, k))
        T[0, 0] = T[0, L] = 1.0
        for j in range(1, lags):
            T[j, j - 1] = 1.0
            T[U + j, U + j - 1] = 1.0
        self["transition"] = T
        R = np.zeros((k, 3))
        R[0, 0] = R[L, 1] = R[U, 2] = 1.0
        self["selection"] = R
        self["obs_cov"] = np.zeros((1, 1, nmonths))
        row0 = part.sort_values("months").iloc[0]
        a0 = np.zeros(k)
        a0[:lags] = np.log(row0["value"] / len(row0["months"]))
        P0 = np.eye(k)
        P0[L, L] = 0.05 ** 2
        P0[U:, U:] = TRANSIENT_PRIOR[0] ** 2 * np.eye(lags)
        self.ssm.initialize_known(a0, P0)

    @property
    def param_names(self) -> list[str]:
        return list(THETA)

    @property
    def start_params(self) -> np.ndarray:
        return _prior_mu(self.column)

    def update(self, params, **kwargs):
        params = super().update(params, **kwargs)
        L, U = self.lags, self.lags + 1
        T = np.real(self["transition"]).astype(params.dtype)
        T[L, L] = 1.0 / (1.0 + np.exp(-params[I_DAMP]))
        T[U, U] = 1.0 / (1.0 + np.exp(-params[I_PERS]))
        self["transition"] = T
        sd = np.exp(params[[I_LEVEL, I_SLOPE, I_OBS, I_BREAK, I_TRANS]])
        Q = np.zeros((3, 3, self.nobs), dtype=params.dtype)
        Q[0, 0] = np.where(self._break, sd[3] ** 2, sd[0] ** 2)
        Q[1, 1] = sd[1] ** 2
        Q[2, 2] = sd[4] ** 2
        self["state_cov"] = Q
        self["obs_cov"] = (self._known + sd[2] ** 2 * self._scale)[None, None, :]

    def log_prior(self, params) -> float:
        return -0.5 * np.sum(((params - _prior_mu(self.column)) / _prior_sd(self.column)) ** 2)

    def loglike(self, params, *args, **kwargs):
        return super().loglike(params, *args, **kwargs) + self.log_prior(params)


@dataclass
class SourceFit:
    column: str
    offset: int  # the model's month 0, in months from the baseline's first month
    model: SourceTrend
    params: np.ndarray  # posterior mode (log sds, logits)
    cov: np.ndarray  # Laplace covariance
    ess: float = float("nan")  # effective sample size of the last importance resampling

    def sd(self) -> dict[str, float]:
        """The fitted parameters (mode) on their natural scale."""
        th = self.params
        inv = 1.0 / (1.0 + np.exp(-th))
        return {"sd_level": round(float(np.exp(th[I_LEVEL])), 4),
                "sd_slope": round(float(np.exp(th[I_SLOPE])), 4),
                "sd_obs": round(float(np.exp(th[I_OBS])), 4),
                "sd_break": round(float(np.exp(th[I_BREAK])), 4),
                "damping": round(float(inv[I_DAMP]), 4),
                "sd_transient": round(float(np.exp(th[I_TRANS])), 4),
                "persistence": round(float(inv[I_PERS]), 4)}


@dataclass
class BaselineFit:
    origin: dt.date  # first month forecast
    first: dt.date  # first month of the fit window
    part: pd.DataFrame
    sources: dict[str, SourceFit] = field(default_factory=dict)

    def sd(self) -> dict[str, dict[str, float]]:
        return {c: f.sd() for c, f in self.sources.items()}


def _fit_source(part: pd.DataFrame, col: str, nmonths: int, first: dt.date) -> SourceFit:
    p = part[part["column"] == col]
    offset = min(min(m) for m in p["months"])
    p = p.assign(months=[tuple(x - offset for x in m) for m in p["months"]])
    mod = SourceTrend(p, nmonths - offset, col, _add_months(first, offset))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mod.fit(disp=False, maxiter=200, method="lbfgs", cov_type="none")
        theta = np.asarray(res.params)
        try:
            cov = np.linalg.inv(-approx_hess3(theta, mod.loglike))
            cov = 0.5 * (cov + cov.T)
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            cov = np.diag(_prior_sd(col) ** 2)
    return SourceFit(col, offset, mod, theta, cov)


def fit(obs: pd.DataFrame, origin: dt.date, first: dt.date | None = None) -> BaselineFit:
    """Fit every source to the national rows of ``obs`` in the months from ``first``
    (default :func:`window_start`) to before ``origin``."""
    if origin.day != 1:
        raise ArgumentError(f"field 'start' = {origin}: the baseline forecasts whole months "
                            "(expected the first day of a month)")
    first = first or window_start(origin)
    n = _month_index(pd.Timestamp(origin), first)
    if n < 6:
        raise ArgumentError(f"field 'start' = {origin}: fewer than 6 months of history from {first}")
    part = partition(obs, first, origin - dt.timedelta(days=1))
    if part.empty or not (set(part["column"]) - {"is_attacks_ctc"}):
        raise ArgumentError(f"field 'start' = {origin}: no observations to fit the baseline to")
    bf = BaselineFit(origin, first, part)
    for col in COLS:
        if (part["column"] == col).any():
            bf.sources[col] = _fit_source(part, col, n, first)
    return bf


#: the importance-sampling proposal is the Laplace approximation with its sds times this
PROPOSAL_SCALE = 1.25


def _paths(sf: SourceFit, months: int, runs: int, rng: np.random.Generator,
           draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Latent log-intensity paths ``(runs, months)`` after the origin and each run's
    observation noise sd. Parameters: ``draws`` proposals from the Laplace approximation
    (the first is the mode), importance-weighted by the exact penalised likelihood over the
    proposal density and resampled onto the runs (sampling importance resampling: the
    Gaussian approximation of weakly identified noise scales is too wide in its tails, the
    weights correct it). The trend level, slope and transient at the origin come from their
    filtered distribution under each run's parameters; then forward."""
    draws = max(1, min(draws, runs))
    mod, L = sf.model, sf.model.lags
    prop = PROPOSAL_SCALE ** 2 * sf.cov  # a little wider than the Laplace approximation
    theta = rng.multivariate_normal(sf.params, prop, size=draws, method="cholesky")
    theta[0] = sf.params
    prec = np.linalg.inv(prop)
    keep = [0, L, L + 1]  # trend level, slope, transient at the origin
    x0 = np.empty((draws, 3))
    chol = np.empty((draws, 3, 3))
    logw = np.empty(draws)
    for d, th in enumerate(theta):
        res = mod.filter(th, cov_type="none")
        dev = th - sf.params
        logw[d] = res.llf + mod.log_prior(th) + 0.5 * dev @ prec @ dev
        a, P = res.predicted_state[:, -1], res.predicted_state_cov[:, :, -1]
        sub = P[np.ix_(keep, keep)]
        x0[d] = a[keep]
        chol[d] = np.linalg.cholesky(0.5 * (sub + sub.T) + 1e-12 * np.eye(3))
    w = np.exp(logw - logw.max())
    w = np.where(np.isfinite(w), w, 0.0)
    sf.ess = float(w.sum() ** 2 / np.sum(w ** 2))
    # systematic resampling: run i takes the draw whose cumulative weight covers (i + u) / runs
    cum = np.cumsum(w / w.sum())
    k = np.minimum(np.searchsorted(cum, (np.arange(runs) + rng.random()) / runs), draws - 1)
    k = rng.permutation(k)
    sd = np.exp(theta[k][:, [I_LEVEL, I_SLOPE, I_OBS, I_TRANS]])
    phi = 1.0 / (1.0 + np.exp(-theta[k, I_DAMP]))
    rho = 1.0 / (1.0 + np.exp(-theta[k, I_PERS]))
    sd_u = sd[:, 3]
    s = x0[k] + np.einsum("rij,rj->ri", chol[k], rng.standard_normal((runs, 3)))
    mu, b, u = s[:, 0], s[:, 1], s[:, 2]
    out = np.empty((runs, months))
    for h in range(months):
        if h:
            z = rng.standard_normal((runs, 3))
            mu, b, u = mu + b + sd[:, 0] * z[:, 0], phi * b + sd[:, 1] * z[:, 1], rho * u + sd_u * z[:, 2]
        out[:, h] = mu + u
    return np.minimum(out, 20.0), sd[:, 2]


def simulate(bf: BaselineFit, months: int, runs: int, seed: int, draws: int = 200) -> dict[str, np.ndarray]:
    """Predictive monthly paths ``(runs, months)`` per series: observed counts of every
    source (Poisson-lognormal around its latent level) and the latent ``is_attacks`` (the
    CTC-scale intensity: CTC's own level, or the bridge from the other sources)."""
    def stream(c: str) -> np.random.Generator:  # one per source: its paths do not depend on the others
        return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 7, COLS.index(c))))

    rngs = {c: stream(c) for c in COLS}
    latent, sd = {}, {}
    for c, sf in bf.sources.items():
        latent[c], sd[c] = _paths(sf, months, runs, rngs[c], draws)
    if "is_attacks_ctc" not in latent:
        latent["is_attacks_ctc"] = _bridge(latent, runs, rngs["is_attacks_ctc"])
        sd["is_attacks_ctc"] = np.full(runs, OBS_PRIOR["is_attacks_ctc"][0])
    out: dict[str, np.ndarray] = {}
    for c in COLS:
        rng = rngs[c]
        lam = latent[c] + sd[c][:, None] * rng.standard_normal((runs, months))
        out[c] = rng.poisson(np.exp(np.minimum(lam, 20.0))).astype(float)
    out["is_attacks"] = np.exp(latent["is_attacks_ctc"])
    return out


def _bridge(latent: dict[str, np.ndarray], runs: int, rng: np.random.Generator) -> np.ndarray:
    """CTC-scale log intensity from the other sources' latent paths: each divided by a
    reporting ratio drawn per run from :data:`CTC_BRIDGE`, pooled by the ratios' precision."""
    num, den = np.zeros_like(next(iter(latent.values()))), 0.0
    for c, (med, lsd) in CTC_BRIDGE.items():
        if c not in latent:
            continue
        r = np.log(med) + lsd * rng.standard_normal(runs)
        num += (latent[c] - r[:, None]) / lsd ** 2
        den += 1.0 / lsd ** 2
    return num / den


def insample(bf: BaselineFit, column: str, months: list[int], runs: int, seed: int) -> np.ndarray:
    """In-sample predictive draws ``(runs,)`` of a source's total over fitted months (indices
    from ``bf.first``): latent paths from the simulation smoother at the posterior mode,
    with the source's Poisson-lognormal noise."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 13,)))
    sf = bf.sources[column]
    sf.model.update(sf.params)
    sm = sf.model.simulation_smoother()
    sd = float(np.exp(sf.params[I_OBS]))
    idx = [m - sf.offset for m in months]
    U = sf.model.lags + 1
    if min(idx) < 0:
        raise ArgumentError(f"field 'months': {column} is fitted from month {sf.offset} only")
    out = np.empty(runs)
    for i in range(runs):
        try:
            sm.simulate(rng=rng)
        except TypeError:  # statsmodels < 0.15
            sm.simulate(random_state=rng)
        st = np.real(sm.simulated_state)
        lam = st[0, idx] + st[U, idx] + sd * rng.standard_normal(len(idx))
        out[i] = rng.poisson(np.exp(np.minimum(lam, 20.0))).sum()
    return out


@functools.lru_cache(maxsize=8)
def forecast_paths(case: str, start: dt.date, months: int, runs: int,
                   seed: int) -> dict[str, np.ndarray]:
    """The statistical baseline's monthly paths from ``start``, fitted to the rows published
    before it (:mod:`resurgence.calibration.baseline`; cached: do not modify the arrays)."""
    from resurgence.calibration.cases import case_observations, get_case

    c = get_case(case)
    if not 1 <= months <= 240:
        raise ArgumentError(f"field 'months' = {months}: expected 1 to 240")
    if start > c.until + dt.timedelta(days=1):
        raise ArgumentError(f"field 'start' = {start}: after the case's data ({c.until}) ends")
    obs = case_observations(c, start - dt.timedelta(days=1), published_before=start)
    paths = simulate(fit(obs, start), months, runs, seed)
    for v in paths.values():
        v.setflags(write=False)
    return paths
