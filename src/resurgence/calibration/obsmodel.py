"""Observation model: how each source sees the simulated system.

The reported series are not the truth. Each source observes a model quantity aggregated
over its own periods and regions through a reporting rate, plus (for UCDP state-based
series) a background of non-IS conflict on Iraqi soil such as Turkey-PKK, with negative-
binomial noise of its own. The model's ``is_attacks`` is on the CTC Sentinel scale by
convention (``rate_ctc`` has a tight prior around 1), which anchors the other rates.

=====================  ================================  ==================================
source / metric        model quantity                    expected observation
=====================  ================================  ==================================
ctc is_attacks         IS attacks                        rate_ctc x attacks
musings incidents      IS attacks + militia attacks      rate_musings x drift x (IS + militia)
ged(_cm) sb_deaths     IS attacks (national)             deaths_per_attack x drift x att. + bg
ged(_cm) sb_events     IS attacks (national)             events_per_attack x drift x att. + bg
ged is_events          IS attacks (by governorate)       is_events_per_attack x attacks
literature militia     militia attacks on US sites       rate_militia x attacks
ibc civilian_deaths    IS attacks (national)             ibc_deaths_per_attack x attacks
=====================  ================================  ==================================

``drift``: the series' reporting drift, ``exp(drift x tau)`` across its reports
(:mod:`resurgence.calibration.drift`); the backgrounds do not drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from resurgence.calibration.drift import DRIFT_PARAMS, Window, weekly_ratios, windows
from resurgence.calibration.periods import cover
from resurgence.core import samplers
from resurgence.core.timegrid import period_weights
from resurgence.model.params import Param, lognormal

N = "observation"


def _p(name, default, units, description, prior, source) -> Param:
    return Param(name, default, units, description, prior, ("C20",), source, N)


OBS_PARAMS: tuple[Param, ...] = (
    _p("rate_ctc", 1.0, "1", "CTC Sentinel IS attacks per model IS attack (scale anchor)",
       lognormal(1.0, 0.15), "convention: is_attacks on the CTC scale"),
    _p("rate_musings", 1.5, "1", "Musings on Iraq media-reported incidents per IS or militia attack",
       lognormal(1.5, 0.5), "Musings 2018 ~6.5/day vs CTC 1,470 IS attacks"),
    _p("rate_militia", 1.0, "1", "reported militia attacks on US interests per model militia attack",
       lognormal(1.0, 0.3), "Knights (Washington Institute) 2020 counts"),
    _p("sb_deaths_per_attack", 0.3, "deaths/attack", "UCDP state-based deaths per IS attack",
       lognormal(0.3, 0.7), "GED: ~500 IS-related deaths/yr vs ~1,600 attacks"),
    _p("sb_deaths_background", 20.0, "deaths/month", "UCDP state-based deaths from non-IS conflict (Turkey-PKK, Iran-PJAK)",
       lognormal(20.0, 0.7), "BRD: Turkey-PKK 449 deaths in 2018"),
    _p("sb_events_per_attack", 0.08, "events/attack", "UCDP state-based events per IS attack",
       lognormal(0.08, 0.7), "GED 2019: ~200 events/yr"),
    _p("sb_events_background", 5.0, "events/month", "UCDP state-based events from non-IS conflict",
       lognormal(5.0, 0.7), "GED 2018: Turkey-PKK 76 events"),
    _p("is_events_per_attack", 0.12, "events/attack", "UCDP GED events involving IS per IS attack",
       lognormal(0.12, 0.5), "GED 2018: 176 IS events vs CTC 1,470 attacks"),
    _p("ibc_deaths_per_attack", 2.0, "deaths/attack",
       "Iraq Body Count civilian deaths per IS attack (all perpetrators folded in; iraq-2011 case)",
       lognormal(2.0, 0.7),
       "derived: NCTC 2008-10 >300 killed/month in ~200 terrorist attacks/month (Fishman 2011), "
       "~1.5 per attack; IBC also counts non-IS violence"),
    *DRIFT_PARAMS,
)

# negative-binomial size of each source's reporting noise (not fitted: identifiability);
# a (source, metric) entry of METRIC_DISPERSION overrides its source's (:func:`dispersion`)
DISPERSION = {"ctc": 50.0, "musings": 10.0, "literature": 5.0, "ged": 4.0, "ged_cm": 4.0,
              "views": 4.0, "ibc": 10.0}
#: UCDP's monthly state-based event counts vary far less than its death counts (one attack
#: can kill dozens; it is one event): their variance around a 5-month moving mean gives a
#: negative-binomial size of 13.5 over 2010-13 and 34 over 2015-17 (UCDP GED candidate
#: months, all published before the first backtest origin); the smaller, more dispersed,
#: is kept. It bounds the reporting noise from below, since the months' variance also
#: holds the attacks' own. Deaths give 6 and 7 in the same windows: 4 stays.
METRIC_DISPERSION = {("ged_cm", "sb_events"): 13.5, ("ged", "sb_events"): 13.5}


def dispersion(source: str, metric: str) -> float:
    """The negative-binomial size of a source's reporting noise for ``metric``."""
    return METRIC_DISPERSION.get((source, metric), DISPERSION.get(source, 5.0))

