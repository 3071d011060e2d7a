"""Scenarios: TOML files validated with pydantic, composable by overlay.

A scenario gives dated schedules for every policy lever and exogenous condition, base
closures, dated shocks, an optional responsive-policy mode and parameter overrides. A
scenario may name a ``base``: its schedules keep the base's points dated before the
overlay's first point (history is kept, the future replaced); bases, shocks and
parameter overrides are merged. Bad input raises :class:`ScenarioError` with one line
naming the file, the field, the value and what was expected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from resurgence.core.errors import ScenarioError
from resurgence.scenario import toml_limits

DEFAULT_START = dt.date(2020, 12, 1)
DATE_MIN, DATE_MAX = dt.date(2000, 1, 1), dt.date(2100, 12, 31)  # every date of a scenario
MAX_WEEKS = 1040  # a scenario's horizon (20 years)
MAX_SPINUP_WEEKS = 520  # weeks simulated before the start (from a posterior's start date)
MAX_BASE_CHAIN = 16  # scenarios in one chain of bases

Date = Annotated[dt.date, Field(ge=DATE_MIN, le=DATE_MAX)]
Point = tuple[Date, float]

#: US troops in Iraq in late 2020 (DoD, September 2020 cut to 3,000): the troop schedule's
#: default and the reference at which the model's enabler levels equal 1 (``troops_ref``).
REFERENCE_TROOPS = 3000.0

# lever -> (default when never scheduled, lower bound, upper bound, unit/meaning)
SCHEDULES: dict[str, tuple[float, float, float, str]] = {
    "troops": (REFERENCE_TROOPS, 0.0, 200_000.0, "US troops in Iraq (headcount)"),
    "isr": (1.0, 0.0, 2.0, "partner ISR/intelligence capacity, 1 = late-2020 level"),
    "air": (1.0, 0.0, 2.0, "coalition air-strike capacity, 1 = late-2020 level"),
    "training": (1.0, 0.0, 2.0, "training/advice intensity per adviser, 1 = late-2020"),
    "planning": (1.0, 0.0, 2.0, "operational planning support intensity, 1 = late-2020"),
    "mediation": (1.0, 0.0, 1.0, "US mediation between Baghdad and Erbil (0-1)"),
    "isr_over_horizon": (0.0, 0.0, 1.0, "share of ISR flown from outside Iraq (0-1)"),
    "air_over_horizon": (0.0, 0.0, 1.0, "share of air support flown from outside Iraq (0-1)"),
    "pandemic": (0.0, 0.0, 1.0, "pandemic pressure on host forces (0-1)"),
    "protests": (0.0, 0.0, 1.0, "anti-government protest intensity (0-1)"),
    "corruption": (0.5, 0.0, 1.0, "corruption in the security apparatus (0-1)"),
    "political_division": (0.5, 0.0, 1.0, "political division reaching the forces (0-1)"),
    "us_iran_tension": (1.0, 0.0, 2.0, "US-Iran tension, 1 = 'maximum pressure' 2019-20"),
    "syria_instability": (1.0, 0.0, 3.0, "chaos across the Syrian border, 1 = 2020 level"),
}

ShockKind = Literal["strike", "expulsion_vote", "pandemic_wave", "protest_wave",
                    "political_crisis", "is_surge", "militia_truce", "syria_chaos"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Shock(_Strict):
    _origin: str | None = PrivateAttr(default=None)  # "file: field 'shocks.i" for messages
    date: Date
    kind: ShockKind
    region: str = "IQ"
    magnitude: Annotated[float, Field(ge=0.0, le=10.0)] = 1.0
    weeks: Annotated[int, Field(ge=1, le=520)] = 4
    note: str = ""


class BaseChange(_Strict):
    _origin: str | None = PrivateAttr(default=None)
    name: str = Field(description="base name as in the theatre's bases.csv, or '*' for all")
    close: Date | None = None
    reopen: Date | None = None


class Policy(_Strict):
    responsive: bool = Field(False, description="government expels US forces when pressure "
                             "crosses expel_threshold (C24)")
    expel_threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.75
    exit_weeks: Annotated[int, Field(ge=1, le=260)] = 26


class Schedules(_Strict):
    troops: list[Point] | None = None
    isr: list[Point] | None = None
    air: list[Point] | None = None
    training: list[Point] | None = None
    planning: list[Point] | None = None
    mediation: list[Point] | None = None
    isr_over_horizon: list[Point] | None = None
    air_over_horizon: list[Point] | None = None
    pandemic: list[Point] | None = None
    protests: list[Point] | None = None
    corruption: list[Point] | None = None
    political_division: list[Point] | None = None
    us_iran_tension: list[Point] | None = None
    syria_instability: list[Point] | None = None

    @field_validator("*", mode="after")
    @classmethod
    def _check(cls, v: list[Point] | None, info) -> list[Point] | None:
        if v is None:
            return v
        _, lo, hi, meaning = SCHEDULES[info.field_name]
        if not v:
            raise ValueError("needs at least one [date, value] point")
        for i, (d, x) in enumerate(v):
            if not lo <= x <= hi:
                raise ValueError(f"point {i} value {x:g} outside [{lo:g}, {hi:g}] ({meaning})")
            if i and d <= v[i - 1][0]:
                raise ValueError(f"point {i} date {d} is not after {v[i - 1][0]}")
        return v


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
    title: str = ""
    description: str = ""
    base: str | None = None
    claims: list[str] = []
    start: Date = DEFAULT_START
    weeks: Annotated[int, Field(ge=1, le=MAX_WEEKS)] = 104
    schedules: Schedules = Schedules()
    bases: list[BaseChange] = []
    shocks: list[Shock] = []
    policy: Policy = Policy()
    params: dict[str, float] = {}

    def digest(self) -> str:
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def where(self, item: Shock | BaseChange, kind: str, index: int, attr: str) -> str:
        """``file: field 'shocks.i.attr'`` for an item of this scenario (its own file and
        index when it came from a file, else the scenario's merged list)."""
        origin = item._origin or f"{self.name}: field '{kind}.{index}"
        return f"{origin}.{attr}'"

    def schedule(self, lever: str) -> list[Point]:
        return getattr(self.schedules, lever) or []


def check_spinup(sc: Scenario, spinup: dt.date | None, label: str | None = None) -> None:
    """Refuse a run that would simulate more than :data:`MAX_SPINUP_WEEKS` weeks from
    ``spinup`` (e.g. a posterior's start) before the scenario's start."""
    if spinup is not None and (sc.start - spinup).days > 7 * MAX_SPINUP_WEEKS:
        raise ScenarioError(f"{label or sc.name}: field 'start' = {sc.start}: runs from a "
                            f"posterior spin up from {spinup}: at most {MAX_SPINUP_WEEKS} "
                            "weeks of spin-up before the start (or run without a posterior)")


def distinct_pair(a: Scenario, b: Scenario, labels: tuple[str, str] = ("a", "b")
                  ) -> tuple[Scenario, Scenario]:
    """Two scenarios for one paired comparison, under distinct names: the same scenario twice
    keeps both, ``b`` renamed ``<name>-b``; two different scenarios sharing a name are a
    ScenarioError (their results could not be told apart)."""
    if a.name != b.name:
        return a, b
    if a.digest() != b.digest():
        raise ScenarioError(f"scenarios '{labels[0]}' and '{labels[1]}' differ but share the "
                            f"name {a.name!r}: rename one")
    return a, b.model_copy(update={"name": f"{b.name[:62]}-b"})


def _format_error(source: str, err: ValidationError) -> str:
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
    value = e.get("input")
    shown = json.dumps(value, default=str) if not isinstance(value, dict) else "{…}"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    msg = e["msg"].removeprefix("Value error, ")
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: field '{loc}' = {shown}: {msg}{more}"


def shipped_names() -> list[str]:
    folder = resources.files("resurgence.scenario") / "shipped"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def variant_names() -> list[str]:
    """The claim-check variants (``scenario/variants/*.toml``): each overlays a shipped
    scenario; loadable by name like a shipped one, not listed with them."""
    folder = resources.files("resurgence.scenario") / "variants"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def _read_shipped(name: str) -> tuple[str, dict]:
    folder = "shipped" if name in shipped_names() else "variants"
    res = resources.files("resurgence.scenario") / folder / f"{name}.toml"
    label = f"{name}.toml"
    return label, toml_limits.loads(res.read_text(encoding="utf-8"), label)


def _read_file(p: Path) -> tuple[str, dict]:
    label = str(p)
    return label, toml_limits.loads(toml_limits.read_text(p, label), label)


def parse_scenario(data: dict, source: str = "<scenario>") -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_format_error(source, exc)) from None


