#!/usr/bin/env python
"""Print the model's reference tables as Markdown, generated from the code.

    python scripts/gen_param_table.py                 # parameter table (docs/parameters.md)
    python scripts/gen_param_table.py --what posterior # calibrated parameters: prior vs posterior
    python scripts/gen_param_table.py --what metrics  # recorded metrics (docs/results.md)
    python scripts/gen_param_table.py --what outcomes # per-run outcomes (docs/model.md)
    python scripts/gen_param_table.py --what plan     # the weekly step plan (docs/model.md)
    python scripts/gen_param_table.py --what levers   # scenario levers (docs/scenarios.md)
    python scripts/gen_param_table.py --what claims   # the claims registry's checks (docs/model.md)
    python scripts/gen_param_table.py --what all      # everything, as one document

Everything comes from the declarations in ``resurgence.model.mechanisms.*``, ``resurgence.calibration.obsmodel``,
``resurgence.model.sim.PLAN``, ``resurgence.results.outcomes.OUTCOMES``, ``resurgence.scenario.schema.SCHEDULES``,
``resurgence.calibration.cases`` and the shipped posterior, so the tables cannot drift from the code:
regenerate and paste whenever a module, a case or the shipped posterior changes.
"""

from __future__ import annotations

import argparse
import sys


def _esc(s: object) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[object]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_esc(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _param_rows(params) -> list[list[object]]:
    return [[f"`{p.name}`", p.module, f"{p.default:g}", p.units, p.prior.describe(),
             " ".join(p.claims) or "—", p.source, p.description] for p in params]


_PARAM_HEADER = ["name", "module", "default", "units", "prior", "claims", "source", "meaning"]


def params_md() -> str:
    from resurgence.calibration.obsmodel import OBS_PARAMS
    from resurgence.model.params import DEFAULTS_VERSION, defaults_digest
    from resurgence.model.sim import PLAN, all_params

    specs = all_params()
    parts = [f"Default set `{DEFAULTS_VERSION}` (digest `{defaults_digest(specs)}`): "
             f"{len(specs)} dynamics parameters in {len(PLAN)} modules, plus "
             f"{len(OBS_PARAMS)} observation-model parameters. Prior notation: "
             "`LogNormal(median=m, σ=s)` is a log-normal with median m and log-scale s; "
             "`Beta(a, b)`; `Uniform(lo, hi)`; `fixed` = not treated as uncertain."]
    for m in PLAN:
        parts.append(f"\n### `{m.name}` — {m.title}\n")
        parts.append(_table(_PARAM_HEADER, _param_rows(m.params)))
    parts.append("\n### `observation` — how each data source sees the model "
                 "(`resurgence.calibration.obsmodel`)\n")
    parts.append(_table(_PARAM_HEADER, _param_rows(OBS_PARAMS)))
    return "\n".join(parts) + "\n"


def posterior_md(case_name: str = "iraq-2020") -> str:
    from resurgence.calibration.cases import get_case
    from resurgence.calibration.posterior import full_specs, shipped

    case = get_case(case_name)
    post = shipped(case_name)
    specs = {p.name: p for p in full_specs()}
    if post is None:
        return f"No shipped posterior for case `{case_name}`.\n"
    head = (f"Case `{case_name}`: {post.size} draws ({post.meta.get('method', '?')}, seed "
            f"{post.meta.get('seed', '?')}), simulations start {post.start}, data to "
            f"{post.until}. The {len(case.calibrated)} identifiable parameters below are fitted; "
            f"the {len(case.nuisance())} other uncertain ones are sampled with them as nuisance "
            "parameters (`Case.nuisance()`: where the data say nothing their posterior stays "
            "their prior); constants keep their values. The prior is the parameter's declared "
            "prior unless the case overrides it (marked *case*).\n\n")
    rows = []
    for name in case.calibrated:
        p = specs[name]
        prior = case.prior_overrides.get(name)
        pr = f"{prior.describe()} (*case*)" if prior else p.prior.describe()
        if name in post.draws:
            q = post.draws[name].quantile([0.1, 0.5, 0.9]).to_numpy()
            post_s = f"{q[1]:.4g} [{q[0]:.4g}, {q[2]:.4g}]"
        else:
            post_s = "(not in the file)"
        rows.append([f"`{name}`", p.module, f"{p.default:g}", p.units, pr, post_s])
    return head + _table(["name", "module", "default", "units", "prior",
                          "posterior median [P10, P90]"], rows) + "\n"


def metrics_md() -> str:
    from resurgence.model.sim import PLAN

    rows = [[f"`{x.name}`", m.name, x.level, x.unit,
             x.agg if x.level == "region" else "(national state)", x.description]
            for m in PLAN for x in m.metrics]
    return _table(["metric", "module", "level", "unit", "national row", "description"],
                  rows) + "\n"


def outcomes_md() -> str:
    from resurgence.results.bundle.outcomes import OUTCOMES

    return _table(["outcome", "unit", "description"],
                  [[f"`{s.name}`", s.unit, s.description] for s in OUTCOMES]) + "\n"


def plan_md() -> str:
    from resurgence.model.sim import plan_table

    rows = [[r["step"], f"`{r['module']}`", r["reads"], r["writes"], r["records"], r["claims"]]
            for r in plan_table()]
    return _table(["step", "module", "reads", "writes (state)", "records (metrics)", "claims"],
                  rows) + "\n"


def levers_md() -> str:
    from resurgence.scenario.schema.schema import SCHEDULES

    rows = [[f"`{k}`", f"{d:g}", f"[{lo:g}, {hi:g}]", meaning]
            for k, (d, lo, hi, meaning) in SCHEDULES.items()]
    return _table(["lever", "default (never scheduled)", "allowed range", "meaning / unit"],
                  rows) + "\n"


def claims_md() -> str:
    from resurgence.analysis.claims import CLAIMS

    rows = []
    for c in CLAIMS:
        if c.kind == "contrast":
            sign = {1: "B > A", -1: "B < A", 0: "|B − A| < 5 % of A"}[c.direction]
            test = f"`{c.b}` vs `{c.a}`: {sign}"
        else:
            test = f"behaviour of `{c.b}`"
        rows.append([c.id, c.check, test, f"`{c.summary}`", c.basis])
    return _table(["claim", "check", "scenarios and expected sign (B − A)", "outcome", "intended basis"],
                  rows) + "\n"


WHAT = {"params": params_md, "posterior": posterior_md, "metrics": metrics_md, "outcomes": outcomes_md, "plan": plan_md,
        "levers": levers_md, "claims": claims_md}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--what", choices=[*WHAT, "all"], default="params")
    args = ap.parse_args(argv)
    if args.what == "all":
        for k, fn in WHAT.items():
            sys.stdout.write(f"## {k}\n\n{fn()}\n")
    else:
        sys.stdout.write(WHAT[args.what]())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