# (source, metric) -> (model quantity, rate parameter, background parameter or None)
MAPPING: dict[tuple[str, str], tuple[str, str, str | None]] = {
    ("ctc", "is_attacks"): ("is", "rate_ctc", None),
    ("musings", "incidents"): ("is+militia", "rate_musings", None),
    ("literature", "militia_attacks_us"): ("militia", "rate_militia", None),
    ("ged_cm", "sb_deaths"): ("is", "sb_deaths_per_attack", "sb_deaths_background"),
    ("ged_cm", "sb_events"): ("is", "sb_events_per_attack", "sb_events_background"),
    ("ged", "is_events"): ("is", "is_events_per_attack", None),
    ("ibc", "civilian_deaths"): ("is", "ibc_deaths_per_attack", None),
}

DAYS_PER_MONTH = 30.4375


@dataclass
class ObsDesign:
    """Observation rows matched to the model's weekly grid, ready for vectorised scoring."""

    rows: pd.DataFrame  # source, metric, region, period_start, period_end, value, group
    weights: np.ndarray  # (W, K) share of each model week inside each row's period
    region_index: np.ndarray  # (K,) -1 = national
    quantity: np.ndarray  # (K,) "is" | "militia" | "is+militia"
    rate: np.ndarray  # (K,) parameter names
    background: np.ndarray  # (K,) parameter names or ""
    months: np.ndarray  # (K,) period length in months
    dispersion: np.ndarray  # (K,)
    #: (K,) -1 for a level row; else the snapshot a share row belongs to (its governorates'
    #: counts are read as shares of the snapshot's total, see :func:`fit_rows`)
    snapshot: np.ndarray | None = None
    week_starts: np.ndarray | None = None  # (W,) datetime64[D]
    #: span of each drifting series' reports, by rate parameter (see :mod:`.drift`)
    drift_windows: dict[str, Window | None] | None = None

    @property
    def y(self) -> np.ndarray:
        return self.rows["value"].to_numpy(float)


def design(obs: pd.DataFrame, week_starts: np.ndarray, codes: tuple[str, ...],
           national: str = "IQ") -> ObsDesign:
    """Keep the rows the observation model knows and that lie inside the simulated weeks."""
    keep = [(s, m) in MAPPING for s, m in zip(obs["source"], obs["metric"], strict=True)]
    rows = obs.loc[keep].copy()
    ws = week_starts.astype("datetime64[D]")
    first, last = ws[0], ws[-1] + 6
    ps = rows["period_start"].to_numpy("datetime64[D]")
    pe = rows["period_end"].to_numpy("datetime64[D]")
    inside = (ps >= first) & (pe <= last)
    inside &= rows["region"].isin([national, *codes]).to_numpy()
    rows = rows.loc[inside].reset_index(drop=True)
    ps, pe = ps[inside], pe[inside]
    weights = period_weights(ws, ps, pe)
    m = [MAPPING[(s, x)] for s, x in zip(rows["source"], rows["metric"], strict=True)]
    days = (pe - ps).astype(float) + 1
    gran = rows.get("granularity", pd.Series([""] * len(rows)))
    rows["group"] = rows["source"] + ":" + rows["metric"] + ":" + np.where(
        rows["region"] == national, "national", "regional") + ":" + gran.astype(str)
    code_idx = {c: i for i, c in enumerate(codes)}
    if "role" in rows:
        share = (rows["role"] == "share").to_numpy()
        key = rows["source"] + rows["metric"] + rows["period_start"].astype(str) + rows["period_end"].astype(str)
        ids = pd.factorize(key)[0]
        snapshot = np.where(share, ids, -1)
    else:
        snapshot = np.full(len(rows), -1)
    return ObsDesign(
        rows=rows, weights=weights,
        region_index=np.array([code_idx.get(r, -1) for r in rows["region"]], dtype=int),
        quantity=np.array([q for q, _, _ in m]), rate=np.array([r for _, r, _ in m]),
        background=np.array([b or "" for _, _, b in m]), months=days / DAYS_PER_MONTH,
        dispersion=np.array([dispersion(s, m) for s, m in zip(rows["source"], rows["metric"],
                                                               strict=True)]),
        snapshot=snapshot, week_starts=ws, drift_windows=windows(rows, national))