def _merge(base: Scenario, over: Scenario, fields_set: set[str]) -> Scenario:
    sched = {}
    for lever in SCHEDULES:
        b, o = base.schedule(lever), over.schedule(lever)
        sched[lever] = ([p for p in b if p[0] < o[0][0]] + o) if o else (b or None)
    merged = base.model_dump()
    merged.update({k: getattr(over, k) for k in fields_set
                   if k not in {"schedules", "bases", "shocks", "params", "base", "policy"}})
    policy = base.policy.model_copy(update={k: getattr(over.policy, k)
                                            for k in over.policy.model_fields_set})
    merged.update(policy=policy, schedules=Schedules(**sched), bases=[*base.bases, *over.bases],
                  shocks=[*base.shocks, *over.shocks], params={**base.params, **over.params},
                  base=over.base)
    return Scenario.model_validate(merged)


def scenario_from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a dict (e.g. from JSON or a web request), resolving its
    ``base``, which must name a shipped scenario (no file paths are taken from such input)."""
    base = data.get("base") if isinstance(data, dict) else None
    if base is not None and base not in shipped_names():
        shown = repr(base)[:60] if isinstance(base, str) else type(base).__name__
        raise ScenarioError(f"{source}: field 'base' = {shown}: expected one of "
                            f"{', '.join(shipped_names())}")
    return _resolve(source, data, None, None)


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name or a TOML file by path, resolving its ``base``.

    A ``base`` is a shipped scenario's name or a ``.toml`` path relative to the file that
    names it, which must lie inside the first file's directory (real paths: links and
    ``..`` resolved); a chain of bases is at most :data:`MAX_BASE_CHAIN` long and may not
    come back to a file it has passed. Each refusal is one line naming the chain."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.is_file():
        if not p.is_file():
            what = "a directory, not a scenario file" if p.is_dir() else "no such scenario file"
            raise ScenarioError(f"{p}: {what}")
        label, data = _read_file(p)
        real = p.resolve()
        return _resolve(label, data, real, real.parent)
    name = str(name_or_path)
    if name not in shipped_names() and name not in variant_names():
        raise ScenarioError(f"unknown scenario {name[:80]!r}: expected a file path or one of "
                            f"{', '.join(shipped_names())}")
    label, data = _read_shipped(name)
    return _resolve(label, data, None, None)


def _open_base(base: str, parent: str, path: Path | None, root: Path | None
               ) -> tuple[str, dict, Path | None, str]:
    """(label, data, real path or None, identity) of the base ``parent`` names."""
    if base.endswith(".toml"):
        if path is None or root is None:
            raise ScenarioError(f"{parent}: field 'base' = {base[:80]!r}: expected a shipped "
                                f"scenario name ({', '.join(shipped_names())}); only scenario "
                                "files may name a file")
        target = path.parent / base
        real = target.resolve()
        if not real.is_relative_to(root):
            raise ScenarioError(f"{parent}: field 'base' = {base[:80]!r}: outside the scenario's "
                                f"directory {root}")
        if not real.is_file():
            raise ScenarioError(f"{parent}: field 'base' = {base[:80]!r}: no such scenario file "
                                f"{target}")
        label, data = _read_file(target)
        return label, data, real, str(real)
    if base not in shipped_names():
        raise ScenarioError(f"{parent}: field 'base' = {base[:80]!r}: unknown scenario "
                            f"{base[:80]!r}: expected one of {', '.join(shipped_names())} or a "
                            "path ending in .toml")
    label, data = _read_shipped(base)
    return label, data, None, f"shipped:{base}"


def _resolve(label: str, data: dict, path: Path | None, root: Path | None) -> Scenario:
    """Follow the chain of bases (a loop, not recursion), then merge from the last base up."""
    chain: list[tuple[str, dict, Scenario]] = []
    seen = {str(path) if path is not None else f"<top>:{label}"}
    while True:
        try:
            sc = parse_scenario(data, label)
        except ScenarioError as exc:
            if not chain:
                raise
            raise ScenarioError(f"{chain[-1][0]}: field 'base' = {chain[-1][2].base!r}: "
                                f"{exc}") from None
        for i, sh in enumerate(sc.shocks):  # remember where each item came from, for messages
            sh._origin = f"{label}: field 'shocks.{i}"
        for i, b in enumerate(sc.bases):
            b._origin = f"{label}: field 'bases.{i}"
        chain.append((label, data, sc))
        if sc.base is None:
            break
        names = " -> ".join(c[0] for c in chain)
        if len(chain) >= MAX_BASE_CHAIN:
            raise ScenarioError(f"{chain[0][0]}: field 'base': a chain of more than "
                                f"{MAX_BASE_CHAIN} scenarios: {_short(names)} -> ...")
        label, data, path, key = _open_base(sc.base, label, path, root)
        if key in seen:
            raise ScenarioError(f"{chain[0][0]}: field 'base' makes a cycle: "
                                f"{_short(names)} -> {label}")
        seen.add(key)
    out = chain[-1][2]
    for _, d, over in reversed(chain[:-1]):
        out = _merge(out, over, set(d))
    return out


def _short(chain: str, limit: int = 400) -> str:
    return chain if len(chain) <= limit else chain[:limit // 2] + " ... " + chain[-limit // 2:]
