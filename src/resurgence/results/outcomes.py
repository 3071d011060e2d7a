"""Per-run outcomes: the scalars that scenario contrasts and claims are read from.

Each outcome maps one run's weekly series to a number (e.g. IS attacks in the first year,
whether IS holds ground within 12 months). They are computed in the workers for every
chunk, so contrasts never need the full series in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from resurgence.core.timegrid import WeekGrid
from resurgence.theatre.theatre import Theatre

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    name: str
    unit: str
    description: str
    fn: Callable[[Arrays, Theatre, WeekGrid], np.ndarray]


def _weeks(a: np.ndarray, w0: int, w1: int) -> np.ndarray:
    return a[:, w0:min(w1, a.shape[1])]


def _total(metric: str, w0: int = 0, w1: int = 10**6, mask: str | None = None):
    def f(x: Arrays, th: Theatre, g: WeekGrid) -> np.ndarray:
        a = x[metric]
        if a.ndim == 3:
            sel = np.ones(th.n_regions, bool) if mask is None else _mask(th, mask)
            a = a[:, :, sel].sum(axis=2)
        return _weeks(a, w0, w1).sum(axis=1, dtype=np.float64)
    return f


def _mask(th: Theatre, name: str) -> np.ndarray:
    if name == "liberated":
        return th.flags["liberated"]
    if name == "outside_core":  # beyond the northern/western belt and Kurdistan
        return ~th.flags["liberated"] & ~th.flags["kurdistan"] & (th.population < th.population.max())
    if name == "disputed":
        return th.flags["disputed"]
    raise KeyError(name)


def _end(metric: str, how: str = "sum"):
    def f(x: Arrays, th: Theatre, g: WeekGrid) -> np.ndarray:
        a = x[metric][:, -1]
        if a.ndim == 1:
            return a.astype(np.float64)
        if how == "popmean":
            return (a * (th.population / th.population.sum())).sum(axis=1, dtype=np.float64)
        return a.sum(axis=1, dtype=np.float64)
    return f


def _ever(metric: str, w1: int):
    def f(x: Arrays, th: Theatre, g: WeekGrid) -> np.ndarray:
        a = x[metric]
        if a.ndim == 3:
            a = a.max(axis=2)
        return (_weeks(a, 0, w1).max(axis=1) > 0).astype(np.float64)
    return f


def _mean(metric: str, w0: int = 0, w1: int = 10**6):
    def f(x: Arrays, th: Theatre, g: WeekGrid) -> np.ndarray:
        a = x[metric]
        if a.ndim == 3:
            a = (a * (th.population / th.population.sum())).sum(axis=2)
        return _weeks(a, w0, w1).mean(axis=1, dtype=np.float64)
    return f


OUTCOMES: list[Outcome] = [
    Outcome("is_attacks_y1", "attacks", "IS attacks, first 52 weeks", _total("is_attacks", 0, 52)),
    Outcome("is_attacks_y2", "attacks", "IS attacks, weeks 53-104", _total("is_attacks", 52, 104)),
    Outcome("is_attacks_liberated_y1", "attacks", "IS attacks in liberated governorates, first 52 weeks",
            _total("is_attacks", 0, 52, "liberated")),
    Outcome("is_attacks_outside_core", "attacks", "IS attacks outside the northern belt, Kurdistan and the capital",
            _total("is_attacks", mask="outside_core")),
    Outcome("is_attacks_infra", "attacks", "IS attacks on infrastructure, whole horizon",
            _total("is_attacks_infra")),
    Outcome("is_fighters_end", "fighters", "IS fighters at the end", _end("is_fighters")),
    Outcome("is_villages_end", "villages", "IS-held or contested villages at the end", _end("is_villages")),
    Outcome("holds_ground_6m", "probability", "IS holds ground within 26 weeks", _ever("is_holds_ground", 26)),
    Outcome("holds_ground_12m", "probability", "IS holds ground within 52 weeks", _ever("is_holds_ground", 52)),
    Outcome("holds_ground_24m", "probability", "IS holds ground within 104 weeks", _ever("is_holds_ground", 104)),
    Outcome("collapse_any", "probability", "host forces collapse in some governorate", _ever("collapsed", 10**6)),
    Outcome("militia_attacks_us", "attacks", "militia attacks on US sites, whole horizon",
            _total("militia_attacks_us")),
    Outcome("iran_influence_end", "0-1", "Iranian influence at the end (population mean)",
            _end("iran_influence", "popmean")),
    Outcome("us_leverage_end", "index", "US leverage at the end", _end("us_leverage")),
    Outcome("pressure_mean", "0-1", "mean pressure to expel US forces", _mean("political_pressure")),
    Outcome("exit_ordered", "probability", "the government orders US forces out", _ever("exit_ordered", 10**6)),
    Outcome("host_strength_mean", "index", "mean host strength (population mean)", _mean("host_strength")),
    Outcome("be_coordination_end", "0-1", "Baghdad-Erbil coordination at the end", _end("be_coordination")),
    Outcome("bases_open_end", "bases", "open US bases at the end", _end("bases_open")),
    Outcome("us_troops_end", "troops", "US troops at the end", _end("us_troops")),
    Outcome("host_capability_end", "index", "host-force capability at the end", _end("host_capability")),
    Outcome("militia_strength_end", "index", "militia strength at the end", _end("militia_strength")),
    Outcome("is_removed_air", "fighters", "IS fighters removed by air strikes, whole horizon",
            _total("is_removed_air")),
    Outcome("villages_cleared", "villages", "villages cleared by host operations, whole horizon",
            _total("villages_cleared")),
    Outcome("is_inflow", "fighters", "IS fighters arriving from Syria, whole horizon", _total("is_inflow")),
]
OUTCOME_BY_NAME = {s.name: s for s in OUTCOMES}


def run_outcomes(arrays: Arrays, theatre: Theatre, grid: WeekGrid) -> dict[str, np.ndarray]:
    return {s.name: s.fn(arrays, theatre, grid) for s in OUTCOMES}
