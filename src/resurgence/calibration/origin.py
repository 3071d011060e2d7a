"""The state on the forecast origin, filtered on the data: what every run starts from.

A posterior draw fixes the parameters, not the history: two runs with the same parameters
reach the origin (2020-12-01) in different states, and only some of those states agree with
what the sources reported in 2018-2020. For each draw ``d`` a bootstrap particle filter
(Gordon, Salmond & Smith 1993) simulates ``K`` particles of the case's known history from
the posterior's start, and whenever a reported period is complete it weights each particle
by the likelihood of that report and resamples the particles of the draw (systematic
resampling; within the draw, so parameters and states stay paired). One particle per draw
is kept: a draw from ``p(state on the origin | data, theta_d)``. The posterior carries these
states (:class:`OriginStates`, a ``.origin.npz`` file beside the draws), so runs of any
scenario that starts on or after the origin begin there, without re-simulating 2018-2020
(:class:`resurgence.runs.prepare.Carried`).

What the filter reads (each source once, no overlaps: :func:`resurgence.calibration.
periods.partition`): complete months first, then quarters, then the remainder of a year;
national rows only, weekly snapshots never; only rows published before the origin. Each
report is negative-binomial around the observation model's expectation
(:mod:`resurgence.calibration.obsmodel`) with the source's size (not shrinking with the
period: the reporting ratio drifts, so a year is not twelve independent months). The
per-draw log marginal likelihood estimate is kept as a diagnostic; the draws are not
reweighted by it (ABC fixed them; reweighting 1,000 draws by an exact likelihood leaves a
handful — see docs/calibration.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from resurgence.calibration.cases import Case, case_observations
from resurgence.calibration.drift import Window, weekly_ratios, windows
from resurgence.calibration.obsmodel import MAPPING, dispersion
from resurgence.calibration.periods import SOURCES, partition
from resurgence.core.atomic import atomic_write_bytes
from resurgence.core.errors import PosteriorError
from resurgence.core.timegrid import WeekGrid, period_weights
from resurgence.model.params import ParamSet
from resurgence.model.sim import Sim
from resurgence.runs.prepare import Carried, resolve, scenario_params, spun_up
from resurgence.scenario.drivers import compile_drivers
from resurgence.theatre.theatre import load_theatre

FORMAT = 1


@dataclass
class OriginStates:
    """One state per posterior draw on ``date`` (the start of that day)."""

    date: dt.date
    history_weeks: int  # weeks simulated before it (from the posterior's start)
    state: dict[str, np.ndarray]  # "module.state" -> (D, ...)
    loglik: np.ndarray  # (D,) log marginal likelihood estimate of the reports, per draw
    meta: dict = field(default_factory=dict)

    @property
    def draws(self) -> int:
        return len(self.loglik)

    def carried(self, draw: np.ndarray) -> Carried:
        return Carried(self.date, self.history_weeks, {k: v[draw] for k, v in self.state.items()})

    def save(self, path: str | Path) -> Path:
        import io

        head = {"format": FORMAT, "date": self.date.isoformat(),
                "history_weeks": self.history_weeks, **self.meta}
        buf = io.BytesIO()
        arrays: dict[str, Any] = {"__meta__": np.array(json.dumps(head, sort_keys=True, default=str)),
                                  "__loglik__": self.loglik, **self.state}
        np.savez_compressed(buf, **arrays)
        atomic_write_bytes(Path(path), buf.getvalue())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> OriginStates:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["__meta__"]))
                loglik = z["__loglik__"]
                state = {k: z[k] for k in z.files if not k.startswith("__")}
        except (OSError, ValueError, KeyError) as e:
            raise PosteriorError(f"{path}: not an origin-state file ({e})") from None
        if meta.pop("format", None) != FORMAT:
            raise PosteriorError(f"{path}: unknown origin-state format")
        bad = [k for k, v in state.items() if v.shape[0] != len(loglik)]
        if bad:
            raise PosteriorError(f"{path}: state {bad[0]!r} has {state[bad[0]].shape[0]} rows, "
                                 f"expected {len(loglik)}")
        return cls(dt.date.fromisoformat(meta.pop("date")), int(meta.pop("history_weeks")),
                   state, loglik, meta)


@dataclass
class _Reports:
    """The reports the filter weighs, matched to the simulated weeks."""

    y: np.ndarray  # (K,)
    weights: np.ndarray  # (W, K)
    quantity: list[str]
    rate: list[str]
    background: list[str]
    months: np.ndarray  # (K,)
    size: np.ndarray  # (K,) negative-binomial size
    complete: np.ndarray  # (K,) the week after which each report is complete
    label: list[str]
    week_starts: np.ndarray | None = None
    drift_windows: dict[str, Window | None] | None = None  # by rate (calibration.drift)


def reports(obs: pd.DataFrame, grid: WeekGrid, start: dt.date | None = None) -> _Reports:
    """Each source's non-overlapping national periods inside the simulated weeks; the
    reporting-drift windows from ``start`` (the posterior's start, as in the fit; default
    the grid's)."""
    first = grid.start.replace(day=1)
    if grid.start.day != 1:  # the first whole month on the grid
        first = (pd.Timestamp(first) + pd.offsets.MonthBegin(1)).date()
    last = grid.start + dt.timedelta(days=7 * grid.weeks - 1)
    part = partition(obs, first, last)
    by_col = {col: key for key, col in SOURCES.items()}
    ws = grid.dates
    rows = []
    for r in part.itertuples():
        months = [pd.Timestamp(first) + pd.DateOffset(months=m) for m in r.months]
        ps = np.array([m.to_datetime64() for m in months], dtype="datetime64[D]")
        pe = np.array([(m + pd.offsets.MonthEnd(0)).to_datetime64() for m in months],
                      dtype="datetime64[D]")
        w = period_weights(ws, ps, pe).sum(axis=1)
        if not w.any():
            continue
        rows.append((by_col[r.column], float(r.value), w, len(months),
                     f"{r.column} {months[0]:%Y-%m}+{len(months)}m"))
    K = len(rows)
    q, rate, bg = [], [], []
    for key, *_ in rows:
        qi, ri, bi = MAPPING[key]
        q.append(qi)
        rate.append(ri)
        bg.append(bi or "")
    W = np.column_stack([r[2] for r in rows]) if rows else np.zeros((grid.weeks, 0))
    complete = np.array([int(np.flatnonzero(W[:, k])[-1]) + 1 for k in range(K)], dtype=int)
    return _Reports(np.array([r[1] for r in rows]), W, q, rate, bg,
                    np.array([r[3] for r in rows], dtype=float),
                    np.array([dispersion(*r[0]) for r in rows]), complete,
                    [r[4] for r in rows], ws, windows(obs, start=start or grid.start))


def _loglik(rep: _Reports, cols: np.ndarray, rec: dict[str, np.ndarray], t: int,
            params: ParamSet) -> np.ndarray:
    """Log-likelihood of reports ``cols`` for every particle, from the records of weeks [0, t)."""
    n = rec["is_attacks"].shape[1]
    out = np.zeros(n)
    qs = {"is": rec["is_attacks"][:t].sum(axis=2, dtype=np.float64),
          "militia": rec["militia_attacks_us"][:t].sum(axis=2, dtype=np.float64)}
    qs["is+militia"] = qs["is"] + qs["militia"]
    # the drifting rates' ratios across their reports, as in the fit (calibration.drift)
    ratios = weekly_ratios(None if rep.week_starts is None else rep.week_starts[:t],
                           rep.drift_windows or {}, params.values, [rep.rate[k] for k in cols])
    for k in cols:
        q = qs[rep.quantity[k]]
        if rep.rate[k] in ratios:
            q = q * ratios[rep.rate[k]].T
        x = q.T @ rep.weights[:t, k]
        mu = params.values[rep.rate[k]] * x
        if rep.background[k]:
            mu = mu + params.values[rep.background[k]] * rep.months[k]
        mu = np.maximum(mu, 1e-9)
        r, y = rep.size[k], rep.y[k]
        out += (special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1)
                + r * np.log(r / (r + mu)) + y * np.log(mu / (r + mu)))
    return out


