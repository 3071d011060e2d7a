"""Row-wise products that give each run the same bits whatever the chunk holds.

``A @ B`` goes to BLAS, whose kernels block and vectorise by matrix size: a run's row of the
product can differ in its last bits depending on how many other runs share the chunk
(measured: 3 vs 12 rows of a (n, 18) @ (18, 18) product). Simulated runs must be
bit-identical however they are chunked, so the engine's products over regions use
``einsum``'s own loop, which reduces each output element in the same order always.
"""

from __future__ import annotations

import numpy as np


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for ``a`` of shape ``(n, k)`` and ``b`` of ``(k, m)``, row by row."""
    return np.einsum("nk,km->nm", a, b)
