"""The bootstrap interval of probabilities: bounded memory, the same numbers as one big draw."""

from __future__ import annotations

import numpy as np
import pytest

import resurgence.analysis.contrasts as contrasts


def _one_draw(x: np.ndarray, seed: int = 0, n_boot: int = 1000) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [0.1, 0.9])
    return float(lo), float(x.mean()), float(hi)


@pytest.mark.parametrize(("n", "block"), [(5000, 1 << 22), (3001, 3001 * 7), (2999, 1000), (10, 25)])
def test_blocks_give_exactly_the_one_draw_interval(monkeypatch, n, block) -> None:
    x = (np.random.default_rng(n).random(n) < 0.3).astype(float)
    monkeypatch.setattr(contrasts, "BOOT_BLOCK", block)  # 7 rows a block, 1 row, 2 rows
    lo, mid, hi = contrasts._boot_mean(x)
    assert (lo, mid, hi) == _one_draw(x)
    assert lo <= mid <= hi and mid == x.mean()


def test_the_interval_is_about_1_28_standard_errors_wide() -> None:
    x = (np.random.default_rng(4).random(3000) < 0.3).astype(float)
    lo, mid, hi = contrasts._boot_mean(x)
    se = np.sqrt(mid * (1 - mid) / x.size)
    assert abs((hi - lo) / (2 * 1.2816 * se) - 1) < 0.15
