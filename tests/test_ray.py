"""Ray scale-out gives bit-identical results to local execution (skipped without Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from resurgence.runs.ensemble import run_ensemble


def test_ray_backend_matches_local():
    ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'resurgence[ray]'")
    kw = dict(runs=12, seed=4, weeks=12, posterior=None, chunk_size=5)
    local = run_ensemble(["stay-3000", "full-withdrawal"], **kw)
    remote = run_ensemble(["stay-3000", "full-withdrawal"], workers=2, backend="ray", **kw)
    for sc in ("stay-3000", "full-withdrawal"):
        for k, v in local.outcomes[sc].items():
            np.testing.assert_array_equal(v, remote.outcomes[sc][k])
    ray.shutdown()


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="'backend' = 'spark'"):
        run_ensemble(["stay-3000"], runs=2, seed=1, weeks=2, backend="spark")
