"""Ray backend overhead at equal workers (issue #10): the same paired ensemble run with the
local process pool and with Ray on a local Ray cluster of the same size, alternately, after
one warm-up of each; reports wall times, the overhead of the best Ray time over the best
local time, and checks that the outcomes are identical.

    .venv/bin/pip install -e '.[ray]'
    .venv/bin/python benchmarks/ray_overhead.py --runs 2000 --reps 2 [--posterior shipped]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--posterior", default="none", help="'none' (defaults) or 'shipped'")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()

    import ray

    from resurgence.calibration.posterior import resolve_posterior
    from resurgence.runs.ensemble import run_ensemble

    post = resolve_posterior(a.posterior)
    scs = ["stay-3000", "full-withdrawal"]
    res: dict = {"command": f"benchmarks/ray_overhead.py --runs {a.runs} --reps {a.reps} "
                            f"--workers {a.workers} --posterior {a.posterior}",
                 "runs": a.runs, "scenarios": scs, "load_start": os.getloadavg()}

    def once(backend: str):
        t = time.perf_counter()
        r = run_ensemble(scs, a.runs, 7, workers=a.workers, backend=backend, posterior=post)
        return time.perf_counter() - t, r

    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False)
    once("ray")
    once("local")  # warm-ups: Ray workers, process start, Numba caches
    outs = {}
    for _ in range(a.reps):
        for backend in ("local", "ray"):
            dt, r = once(backend)
            res.setdefault(backend, []).append(round(dt, 2))
            outs[backend] = r.outcomes
    res["identical"] = all(np.array_equal(outs["local"][s][k], outs["ray"][s][k])
                           for s in scs for k in outs["local"][s])
    res["overhead"] = round(min(res["ray"]) / min(res["local"]) - 1.0, 3)
    res["load_end"] = os.getloadavg()
    ray.shutdown()
    print(json.dumps(res))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