def _systematic(logw: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Systematic resampling within each row of ``logw`` (draws x particles); returns the
    chosen particle of each slot, as flat indices."""
    nd, K = logw.shape
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    c = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    c[:, -1] = 1.0
    pos = (u[:, None] + np.arange(K)[None, :]) / K
    pick = np.minimum((pos[:, :, None] >= c[:, None, :]).sum(axis=2), K - 1)  # first c > pos
    return (np.arange(nd)[:, None] * K + pick).ravel()


def filter_origin(post, case: Case, *, particles: int = 8, seed: int = 20201201,
                  chunk_draws: int = 50, obs: pd.DataFrame | None = None,
                  progress: Callable[[int], None] | None = None) -> OriginStates:
    """Filter each draw of ``post`` (a :class:`~resurgence.calibration.posterior.Posterior`)
    through the case's known history to the day after its data end (the origin); ``obs``
    defaults to the case's reports published before the origin."""
    if particles < 1:
        raise PosteriorError(f"field 'particles' = {particles}: expected at least 1")
    th = load_theatre(case.theatre)
    origin = post.until + dt.timedelta(days=1)
    sc = resolve(case.scenario).model_copy(update={"start": origin})
    full, off = spun_up(sc, post.start)
    if off == 0:
        raise PosteriorError(f"posterior start {post.start} is not before the origin {origin}")
    hist = full.model_copy(update={"weeks": off})  # the history only: weeks before the origin
    drivers = compile_drivers(hist, th, known_until=origin)  # known: bases as recorded
    if obs is None:
        obs = case_observations(case, until=post.until, published_before=origin)
    grid = WeekGrid(hist.start, off)
    rep = reports(obs, grid, post.start)
    times = sorted(set(rep.complete.tolist()))
    D, K = post.size, particles
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(1 << 30,))))
    u_res = rng.random((len(times), D))  # one resampling uniform per (time, draw)
    states: dict[str, list[np.ndarray]] = {}
    loglik = np.zeros(D)
    ess_min = np.full(D, float(K))
    for d0 in range(0, D, chunk_draws):
        draws = np.arange(d0, min(d0 + chunk_draws, D))
        ids = (draws[:, None] * K + np.arange(K)[None, :]).ravel()
        ps = scenario_params(sc, post.paramset(np.repeat(draws, K)))
        sim = Sim(hist, th, ps, ids, seed, drivers)
        sim.begin(seed)
        t = 0
        for i, tk in enumerate(times):
            sim.advance(t, tk)
            t = tk
            ll = _loglik(rep, np.flatnonzero(rep.complete == tk), sim.records(), t, ps)
            lw = ll.reshape(len(draws), K)
            m = lw.max(axis=1, keepdims=True)
            w = np.exp(lw - m)
            loglik[draws] += (m[:, 0] + np.log(w.mean(axis=1)))
            ess_min[draws] = np.minimum(ess_min[draws], w.sum(1) ** 2 / (w ** 2).sum(1))
            sim.reorder(_systematic(lw, u_res[i, draws]))
        sim.advance(t, off)
        st = sim.export_state()
        keep = (draws - d0) * K  # particle 0 of each draw (all equally weighted after resampling)
        for k, v in st.items():
            states.setdefault(k, []).append(v[keep])
        if progress:
            progress(len(draws))
    meta = {"particles": K, "seed": seed, "reports": len(rep.y),
            "report_labels": rep.label, "ess_min_median": float(np.median(ess_min)),
            "case": case.name}
    return OriginStates(origin, off, {k: np.concatenate(v) for k, v in states.items()},
                        loglik, meta)
