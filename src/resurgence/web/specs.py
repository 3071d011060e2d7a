"""Request bodies of the HTTP API and how they become validated scenarios.

Everything a request names is checked before a job is queued: the scenario (shipped name,
or an inline object validated by :func:`resurgence.scenario.schema.scenario_from_dict`, whose
``base`` may only be a shipped name), region and base codes, parameter overrides, and the
server's limits on runs and weeks. Failures raise :class:`ApiError` with one line.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from resurgence.model.params import check_overrides
from resurgence.scenario import toml_limits
from resurgence.scenario.schema import (
    Scenario,
    ScenarioError,
    check_spinup,
    distinct_pair,
    load_scenario,
    scenario_from_dict,
    shipped_names,
)
from resurgence.web.settings import Settings

SEED_MAX = 2**63 - 1
ScenarioSpec = Annotated[str | dict[str, Any], Field(
    description="a shipped scenario name, or an inline scenario object (the fields of a "
                "scenario TOML file; 'base' may name a shipped scenario)")]


Label = Annotated[str | None, Field(
    max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$",
    description="a label for the job (plain text, at most 80 characters, no control "
                "characters); returned in the job's JSON")]


class ApiError(Exception):
    """An error answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    runs: Annotated[int, Field(strict=True, ge=1, description="Monte Carlo runs per scenario")] = 200
    seed: Annotated[int, Field(strict=True, ge=0, le=SEED_MAX, description="root seed")] = 1
    weeks: Annotated[int | None, Field(strict=True, ge=1, description="override the "
                                       "scenario horizon (weeks)")] = None
    posterior: Literal["shipped", "none"] = Field(
        "shipped", description="'shipped': calibrated iraq-2020 draws, runs start from each draw's filtered state on 2020-12-01; "
        "'none': versioned defaults from the scenario start")
    label: Label = None


class RunRequest(_Body):
    scenario: ScenarioSpec


class CompareRequest(_Body):
    a: ScenarioSpec = Field(description="reference scenario A")
    b: ScenarioSpec = Field(description="alternative scenario B (effects are B - A)")


class JobAccepted(BaseModel):
    id: str
    status: str
    kind: str
    scenarios: list[str]
    label: str | None = None
    links: dict[str, str]


def one_line(err: ValidationError, prefix: str = "") -> str:
    """``field 'x.y' = value: message (+n more)`` from a pydantic error."""
    e = err.errors()[0]
    loc = ".".join(str(p) for p in e["loc"] if p != "body") or "(body)"
    return f"{prefix}{field_msg(loc, e.get('input'), e['msg'])}" + (
        f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else "")


def field_msg(loc: str, value: Any, msg: str) -> str:
    if isinstance(value, dict):
        shown = "{…}"
    else:
        try:
            shown = json.dumps(value, default=str)
        except (ValueError, TypeError, RecursionError):
            shown = "…"
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"field '{loc}' = {shown}: {msg.removeprefix('Value error, ')}"


def parse_model(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, one_line(exc)) from None


@functools.lru_cache(maxsize=64)
def _shipped(name: str) -> Scenario:
    return load_scenario(name)


def resolve_spec(spec: str | dict[str, Any], label: str) -> Scenario:
    """A shipped name or an inline object -> a resolved scenario (ScenarioError if bad)."""
    if isinstance(spec, str):
        if spec not in shipped_names():
            raise ScenarioError(f"field '{label}' = {spec[:60]!r}: unknown scenario; expected "
                                f"an inline scenario object or one of {', '.join(shipped_names())}")
        return _shipped(spec)
    return scenario_from_dict(spec, f"field '{label}'")


def toml_scenario(text: str) -> dict[str, Any]:
    """TOML text -> dict, its size, depth and keys bounded before parsing (one-line error)."""
    return toml_limits.loads(text, "TOML")


@functools.lru_cache(maxsize=1)
def iraq_theatre():
    from resurgence.theatre.theatre import load_theatre

    return load_theatre("iraq")


@functools.lru_cache(maxsize=1)
def _param_specs():
    from resurgence.model.sim import all_params

    return {p.name: p for p in all_params()}


@functools.lru_cache(maxsize=1)
def posterior_start() -> dt.date | None:
    from resurgence.calibration.posterior import resolve_posterior

    post = resolve_posterior("shipped")
    return None if post is None else post.start


def check_scenario(sc: Scenario, settings: Settings, weeks: int | None,
                   label: str = "scenario", posterior: str = "none") -> Scenario:
    """Apply a ``weeks`` override and check everything a run would trip on later."""
    from resurgence.scenario.drivers import compile_drivers

    if weeks is not None:
        if weeks > settings.max_weeks:
            raise ApiError(422, f"field 'weeks' = {weeks}: at most {settings.max_weeks}")
        sc = sc.model_copy(update={"weeks": weeks})
    if sc.weeks > settings.max_weeks:
        raise ApiError(422, f"field '{label}.weeks' = {sc.weeks}: at most {settings.max_weeks} "
                       "on this server (set 'weeks' to shorten it)")
    check_overrides(_param_specs(), sc.params, label)  # the check the CLI and API use
    check_spinup(sc, posterior_start() if posterior == "shipped" else None, label)
    try:
        compile_drivers(sc, iraq_theatre())  # region codes, base names
    except (OverflowError, OSError) as exc:
        raise ScenarioError(f"field '{label}': a date is out of range ({exc})") from None
    return sc


def check_limits(body: _Body, settings: Settings) -> None:
    if body.runs > settings.max_runs:
        raise ApiError(422, f"field 'runs' = {body.runs}: at most {settings.max_runs}")


def run_scenarios(body: RunRequest | CompareRequest, settings: Settings) -> list[Scenario]:
    """The validated scenarios of a run (one) or compare (two, distinct names, one grid)."""
    check_limits(body, settings)
    if isinstance(body, RunRequest):
        return [check_scenario(resolve_spec(body.scenario, "scenario"), settings, body.weeks,
                               "scenario", body.posterior)]
    a = check_scenario(resolve_spec(body.a, "a"), settings, body.weeks, "a", body.posterior)
    b = check_scenario(resolve_spec(body.b, "b"), settings, body.weeks, "b", body.posterior)
    a, b = distinct_pair(a, b)  # the same one twice: b renamed; two sharing a name: 422
    if (a.start, a.weeks) != (b.start, b.weeks):
        raise ApiError(422, f"scenarios 'a' and 'b' must share 'start' and 'weeks': got "
                       f"{a.start}+{a.weeks}w and {b.start}+{b.weeks}w")
    return [a, b]
