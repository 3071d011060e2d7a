"""Typed time: a weekly grid of calendar dates, and schedules evaluated on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WeekGrid:
    """``weeks`` consecutive weeks starting on ``start`` (each step is 7 days)."""

    start: dt.date
    weeks: int

    @property
    def dates(self) -> np.ndarray:
        """Week-start dates as ``datetime64[D]``, shape ``(weeks,)``."""
        return np.datetime64(self.start, "D") + 7 * np.arange(self.weeks)

    @property
    def ordinals(self) -> np.ndarray:
        return self.start.toordinal() + 7 * np.arange(self.weeks, dtype=np.int64)

    @property
    def mid_ordinals(self) -> np.ndarray:
        return self.ordinals + 3

    @property
    def day_of_year(self) -> np.ndarray:
        d = self.dates
        return (d - d.astype("datetime64[Y]")).astype(int) + 1

    def index_of(self, date: dt.date) -> int:
        """Week index containing ``date`` (may be <0 or >= weeks)."""
        return (date.toordinal() - self.start.toordinal()) // 7

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=7 * self.weeks - 1)


def period_weights(week_starts: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``(W, P)`` share of each week's seven days (from ``week_starts[w]``) that falls inside
    each inclusive period ``[start[p], end[p]]``: how weekly model output is aggregated to
    any reporting period (observations, monthly forecasts)."""
    ws = np.asarray(week_starts, dtype="datetime64[D]").astype(np.int64)[:, None]
    s = np.asarray(start, dtype="datetime64[D]").astype(np.int64)[None, :]
    e = np.asarray(end, dtype="datetime64[D]").astype(np.int64)[None, :] + 1  # exclusive
    return np.clip(np.minimum(ws + 7, e) - np.maximum(ws, s), 0, 7) / 7.0


def evaluate_schedule(points: Sequence[tuple[dt.date, float]], grid: WeekGrid,
                      default: float) -> np.ndarray:
    """Piecewise-linear schedule through dated points, held flat outside them,
    evaluated at each week's mid-point. No points: ``default`` throughout."""
    if not points:
        return np.full(grid.weeks, float(default))
    xs = np.array([d.toordinal() for d, _ in points], dtype=float)
    ys = np.array([v for _, v in points], dtype=float)
    return np.interp(grid.mid_ordinals.astype(float), xs, ys)
