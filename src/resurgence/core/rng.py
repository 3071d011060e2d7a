"""Random streams: one root seed; run ``i`` owns ``SeedSequence(root, spawn_key=(i,))``.

``SeedSequence(root, spawn_key=(i,))`` is exactly ``SeedSequence(root).spawn(n)[i]``: a run's
numbers depend on its index only, never on the chunk or worker that simulates it, so
results are bit-identical however runs are split, and the same run index feeds the same
numbers to every scenario (common random numbers). The dynamics draw from the run's stream;
reporting noise from a separate child ``(i, 1)``, so adding an observation never moves a
trajectory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def run_generator(root_seed: int, run: int) -> np.random.Generator:
    """The random stream of run ``run``: the run-th child of ``SeedSequence(root_seed)``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(root_seed, spawn_key=(int(run),))))


def observation_uniforms(root_seed: int, run_ids: Sequence[int] | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Uniforms for reporting noise, ``(len(run_ids), *shape)`` float32: each run's own
    stream ``SeedSequence(root, spawn_key=(run, 1))``, apart from its dynamics stream."""
    u = np.empty((len(run_ids), *shape), dtype=np.float32)
    for i, r in enumerate(run_ids):
        g = np.random.Generator(np.random.PCG64(np.random.SeedSequence(root_seed, spawn_key=(int(r), 1))))
        g.random(out=u[i], dtype=np.float32)
    return u
