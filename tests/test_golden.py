"""Golden summaries: the model's behaviour must not change materially by accident.

``tests/golden/summaries.json`` holds medians (means for probabilities) of per-run outcomes
of ``stay-3000`` and ``full-withdrawal`` (200 runs, seed 2020, 104 weeks). A value that
moves beyond ±3% (±1% for indices, or a small absolute floor) fails this test. After a deliberate model
change, regenerate the file with ``.venv/bin/python tests/regen_golden.py`` (see its
docstring) and commit it with the change.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def _load_regen():
    spec = importlib.util.spec_from_file_location("regen_golden", HERE / "regen_golden.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


regen = _load_regen()


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads(regen.PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def values(golden, shipped) -> dict[str, dict[str, float]]:
    s = golden["spec"]
    # the session's shipped ensemble is this very ensemble when the specs agree (every run's
    # numbers depend on its index and the seed only, not on the other scenarios run with it)
    if (s["runs"], s["seed"], s["weeks"]) == (shipped.runs, shipped.seed,
                                              shipped.scenarios[0].weeks):
        return regen.compute(shipped)
    return regen.compute()


def test_golden_file_matches_the_regen_script(golden) -> None:
    assert golden["spec"] == regen.SPEC
    assert set(golden["values"]) == set(regen.SPEC["scenarios"])
    for sc in golden["values"]:
        assert list(golden["values"][sc]) == regen.OUTCOMES
    assert golden["rel_tol"] == regen.REL_TOL
    assert golden["rel_tol_by_unit"] == regen.REL_TOL_BY_UNIT
    assert golden["abs_tol"] == regen.ABS_TOL


def test_golden_summaries(golden, values) -> None:
    bad = regen.differences(golden, values)
    info = golden["generated_with"]
    assert not bad, (
        f"{len(bad)} outcome(s) moved beyond tolerance (golden made with resurgence "
        f"{info['resurgence']}, defaults {info['defaults_version']}):\n  " + "\n  ".join(bad)
        + "\nIf the change is deliberate: .venv/bin/python tests/regen_golden.py")


def test_golden_has_the_withdrawal_contrast(golden) -> None:
    """The golden file itself encodes the headline result; a regen that loses it is suspect."""
    a, b = golden["values"]["stay-3000"], golden["values"]["full-withdrawal"]
    assert b["is_attacks_y2"] > 1.5 * a["is_attacks_y2"]
    assert b["is_fighters_end"] > a["is_fighters_end"]
    assert b["iran_influence_end"] > a["iran_influence_end"]
    assert b["us_leverage_end"] < a["us_leverage_end"]


def test_tolerance_catches_a_material_change(golden) -> None:
    """Negative control: a shift of 5% (or twice the absolute floor) in any outcome is reported."""
    floor = {k: regen.ABS_TOL[regen.OUTCOME_BY_NAME[k].unit] for k in regen.OUTCOMES}
    shifted = {sc: {k: v + max(0.05 * abs(v), 2 * floor[k]) for k, v in vals.items()}
               for sc, vals in golden["values"].items()}
    bad = regen.differences(golden, shifted)
    n_outcomes = sum(len(v) for v in golden["values"].values())
    assert len(bad) == n_outcomes
    assert regen.differences(golden, golden["values"]) == []
