"""Statistical baseline: a dynamic latent-intensity model of every source, fitted in seconds.

The latent monthly log intensity of IS violence ``x_t`` (on the CTC Sentinel scale: CTC's
log reporting ratio is 0, the anchor) follows a local linear trend. Each other source sees
it through its own log reporting ratio, a random walk whose drift is carried into the
forecast: Musings incidents ``r_m``, UCDP state-based deaths ``r_d`` and events ``r_e``.
An observation of ``n`` months with total ``Y`` is read as ``log(Y / n) = mean_j x_j + r_s +
e`` over its months, with ``var e = 1/(Y+1) + s_s^2 * 30.44 / days``: the Poisson part and a
source's extra-Poisson noise, aggregated from the weekly level so that it shrinks with the
period's length (the Poisson-lognormal model, linearised on the log scale). Each source
contributes one non-overlapping partition of months (:func:`partition`): complete months
first, then quarters, then the remainder of a year where its months are missing; weekly
snapshots are never levels.

Why statsmodels: the model is linear-Gaussian on the log scale, so statsmodels' state-space
Kalman filter (``MLEModel``) gives the exact likelihood, the filtered state at the origin
and missing-data handling; the eight noise scales are fitted by penalised maximum likelihood
(weak log-normal priors, i.e. a posterior mode) and their uncertainty carried by drawing
from the Laplace approximation (inverse Hessian). A fit takes well under a second, so the
backtest refits it at every origin. PyMC or NumPyro would give full posteriors but cost
minutes of compilation and sampling per origin on two cores.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tools.numdiff import approx_hess3
from statsmodels.tsa.statespace.mlemodel import MLEModel

from resurgence.calibration.obsmodel import DAYS_PER_MONTH
from resurgence.core.errors import ArgumentError

#: (source, metric) -> (endog column, ratio state or None for the CTC anchor)
SOURCES: dict[tuple[str, str], str] = {
    ("ged_cm", "sb_deaths"): "ged_sb_deaths", ("ged_cm", "sb_events"): "ged_sb_events",
    ("musings", "incidents"): "incidents", ("ctc", "is_attacks"): "is_attacks_ctc"}
COLS = ("ged_sb_deaths", "ged_sb_events", "incidents", "is_attacks_ctc")
LAGS = 12  # longest aggregate: a year
#: the slope decays by a fitted factor phi a month (a damped local linear trend, Gardner &
#: McKenzie 1985); prior on logit(phi): median 0.9, so a trend fitted to a few months is not
#: extrapolated for years unless the data insist
DAMPING_PRIOR = (0.9, 1.5)
# state: x_t, x_{t-1}..x_{t-11}, slope, r_musings, r_deaths, r_events
I_SLOPE, I_RM, I_RD, I_RE = LAGS, LAGS + 1, LAGS + 2, LAGS + 3
RATIO_STATE = {"incidents": I_RM, "ged_sb_deaths": I_RD, "ged_sb_events": I_RE,
               "is_attacks_ctc": None}
#: prior (median, log-sd) of each source's reporting ratio per CTC attack in the first month
RATIO_PRIOR = {"incidents": (1.5, 0.5), "ged_sb_deaths": (0.4, 0.8), "ged_sb_events": (0.15, 0.8)}
#: parameters (log standard deviations) and their weak priors (median, sd of the log)
PARAMS = {"sd_level": (0.10, 1.0), "sd_slope": (0.01, 1.0), "sd_ratio_musings": (0.05, 1.0),
          "sd_ratio_ucdp": (0.05, 1.0), "sd_obs_deaths": (0.3, 1.0),
          "sd_obs_events": (0.3, 1.0), "sd_obs_musings": (0.2, 1.0), "sd_obs_ctc": (0.1, 1.0)}
OBS_PARAM = {"ged_sb_deaths": "sd_obs_deaths", "ged_sb_events": "sd_obs_events",
             "incidents": "sd_obs_musings", "is_attacks_ctc": "sd_obs_ctc"}


def _month_index(d: pd.Timestamp | dt.date, first: dt.date) -> int:
    return (d.year - first.year) * 12 + d.month - first.month


def partition(obs: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    """One non-overlapping partition of months per source (national rows).

    Complete months first; then quarters whose months are all missing; then, for a year,
    the remainder (year total minus the rows inside it) over its still-uncovered months.
    Weeks and partial periods are not levels. Returns rows ``column, months (tuple of
    month indices from first), value, days``.
    """
    out = []
    nat = obs[(obs["region"] == "IQ") & (obs["period_start"].dt.day == 1)
              & obs["period_end"].dt.is_month_end]
    for (src, met), col in SOURCES.items():
        s = nat[(nat["source"] == src) & (nat["metric"] == met)]
        covered: dict[int, float] = {}
        rows = []
        for gran in ("month", "quarter", "year"):
            for _, r in s[s["granularity"] == gran].sort_values("period_start").iterrows():
                a, b = _month_index(r["period_start"], first), _month_index(r["period_end"], first)
                if a < 0 or b > _month_index(pd.Timestamp(last), first):
                    continue
                months = [m for m in range(a, b + 1) if m not in covered]
                if not months:
                    continue
                inside = sum(v for m, v in covered.items() if a <= m <= b)
                value = float(r["value"]) - inside
                if value <= 0:
                    continue
                for m in months:
                    covered[m] = value / len(months)
                days = sum(pd.Period(year=first.year + (first.month - 1 + m) // 12,
                                     month=(first.month - 1 + m) % 12 + 1, freq="M").days_in_month
                           for m in months)
                rows.append({"column": col, "months": tuple(months), "value": value,
                             "days": days, "granularity": gran if len(months) == b - a + 1
                             else f"{gran} remainder"})
        out += rows
    return pd.DataFrame(out, columns=["column", "months", "value", "days", "granularity"])


def _prior_mu() -> np.ndarray:
    m = DAMPING_PRIOR[0]
    return np.array([*np.log([m for m, _ in PARAMS.values()]), np.log(m / (1 - m))])


def _prior_sd() -> np.ndarray:
    return np.array([*(s for _, s in PARAMS.values()), DAMPING_PRIOR[1]])


class LatentIntensity(MLEModel):
    """Local linear trend on the log intensity with source reporting-ratio random walks."""

    def __init__(self, part: pd.DataFrame, nmonths: int):
        k = len(COLS)
        endog = np.full((nmonths, k), np.nan)
        self._known = np.zeros((k, nmonths))
        self._scale = np.ones((k, nmonths))
        design = np.zeros((k, LAGS + 4, nmonths))
        for _, r in part.iterrows():
            i, t = COLS.index(r["column"]), max(r["months"])
            if t - min(r["months"]) >= LAGS:
                continue
            endog[t, i] = np.log(r["value"] / len(r["months"]))
            self._known[i, t] = 1.0 / (r["value"] + 1.0)
            self._scale[i, t] = DAYS_PER_MONTH / r["days"]
            for m in r["months"]:
                design[i, t - m, t] = 1.0 / len(r["months"])
            if RATIO_STATE[r["column"]] is not None:
                design[i, RATIO_STATE[r["column"]], t] = 1.0
        super().__init__(endog, k_states=LAGS + 4, k_posdef=5)
        self["design"] = design
        T = np.zeros((LAGS + 4, LAGS + 4))
        T[0, 0] = T[0, I_SLOPE] = 1.0
        for j in range(1, LAGS):
            T[j, j - 1] = 1.0
        for j in (I_RM, I_RD, I_RE):
            T[j, j] = 1.0
        T[I_SLOPE, I_SLOPE] = DAMPING_PRIOR[0]
        self["transition"] = T
        R = np.zeros((LAGS + 4, 5))
        for c, j in enumerate((0, I_SLOPE, I_RM, I_RD, I_RE)):
            R[j, c] = 1.0
        self["selection"] = R
        self["obs_cov"] = np.zeros((k, k, nmonths))
        a0 = np.zeros(LAGS + 4)
        first = [np.nanmean(endog[:6, 3])] if np.isfinite(endog[:6, 3]).any() else []
        a0[:LAGS] = first[0] if first else np.log(130.0)
        P0 = np.eye(LAGS + 4) * 4.0
        P0[I_SLOPE, I_SLOPE] = 0.05 ** 2
        for col in RATIO_PRIOR:
            ix = RATIO_STATE[col]
            assert ix is not None  # every prior names a ratio state
            a0[ix] = np.log(RATIO_PRIOR[col][0])
            P0[ix, ix] = RATIO_PRIOR[col][1] ** 2
        self.ssm.initialize_known(a0, P0)

    @property
    def param_names(self) -> list[str]:
        return [*PARAMS, "logit_damping"]

    @property
    def start_params(self) -> np.ndarray:
        return _prior_mu()

    def update(self, params, **kwargs):
        params = super().update(params, **kwargs)
        T = np.real(self["transition"]).astype(params.dtype)
        T[I_SLOPE, I_SLOPE] = 1.0 / (1.0 + np.exp(-params[-1]))
        self["transition"] = T
        sd = np.exp(params[:-1])
        p = dict(zip(PARAMS, sd, strict=True))
        self["state_cov"] = np.diag([p["sd_level"] ** 2, p["sd_slope"] ** 2,
                                     p["sd_ratio_musings"] ** 2, p["sd_ratio_ucdp"] ** 2,
                                     p["sd_ratio_ucdp"] ** 2])
        cov = np.zeros((len(COLS), len(COLS), self.nobs), dtype=params.dtype)
        for i, c in enumerate(COLS):
            cov[i, i] = self._known[i] + p[OBS_PARAM[c]] ** 2 * self._scale[i]
        self["obs_cov"] = cov

    def log_prior(self, params) -> float:
        return -0.5 * np.sum(((params - _prior_mu()) / _prior_sd()) ** 2)

    def loglike(self, params, *args, **kwargs):
        return super().loglike(params, *args, **kwargs) + self.log_prior(params)


@dataclass
class BaselineFit:
    origin: dt.date  # first month forecast
    first: dt.date  # first month of the fit
    model: LatentIntensity
    params: np.ndarray  # posterior mode (log sds)
    cov: np.ndarray  # Laplace covariance of the log sds
    part: pd.DataFrame

    def sd(self) -> dict[str, float]:
        out = dict(zip(PARAMS, np.exp(self.params[:-1]).round(4).tolist(), strict=True))
        out["damping"] = round(float(1.0 / (1.0 + np.exp(-self.params[-1]))), 4)
        return out


def fit(obs: pd.DataFrame, origin: dt.date, first: dt.date = dt.date(2018, 1, 1)) -> BaselineFit:
    """Fit to the national rows of ``obs`` in the months from ``first`` to before ``origin``."""
    if origin.day != 1:
        raise ArgumentError(f"field 'start' = {origin}: the baseline forecasts whole months "
                            "(expected the first day of a month)")
    n = _month_index(pd.Timestamp(origin), first)
    if n < 6:
        raise ArgumentError(f"field 'start' = {origin}: fewer than 6 months of history from {first}")
    part = partition(obs, first, origin - dt.timedelta(days=1))
    if part.empty:
        raise ArgumentError(f"field 'start' = {origin}: no observations to fit the baseline to")
    mod = LatentIntensity(part, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mod.fit(disp=False, maxiter=200, method="lbfgs")
        prior_var = _prior_sd() ** 2
        try:
            cov = np.linalg.inv(-approx_hess3(np.asarray(res.params), mod.loglike))
            cov = 0.5 * (cov + cov.T)
            np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            cov = np.diag(prior_var)
    return BaselineFit(origin, first, mod, np.asarray(res.params), cov, part)


def simulate(bf: BaselineFit, months: int, runs: int, seed: int, draws: int = 20) -> dict[str, np.ndarray]:
    """Predictive monthly paths ``(runs, months)`` per series: observed counts of every
    source (Poisson-lognormal around the latent level) and the latent ``is_attacks``."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 7,)))
    theta = rng.multivariate_normal(bf.params, bf.cov, size=draws, method="cholesky")
    theta[0] = bf.params
    prior_sd = _prior_sd()
    theta = np.clip(theta, bf.params - 2.5 * prior_sd, bf.params + 2.5 * prior_sd)
    out = {c: np.empty((runs, months)) for c in (*COLS, "is_attacks")}
    per = np.array_split(np.arange(runs), draws)
    for th, idx in zip(theta, per, strict=True):
        if idx.size == 0:
            continue
        res = bf.model.filter(th)
        a, P = res.predicted_state[:, -1], res.predicted_state_cov[:, :, -1]
        sd = dict(zip(PARAMS, np.exp(th[:-1]), strict=True))
        Q = np.real(bf.model["state_cov"])
        R = bf.model["selection"]
        T = np.real(bf.model["transition"])
        m = idx.size
        s = a + rng.multivariate_normal(np.zeros_like(a), 0.5 * (P + P.T), size=m,
                                        method="svd")
        for h in range(months):
            if h:
                s = s @ T.T + rng.multivariate_normal(np.zeros(5), Q, size=m) @ R.T
            x = s[:, 0]
            out["is_attacks"][idx, h] = np.exp(x)
            for c in COLS:
                j = RATIO_STATE[c]
                lam = x + (s[:, j] if j is not None else 0.0)
                lam = lam + sd[OBS_PARAM[c]] * rng.standard_normal(m)
                out[c][idx, h] = rng.poisson(np.exp(np.minimum(lam, 20.0)))
    return out


def insample(bf: BaselineFit, column: str, months: list[int], runs: int, seed: int) -> np.ndarray:
    """In-sample predictive draws ``(runs,)`` of a source's total over fitted months (indices
    from ``bf.first``): latent paths from the simulation smoother at the posterior mode,
    with the source's Poisson-lognormal noise."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 + 13,)))
    bf.model.update(bf.params)
    sm = bf.model.simulation_smoother()
    sd = dict(zip(PARAMS, np.exp(bf.params[:-1]), strict=True))
    j = RATIO_STATE[column]
    out = np.empty(runs)
    for i in range(runs):
        try:
            sm.simulate(rng=rng)
        except TypeError:  # statsmodels < 0.15
            sm.simulate(random_state=rng)
        st = np.real(sm.simulated_state)
        lam = st[0, months] + (st[j, months] if j is not None else 0.0)
        lam = lam + sd[OBS_PARAM[column]] * rng.standard_normal(len(months))
        out[i] = rng.poisson(np.exp(np.minimum(lam, 20.0))).sum()
    return out
