"""One number format for every face (brief, web tables, CLI): counts with thousands
separators, small values to three significant digits, probabilities as percentages,
differences of probabilities in percentage points, and no zero-width interval printed as if
it were one (an output that is identical in every run says so)."""

from __future__ import annotations

import math

FIXED = "no spread across runs"
#: what a reader should know about outputs marked FIXED
FIXED_NOTE = ("'no spread across runs' marks an output that comes out the same in every run "
              "(to the digits shown): either the scenario sets it (e.g. troop numbers) or the "
              "parameters behind it are held fixed at their defaults. Its uncertainty is then "
              "not represented, which is not the same as certainty.")


def num(v: float, *, signed: bool = False) -> str:
    """2,500 / 41.3 / 0.0712; ``signed`` adds a + to positive values. NaN prints as 'n/a'."""
    if v is None or not math.isfinite(v):
        return "n/a"
    sign = "+" if signed and v > 0 else ""
    if abs(v) >= 100:
        return f"{sign}{v:,.0f}"
    if v == 0:
        return "0"
    return f"{sign}{float(f'{v:.3g}'):g}" if abs(v) >= 1e-4 else f"{sign}{v:.1e}"


def prob(v: float) -> str:
    """A probability or share: 21%."""
    if v is None or not math.isfinite(v):
        return "n/a"
    return f"{v:.0%}"


def pp(v: float) -> str:
    """A difference of probabilities in percentage points: +19 pp."""
    if v is None or not math.isfinite(v):
        return "n/a"
    x = 100 * v
    return f"{x:+.0f} pp" if abs(x) >= 1 or x == 0 else f"{x:+.1f} pp"


def value(v: float, kind: str = "quantiles", *, diff: bool = False) -> str:
    if kind == "probability":
        return pp(v) if diff else prob(v)
    return num(v, signed=diff)


def degenerate(lo: float, hi: float, mid: float, kind: str = "quantiles") -> bool:
    """True when an interval has no width to the digits shown: the output does not vary
    (visibly) across runs, so printing '[x, x]' would read as false certainty."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return False
    return abs(hi - lo) <= 1e-9 * max(1.0, abs(mid)) or value(lo, kind) == value(hi, kind)


def interval(mid: float, lo: float, hi: float, kind: str = "quantiles", *,
             diff: bool = False) -> str:
    """'median [P10, P90]', or a plain statement for a zero-width interval: 'x (no spread
    across runs)', and for event probabilities '0% (in no run)', '+0 pp (no run differs)'."""
    if degenerate(lo, hi, mid, kind):
        if kind == "probability" and mid in (0.0, 1.0) and not diff:
            return f"{prob(mid)} ({'in no run' if mid == 0 else 'in every run'})"
        if kind == "probability" and diff and mid == 0:
            return f"{pp(0.0)} (no run differs)"
        return f"{value(mid, kind, diff=diff)} ({FIXED})"
    return f"{value(mid, kind, diff=diff)} [{value(lo, kind, diff=diff)}, {value(hi, kind, diff=diff)}]"
