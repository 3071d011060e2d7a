#!/usr/bin/env python
"""Print the model's reference tables as Markdown, generated from the code.

    python scripts/gen_param_table.py                 # parameter table (docs/parameters.md)
    python scripts/gen_param_table.py --what metrics  # recorded metrics (docs/results.md)
    python scripts/gen_param_table.py --what outcomes # per-run outcomes (docs/model.md)
    python scripts/gen_param_table.py --what plan     # the weekly step plan (docs/model.md)
    python scripts/gen_param_table.py --what levers   # scenario levers (docs/scenarios.md)
    python scripts/gen_param_table.py --what all      # everything, as one document

Everything comes from the declarations in ``resurgence.modules.*``, ``resurgence.engine.PLAN``,
``resurgence.summaries.SUMMARIES`` and ``resurgence.scenario.SCHEDULES``, so the tables cannot
drift from the code: regenerate and paste whenever a module changes.
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


def params_md() -> str:
    from resurgence.engine import PLAN, all_params
    from resurgence.params import DEFAULTS_VERSION, defaults_digest

    specs = all_params()
    parts = [f"Default set `{DEFAULTS_VERSION}` (digest `{defaults_digest(specs)}`), "
             f"{len(specs)} parameters in {len(PLAN)} modules. Prior notation: "
             "`LogNormal(median, σ)` is a log-normal with that median and log-scale σ; "
             "`Beta(a, b)`; `Uniform(lo, hi)`; `fixed` = not uncertain (held at the default "
             "in prior sampling)."]
    for m in PLAN:
        parts.append(f"\n### `{m.name}` — {m.title}\n")
        rows = [[f"`{p.name}`", p.module, f"{p.default:g}", p.units, p.prior.describe(),
                 " ".join(p.claims) or "—", p.source, p.description] for p in m.params]
        parts.append(_table(["name", "module", "default", "units", "prior", "claims", "source",
                             "meaning"], rows))
    return "\n".join(parts) + "\n"


def metrics_md() -> str:
    from resurgence.engine import PLAN

    rows = [[f"`{x.name}`", m.name, x.level, x.unit,
             x.agg if x.level == "region" else "(national state)", x.description]
            for m in PLAN for x in m.metrics]
    return _table(["metric", "module", "level", "unit", "national row", "description"],
                  rows) + "\n"


def outcomes_md() -> str:
    from resurgence.summaries import SUMMARIES

    return _table(["outcome", "unit", "description"],
                  [[f"`{s.name}`", s.unit, s.description] for s in SUMMARIES]) + "\n"


def plan_md() -> str:
    from resurgence.engine import plan_table

    rows = [[r["step"], f"`{r['module']}`", r["reads"], r["writes"], r["records"], r["claims"]]
            for r in plan_table()]
    return _table(["step", "module", "reads", "writes (state)", "records (metrics)", "claims"],
                  rows) + "\n"


def levers_md() -> str:
    from resurgence.scenario import SCHEDULES

    rows = [[f"`{k}`", f"{d:g}", f"[{lo:g}, {hi:g}]", meaning]
            for k, (d, lo, hi, meaning) in SCHEDULES.items()]
    return _table(["lever", "default (never scheduled)", "allowed range", "meaning / unit"],
                  rows) + "\n"


WHAT = {"params": params_md, "metrics": metrics_md, "outcomes": outcomes_md, "plan": plan_md,
        "levers": levers_md}


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
