"""Hostile inputs for the fuzz suite (tests/test_fuzz.py) and its benchmark (benchmarks/fuzz.py):
scenario TOML texts, importer CSVs and API payloads, and one *check* per kind that runs an
input through the real face (library, CLI, HTTP) and classifies what happened:

* ``"ok"``: accepted, and what was accepted is sound (finite outcomes, a loadable table);
* ``"clean"``: refused with exit 2 / a 4xx and exactly one line, no traceback, nothing written;
* ``"traceback"``: anything else (an unexpected exception, a crash report, a 500, a write);
* ``"hang"``: over the time limit.

The checks never assert; the tests assert that no case is a traceback or a hang, the
benchmark counts them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures"
TIME_LIMIT_S = 20.0  # per case: "no hang" (generous for a loaded 2-core machine)

# ------------------------------------------------------------------------------ scenarios

VALUES = (st.none() | st.booleans() | st.integers(-2**70, 2**70)
          | st.floats(allow_nan=True, allow_infinity=True)
          | st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
          | st.sampled_from([0, -1e-6, 1e308, "stay-3000", "IQ-NI", "*", "strike", "../x.toml",
                             "self.toml", "/etc/passwd", "a" * 300])
          | st.text(max_size=20))
DOCS = st.recursive(VALUES, lambda kids: st.lists(kids, max_size=4)
                    | st.dictionaries(st.text(max_size=8), kids, max_size=4), max_leaves=12)
PARAMS = ["attack_rate", "attack_dispersion", "militia_dispersion", "is_capacity", "cap_max",
          "isr_deterrence", "move_rate", "season_peak_doy", "no_such_param"]
FIELDS = {
    "start": st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    "weeks": st.integers(-5, 200_000),
    "base": st.sampled_from(["stay-3000", "full-withdrawal", "nope", "self.toml",
                             "../outside.toml", "base.toml", "sub/../self.toml"]),
    "params": st.dictionaries(st.sampled_from(PARAMS), st.floats(allow_nan=True,
                              allow_infinity=True) | st.sampled_from([0.0, -1e-6, 1e308]),
                              max_size=3),
    "schedules": st.dictionaries(st.sampled_from(["troops", "isr", "mediation", "drones"]),
                                 st.lists(st.tuples(st.dates(dt.date(1990, 1, 1),
                                                             dt.date(2110, 1, 1)),
                                                    st.floats(-10, 3e5) | VALUES),
                                          max_size=3), max_size=2),
    "shocks": st.lists(st.fixed_dictionaries({"date": st.dates(dt.date(1990, 1, 1),
                                                               dt.date(2110, 1, 1)),
                                              "kind": st.sampled_from(["strike", "quake"]),
                                              "magnitude": st.floats(-1, 20)}), max_size=2),
    "policy": st.fixed_dictionaries({"responsive": st.booleans(),
                                     "expel_threshold": st.floats(-1, 2)}),
    "junk": DOCS,
}


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")) if not math.isfinite(v) \
            else repr(v)
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()
                               if x is not None) + "}"
    return '""'


def to_toml(doc: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in doc.items()
                     if v is not None) + "\n"


@st.composite
def scenario_docs(draw) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": draw(st.sampled_from(["fz", "fz-b", "Bad Name", "x" * 70]))}
    for k in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=4, unique=True)):
        doc[k] = draw(FIELDS[k])
    return doc


SHAPES = st.sampled_from([
    lambda n: "x = " + "[" * n + "]" * n,
    lambda n: "x = " + "{a = " * n + "1" + "}" * n,
    lambda n: ".".join(["a"] * n) + " = 1",
    lambda n: "\n".join(f"k{i} = {i}" for i in range(n * 40)),
    lambda n: "\n".join("[[shocks]]" for _ in range(n * 40)),
    lambda n: 'name = "' + "\\u0000" * n + '"',
])


def scenario_texts() -> st.SearchStrategy[str]:
    return (scenario_docs().map(to_toml)
            | st.builds(lambda f, n: f(n), SHAPES, st.integers(1, 3000))
            | st.text(max_size=300))


def check_scenario_file(text: str | bytes, folder: Path) -> str:
    """Load a scenario file through the library (with ``base.toml`` and a self-cycle beside
    it); accepted scenarios must simulate to finite outcomes."""
    from resurgence.core.errors import UserError
    from resurgence.runs.ensemble import run_ensemble
    from resurgence.scenario.schema import load_scenario

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.toml").write_text('name = "base"\nbase = "stay-3000"\n', encoding="utf-8")
    (folder / "self.toml").write_text('name = "self"\nbase = "self.toml"\n', encoding="utf-8")
    path = folder / "fz.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
    t0 = time.monotonic()
    try:
        sc = load_scenario(path)
        res = run_ensemble([sc], 2, 1, weeks=min(sc.weeks, 6))
        finite = all(np.all(np.isfinite(np.asarray(v, float)))
                     for s in res.outcomes.values() for v in s.values())
        out = "ok" if finite else "traceback"
    except (UserError, OSError) as exc:
        out = "clean" if "\n" not in str(exc) and str(exc) else "traceback"
    except Exception:  # noqa: BLE001 - classified, not hidden: the test fails on it
        out = "traceback"
    return "hang" if time.monotonic() - t0 > TIME_LIMIT_S else out


def check_cli_run(text: str, folder: Path) -> str:
    """``resurgence run FILE --out DIR``: exit 0 with a bundle, or 2 with one line and no
    DIR (nor a DIR.tmp-*)."""
    from typer.testing import CliRunner

    from resurgence.cli.app import app

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "fz.toml"
    path.write_text(text, encoding="utf-8", errors="replace")
    out = folder / "bundle"
    t0 = time.monotonic()
    res = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--runs", "2",
                                   "--weeks", "4", "--posterior", "none"])
    took = time.monotonic() - t0
    debris = list(folder.glob("bundle.tmp-*")) + list(folder.glob(".bundle*"))
    if took > TIME_LIMIT_S:
        return "hang"
    if res.exit_code == 0:
        return "ok" if (out / "manifest.json").is_file() and not debris else "traceback"
    lines = res.stderr.strip().splitlines()
    if res.exit_code == 2 and len(lines) == 1 and "Traceback" not in res.output \
            and not out.exists() and not debris:
        return "clean"
    return "traceback"


# ------------------------------------------------------------------------------ importers

CELLS = st.sampled_from(["", "0001-01-01", "0000-01-01", "9999-12-31", "1988-12-31",
                         "2031-01-01", "2020-02-30", "inf", "-inf", "nan", "-1", "1e400",
                         "1e308", "95", "-200", "abc", '"', "12 January 2019", "\x00"]) \
    | st.text(max_size=12)


@st.composite
def importer_csvs(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["ged", "acled"]))
    src = FIXTURES / ("ged_sample.csv" if kind == "ged" else "acled_sample.csv")
    with open(src, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    for _ in range(draw(st.integers(1, 6))):
        r = draw(st.integers(1, len(rows) - 1))
        c = draw(st.integers(0, len(rows[0]) - 1))
        rows[r][c] = draw(CELLS)
    if draw(st.booleans()):
        rows = rows[:draw(st.integers(0, len(rows)))]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    data = buf.getvalue().encode("utf-8")
    mode = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "bytes", "cut"]))
    if mode == "utf-16":
        data = buf.getvalue().encode("utf-16")
    elif mode == "latin-1":
        data = buf.getvalue().encode("latin-1", "replace") + b"\xe9\xff"
    elif mode == "bytes":
        data = draw(st.binary(max_size=400))
    elif mode == "cut":
        data = data[:draw(st.integers(0, len(data)))]
    return kind, data


MAX_ROWS = 45 * (53 + 12) * 19 * 6  # 1989..2030 weekly + monthly, 19 series, 6 metrics


def check_import(kind: str, data: bytes, folder: Path) -> str:
    from typer.testing import CliRunner

    from resurgence.calibration.observations import load_observations
    from resurgence.cli.data import data_app

    folder.mkdir(parents=True, exist_ok=True)
    src, out = folder / "in.csv", folder / "out.csv"
    src.write_bytes(data)
    out.unlink(missing_ok=True)
    t0 = time.monotonic()
    res = CliRunner().invoke(data_app, ["import", kind, str(src), "--out", str(out)])
    if time.monotonic() - t0 > TIME_LIMIT_S:
        return "hang"
    debris = list(folder.glob(".out.csv.tmp-*"))
    if res.exit_code == 0:
        try:
            back = load_observations(path=out)
        except Exception:  # noqa: BLE001
            return "traceback"
        sound = (len(back) <= MAX_ROWS and np.isfinite(back["value"]).all()
                 and (back["value"] >= 0).all() and not debris)
        return "ok" if sound else "traceback"
    lines = res.stderr.strip().splitlines()
    if res.exit_code == 2 and len(lines) == 1 and "Traceback" not in res.output \
            and not out.exists() and not debris:
        return "clean"
    return "traceback"


# ------------------------------------------------------------------------------ HTTP

def check_http(client: Any, method: str, path: str, **kw: Any) -> str:
    t0 = time.monotonic()
    try:
        r = client.request(method, path, **kw)
    except Exception:  # noqa: BLE001
        return "traceback"
    if time.monotonic() - t0 > TIME_LIMIT_S:
        return "hang"
    if r.status_code in (200, 202):
        return "ok"
    try:
        body = r.json()
    except ValueError:
        return "traceback"
    msg = body.get("error") if isinstance(body, dict) else None
    if 400 <= r.status_code < 500 and isinstance(msg, str) and msg and "\n" not in msg \
            and "Traceback" not in msg and set(body) == {"error"}:
        return "clean"
    return "traceback"
