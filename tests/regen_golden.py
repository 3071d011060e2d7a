"""Regenerate the golden summaries that ``tests/test_golden.py`` checks the model against.

The golden file ``tests/golden/summaries.json`` holds, for ``stay-3000`` and
``full-withdrawal`` (200 runs, seed 2020, the default 104 weeks from 2020-12-01), the
median across runs of each count or index outcome and the mean of each probability outcome,
with the tolerances the test applies. When the model's behaviour changes on purpose (a new
mechanism, new default parameters, a different random-number layout), regenerate it in one
command from the repository root and commit the new JSON with the change:

    .venv/bin/python tests/regen_golden.py

``--check`` compares without writing (exit status 1 if a value moved beyond its tolerance).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from resurgence import __version__
from resurgence.model.params import DEFAULTS_VERSION, defaults_digest
from resurgence.model.sim import all_params
from resurgence.results.outcomes import OUTCOME_BY_NAME
from resurgence.runs.ensemble import EnsembleResult, run_ensemble

PATH = Path(__file__).with_name("golden") / "summaries.json"

SPEC = {"scenarios": ["stay-3000", "full-withdrawal"], "runs": 200, "seed": 2020, "weeks": 104}
OUTCOMES = [
    "is_attacks_y1", "is_attacks_y2", "is_attacks_liberated_y1", "is_attacks_outside_core",
    "is_attacks_infra", "is_fighters_end", "is_villages_end", "militia_attacks_us",
    "iran_influence_end", "us_leverage_end", "pressure_mean", "host_strength_mean",
    "be_coordination_end", "bases_open_end", "holds_ground_24m", "collapse_any", "exit_ordered",
]
#: a value passes when |new - golden| <= max(rel * |golden|, ABS_TOL[unit]), where rel is
#: REL_TOL_BY_UNIT[unit] or REL_TOL (indices near 1 barely vary between runs: 1% is material)
REL_TOL = 0.03
REL_TOL_BY_UNIT = {"0-1": 0.01, "index": 0.01}
ABS_TOL = {"attacks": 1.0, "fighters": 1.0, "villages": 1.0, "bases": 0.5, "0-1": 0.005,
           "index": 0.005, "probability": 0.03}


def statistic(name: str) -> str:
    return "mean" if OUTCOME_BY_NAME[name].unit == "probability" else "median"


def compute(result: EnsembleResult | None = None) -> dict[str, dict[str, float]]:
    """Golden values from ``result`` (an ensemble run with SPEC), or a fresh ensemble."""
    if result is None:
        result = run_ensemble(SPEC["scenarios"], SPEC["runs"], SPEC["seed"], weeks=SPEC["weeks"])
    out: dict[str, dict[str, float]] = {}
    for sc in SPEC["scenarios"]:
        s = result.outcomes[sc]
        out[sc] = {name: float(f"{np.mean(s[name]) if statistic(name) == 'mean' else np.median(s[name]):.7g}")
                   for name in OUTCOMES}
    return out


def tolerance(name: str, golden: float) -> float:
    unit = OUTCOME_BY_NAME[name].unit
    return max(REL_TOL_BY_UNIT.get(unit, REL_TOL) * abs(golden), ABS_TOL[unit])


def differences(golden: dict, values: dict[str, dict[str, float]]) -> list[str]:
    """Lines describing every outcome that moved beyond its tolerance (empty: all pass)."""
    bad = []
    for sc, want in golden["values"].items():
        for name, g in want.items():
            got = values[sc][name]
            tol = tolerance(name, g)
            if not abs(got - g) <= tol:
                bad.append(f"{sc}.{name} ({statistic(name)}): golden {g:.6g}, now {got:.6g} "
                           f"(tolerance ±{tol:.3g})")
    return bad


def document(values: dict[str, dict[str, float]]) -> dict:
    return {
        "about": "golden per-run summaries; regenerate with: .venv/bin/python tests/regen_golden.py",
        "spec": SPEC,
        "statistic": {name: statistic(name) for name in OUTCOMES},
        "rel_tol": REL_TOL,
        "rel_tol_by_unit": REL_TOL_BY_UNIT,
        "abs_tol": ABS_TOL,
        "generated_with": {"resurgence": __version__, "defaults_version": DEFAULTS_VERSION,
                           "defaults_digest": defaults_digest(all_params())},
        "values": values,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the file, do not write")
    args = ap.parse_args(argv)
    values = compute()
    if args.check:
        bad = differences(json.loads(PATH.read_text(encoding="utf-8")), values)
        print("\n".join(bad) or "golden summaries: all within tolerance")
        return 1 if bad else 0
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(document(values), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