def fit_rows(obs: pd.DataFrame, national: str = "IQ") -> pd.DataFrame:
    """The rows the ABC fits, each fact once (issue #9: overlapping rows counted as
    independent, weekly snapshots read as levels).

    National series: one non-overlapping partition per source and metric — complete months
    first, then quarters, years and multi-month rows over the months still uncovered (the
    remainder of a year: its total minus the rows inside it), never weeks: the Musings weekly
    snapshots are weeks picked for news value (1.64x their months in 2019), not levels.
    Governorate rows: real governorate counts (UCDP GED) are levels; snapshots of media
    reports (Musings) are read as *shares* — where the violence was, not how much — their
    counts against the model's governorate shares. Adds a ``role`` column (level|share)."""
    out = []
    for (src, met, reg), g in obs.groupby(["source", "metric", "region"], sort=False):
        if (src, met) not in MAPPING:
            continue
        if reg != national:
            if src == "musings":
                out.append(g.assign(role="share"))
            else:
                out.append(g[g["granularity"] != "week"].assign(role="level"))
            continue
        keep = []
        for r, months, value, whole in cover(g, others=True, contiguous=True):
            row = r.copy()
            if not whole:
                row["period_start"] = pd.Timestamp(year=months[0] // 12, month=months[0] % 12 + 1, day=1)
                row["period_end"] = (pd.Timestamp(year=months[-1] // 12, month=months[-1] % 12 + 1, day=1)
                                     + pd.offsets.MonthEnd(0))
                row["value"] = value
                row["granularity"] = f"{r['granularity']} remainder"
            keep.append(row)
        if keep:
            out.append(pd.DataFrame(keep).assign(role="level"))
    if not out:
        return obs.iloc[:0].assign(role=pd.Series(dtype=str))
    return pd.concat(out, ignore_index=True)


def expected(d: ObsDesign, arrays: dict[str, np.ndarray], params: dict[str, np.ndarray]) -> np.ndarray:
    """Expected observation for every run and row: (n, K)."""
    n = arrays["is_attacks"].shape[0]
    K = len(d.rows)
    x = np.zeros((n, K))
    ratios = weekly_ratios(d.week_starts, d.drift_windows or {}, params, d.rate)
    for qname in np.unique(d.quantity):
        if qname == "is":
            q = arrays["is_attacks"]
        elif qname == "militia":
            q = arrays["militia_attacks_us"]
        else:
            q = arrays["is_attacks"] + arrays["militia_attacks_us"]
        q64 = q.astype(np.float64)
        qs = q64.sum(axis=2)  # national
        for rate in np.unique(d.rate[d.quantity == qname]):
            sel = (d.quantity == qname) & (d.rate == rate)
            rt = ratios.get(rate)  # (n, W): the same in every governorate
            nat = sel & (d.region_index < 0)
            if nat.any():
                x[:, nat] = (qs if rt is None else qs * rt) @ d.weights[:, nat]
            for r in np.unique(d.region_index[sel & (d.region_index >= 0)]):
                cols = sel & (d.region_index == r)
                x[:, cols] = (q64[:, :, r] if rt is None else q64[:, :, r] * rt) @ d.weights[:, cols]
    mu = np.empty_like(x)
    for name in np.unique(d.rate):
        cols = d.rate == name
        mu[:, cols] = params[name][:, None] * x[:, cols]
    for name in np.unique(d.background):
        if name:
            cols = d.background == name
            mu[:, cols] += params[name][:, None] * d.months[cols][None, :]
    return mu


def distance(d: ObsDesign, mu: np.ndarray) -> np.ndarray:
    """ABC distance per run: root mean squared standardised log error, each group of
    series (source, metric, level, granularity) weighted equally, plus one trend term per
    monthly series (see :func:`trend_terms`), weighted like a group."""
    y = d.y[None, :]
    z = (np.log1p(y) - np.log1p(mu)) / np.sqrt(1.0 / (mu + 1.0) + 1.0 / d.dispersion[None, :])
    snap = d.snapshot if d.snapshot is not None else np.full(len(d.rows), -1)
    level = snap < 0
    groups = d.rows["group"].to_numpy()
    parts = [np.mean(z[:, (groups == g) & level] ** 2, axis=1) for g in np.unique(groups[level])]
    if (~level).any():
        parts.append(share_term(d, mu))
    parts += trend_terms(d, mu)
    return np.sqrt(np.mean(parts, axis=0))


#: pseudo-count per governorate added to the model's shares at the snapshot's own size
#: (Jeffreys / Krichevsky-Trofimov): a governorate the model leaves (nearly) empty costs
#: a bounded amount, not ~20 units of deviance per reported incident
SHARE_PSEUDOCOUNT = 0.5


def share_term(d: ObsDesign, mu: np.ndarray) -> np.ndarray:
    """Mean over snapshots of the multinomial deviance per degree of freedom of the
    governorate counts against the model's governorate shares, read as a Dirichlet-
    multinomial with the source's dispersion ``k`` as concentration (about 1 when they fit
    as well as that sampling allows; snapshots of one governorate carry no share and are
    skipped).

    Two things make it comparable with the level groups (issue #9): (1) the shares do not
    become exact as a snapshot's count grows, as a level's noise does not shrink below
    ``1/k`` — the deviance per degree of freedom is divided by the Dirichlet-multinomial
    variance factor ``(N + k) / (1 + k)``; (2) the model's shares take
    :data:`SHARE_PSEUDOCOUNT` per governorate at the snapshot's size ``N`` (``(N q + 0.5) /
    (N + 0.5 K)``), so a governorate where the simulation (or a noisy draw of it) has
    nothing — Musings counts criminal and tribal incidents in Basra or Babil that the model
    does not simulate — does not dominate the distance. Without them the term was 10-20
    times a level group's, and, as a higher simulated level leaves fewer governorates at
    zero, it rewarded levels above the reports."""
    assert d.snapshot is not None
    out = np.zeros(mu.shape[0])
    scored = 0
    for s in np.unique(d.snapshot[d.snapshot >= 0]):
        cols = np.flatnonzero(d.snapshot == s)
        y = d.y[cols]
        K, N = len(cols), float(y.sum())
        if K < 2 or N <= 0:
            continue
        scored += 1
        m = np.maximum(mu[:, cols], 0.0)
        q = m / np.maximum(m.sum(axis=1, keepdims=True), 1e-12)
        p = (N * q + SHARE_PSEUDOCOUNT) / (N + SHARE_PSEUDOCOUNT * K)
        pos = y > 0
        dev = 2.0 * (y[pos][None, :] * np.log(y[pos][None, :] / (N * p[:, pos]))).sum(axis=1)
        k = float(d.dispersion[cols[0]])
        out += dev / (K - 1) / ((N + k) / (1.0 + k))
    return out / max(scored, 1)


#: a monthly series with at least this many months contributes a trend term
TREND_MIN_MONTHS = 12


def trend_terms(d: ObsDesign, mu: np.ndarray) -> list[np.ndarray]:
    """Squared standardised difference between the observed and simulated log-linear trend
    of each national monthly series: levels alone let a flat path through a falling series
    score as well as one that falls with it (issue #9); the trend term tells them apart. The
    slope's standard error is the least-squares one under the rows' own noise."""
    out = []
    gran = d.rows.get("granularity", pd.Series([""] * len(d.rows))).to_numpy()
    groups = d.rows["group"].to_numpy()
    for g in np.unique(groups):
        cols = np.flatnonzero((groups == g) & (gran == "month") & (d.region_index < 0))
        if len(cols) < TREND_MIN_MONTHS:
            continue
        t = d.rows["period_start"].to_numpy("datetime64[D]")[cols].astype(float) / 365.25
        tc = t - t.mean()
        sxx = float((tc ** 2).sum())
        y = np.log1p(d.y[cols])
        m = np.log1p(mu[:, cols])
        var = np.mean(1.0 / (d.y[cols] + 1.0) + 1.0 / d.dispersion[cols])
        b_obs = float((tc * (y - y.mean())).sum() / sxx)
        b_sim = ((m - m.mean(axis=1, keepdims=True)) * tc[None, :]).sum(axis=1) / sxx
        out.append((b_sim - b_obs) ** 2 / (var / sxx))
    return out


def draw(mu: np.ndarray, dispersion: np.ndarray | float, u: np.ndarray) -> np.ndarray:
    """Observed counts around ``mu`` with the source's negative-binomial noise."""
    return samplers.negbin(mu, dispersion, u)
