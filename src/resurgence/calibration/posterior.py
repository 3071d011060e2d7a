"""Posterior samples: parameter draws that scenarios, forecasts and the brief run on.

A posterior holds ``D`` equally weighted draws of the calibrated parameters, the date the
simulation starts from (initial-state parameters refer to that date) and the last date of
data that informed it. Run ``i`` of any ensemble uses draw ``i mod D``: by run index, so
parameter uncertainty flows into every output without breaking chunk invariance or
common random numbers (paired scenarios share draws).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from resurgence.calibration.obsmodel import OBS_PARAMS
from resurgence.calibration.origin import OriginStates
from resurgence.core.atomic import atomic_write_text
from resurgence.core.errors import PosteriorError
from resurgence.model.params import Param, ParamSet
from resurgence.model.sim import all_params
from resurgence.runs.prepare import Carried


def full_specs() -> list[Param]:
    """Dynamics parameters plus observation-model parameters."""
    return [*all_params(), *OBS_PARAMS]


@dataclass
class Posterior:
    case: str
    start: dt.date  # simulation start the draws were fitted for
    until: dt.date  # last date of data used
    draws: pd.DataFrame  # one row per draw, one column per calibrated parameter
    meta: dict = field(default_factory=dict)
    #: each draw's state on the forecast origin, filtered on the data (see
    #: :mod:`resurgence.calibration.origin`); runs that start on or after it begin there
    states: OriginStates | None = None

    @property
    def size(self) -> int:
        return len(self.draws)

    def paramset(self, run_ids: np.ndarray, overrides: dict[str, float] | None = None) -> ParamSet:
        """Per-run values: run i takes draw i mod D; other parameters keep their defaults."""
        idx = np.asarray(run_ids, dtype=np.int64) % self.size
        ps = ParamSet.defaults(full_specs(), len(idx))
        ps = ps.with_overrides({c: self.draws[c].to_numpy(float)[idx] for c in self.draws})
        return ps.with_overrides(overrides) if overrides else ps

    def carried(self, run_ids: np.ndarray) -> Carried | None:
        """The origin state of each run (run i: draw i mod D), or None without states."""
        if self.states is None:
            return None
        return self.states.carried(np.asarray(run_ids, dtype=np.int64) % self.size)

    def manifest_entry(self) -> dict:
        """What a results bundle records of the posterior its runs used."""
        out = {"case": self.case, "start": self.start.isoformat(),
               "until": self.until.isoformat(), "draws": self.size,
               **{k: v for k, v in self.meta.items() if k in ("seed", "method")}}
        if self.states is not None:
            out["origin_states"] = {"date": self.states.date.isoformat(),
                                    **{k: self.states.meta.get(k) for k in ("particles", "seed",
                                                                            "reports")}}
        return out

    @staticmethod
    def states_path(path: str | Path) -> Path:
        """Where a posterior file's origin states live: ``name.origin.npz`` beside it."""
        path = Path(path)
        return path.with_name(path.stem + ".origin.npz")

    def save(self, path: str | Path) -> Path:
        """CSV of draws with a JSON header line of metadata (small, diffable, atomic)."""
        path = Path(path)
        header = {"case": self.case, "start": self.start.isoformat(),
                  "until": self.until.isoformat(), **self.meta}
        text = "# " + json.dumps(header, sort_keys=True, default=str) + "\n"
        text += self.draws.to_csv(index=False, float_format="%.6g")
        atomic_write_text(path, text)
        if self.states is not None:
            self.states.save(self.states_path(path))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Posterior:
        path = Path(path)
        if not path.is_file():
            raise PosteriorError(f"{path}: no such posterior file")
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
            if not first.startswith("# {"):
                raise PosteriorError(f"{path}: line 1: expected a '# {{...}}' metadata header")
            meta = json.loads(first[2:])
            draws = pd.read_csv(fh)
        post = cls._from(meta, draws, str(path))
        sp = cls.states_path(path)
        if sp.is_file():
            states = OriginStates.load(sp)
            if states.draws != post.size:
                raise PosteriorError(f"{sp}: {states.draws} origin states for {post.size} draws")
            post.states = states
        return post

    @classmethod
    def _from(cls, meta: dict, draws: pd.DataFrame, label: str) -> Posterior:
        known = {p.name for p in full_specs()}
        bad = [c for c in draws.columns if c not in known]
        if bad:
            raise PosteriorError(f"{label}: column '{bad[0]}': unknown parameter")
        if draws.empty or draws.isna().any().any():
            raise PosteriorError(f"{label}: posterior draws are empty or contain missing values")
        m = dict(meta)
        return cls(m.pop("case"), dt.date.fromisoformat(m.pop("start")),
                   dt.date.fromisoformat(m.pop("until")), draws, m)


def shipped(case: str = "iraq-2020") -> Posterior | None:
    res = resources.files("resurgence") / "data" / "posteriors" / f"{case}.csv"
    if not res.is_file():
        return None
    with resources.as_file(res) as p:
        return Posterior.load(p)


def resolve_posterior(spec: str | Path | None, case: str = "iraq-2020") -> Posterior | None:
    """``shipped`` (the packaged posterior of ``case``, if any), ``none`` (versioned
    defaults, no spin-up) or a path to a posterior file."""
    if spec is None or str(spec) == "shipped":
        return shipped(case)
    if str(spec) == "none":
        return None
    return Posterior.load(spec)


def usable_for(post: Posterior | None, start: dt.date) -> Posterior | None:
    """A posterior informs a run only if its data end before the run's start date."""
    return post if post is not None and start > post.until else None
