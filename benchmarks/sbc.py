"""Simulation-based calibration of the ABC-SMC inference (issue #9, item 8).

Full model: for each replicate, theta is drawn from the prior of the identifiable parameters
(``resurgence.calibration.sbc.IDENTIFIABLE``; the others at their defaults), one run of the
simulator over the iraq-2020 history (2018-01-01 to 2020-11-30) gives every observation row's
expectation, synthetic observations are drawn around it with each source's negative-binomial
noise, and ``abc_smc`` fits them exactly as ``calibrate`` scores the real data (at reduced
size). The rank of theta among the posterior draws should be uniform.

Toy: the same loop on a cheap problem (``sbc.toy_fit``) with more replicates, scoring the
simulations' expected observations (as ``calibrate``) or simulating the observation noise too.

    .venv/bin/python benchmarks/sbc.py --replicates 40 --particles 64 --generations 5 \
        --draws 31 --jobs 1 --out docs/figures --json sbc.json

Writes ``sbc-ranks.png`` (full model) and ``sbc-toy.png`` into ``--out`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from resurgence.calibration import sbc

_FIT = None


def _setup(kw: dict) -> None:
    global _FIT
    _FIT = sbc.simulator_fit(**kw)[1]


def _one(theta: np.ndarray, i: int) -> np.ndarray:
    assert _FIT is not None
    return _FIT(theta, i)


def _figure(results: dict[str, sbc.SBCResult], path: Path, bins: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    cols = max(len(r.names) for r in results.values())
    fig, axes = plt.subplots(len(results), cols, figsize=(3.2 * cols, 2.6 * len(results)),
                             squeeze=False)
    for row, (title, r) in enumerate(results.items()):
        n = len(r.ranks)
        lo, hi = stats.binom.ppf([0.005, 0.995], n, 1 / bins)
        tab = r.table(bins).set_index("parameter")
        for j in range(cols):
            ax = axes[row, j]
            if j >= len(r.names):
                ax.axis("off")
                continue
            u = (r.ranks[:, j] + 0.5) / (r.L + 1)
            ax.hist(u, bins=bins, range=(0, 1), color="#4477aa", edgecolor="white")
            ax.axhspan(lo, hi, color="grey", alpha=0.25, lw=0)
            ax.axhline(n / bins, color="black", lw=0.8)
            t = tab.loc[r.names[j]]
            ax.set_title(f"{r.names[j]}\n{title}", fontsize=8)
            ax.set_xlabel(f"normalised rank; cover 50/80%: {t.coverage50:.2f}/{t.coverage80:.2f};"
                          f" KS p {t.p_ks:.3f}", fontsize=7)
            ax.tick_params(labelsize=7)
        axes[row, 0].set_ylabel("replicates", fontsize=8)
    fig.suptitle("SBC rank histograms (grey: 99% band of a uniform histogram)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--particles", type=int, default=64)
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--draws", type=int, default=31, help="posterior draws per rank")
    ap.add_argument("--bins", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="processes over replicates")
    ap.add_argument("--toy-replicates", type=int, default=200, help="0 = skip the toys")
    ap.add_argument("--simulate-noise", action="store_true",
                    help="full model: draw the observation noise in every simulation")
    ap.add_argument("--tag", default="", help="suffix of the figure's file name")
    ap.add_argument("--out", type=Path, default=Path("docs/figures"))
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    results: dict[str, sbc.SBCResult] = {}
    timing = {}
    kw = {"particles": a.particles, "generations": a.generations, "seed": a.seed,
          "max_steps": 3, "simulate_noise": a.simulate_noise}
    t0 = time.perf_counter()
    space, _ = sbc.simulator_fit(**kw)
    if a.jobs > 1:
        from multiprocessing import get_context

        with get_context("fork").Pool(a.jobs, initializer=_setup, initargs=(kw,)) as pool:
            res = sbc.sbc(space, _one, a.replicates, draws=a.draws, seed=a.seed,
                          mapper=lambda f, args: pool.starmap(f, args))
    else:
        _setup(kw)
        res = sbc.sbc(space, _one, a.replicates, draws=a.draws, seed=a.seed,
                      progress=lambda k: print(f"  replicate {k}/{a.replicates}", flush=True))
    timing["full model"] = time.perf_counter() - t0
    how = "noise simulated" if a.simulate_noise else "as calibrate"
    results[f"full model ({a.particles} particles, {a.generations} gen., {how})"] = res
    for noise in ((False, True) if a.toy_replicates else ()):
        t1 = time.perf_counter()
        sp, fit = sbc.toy_fit(simulate_noise=noise, particles=100, generations=8)
        label = "toy, noise simulated" if noise else "toy, expected obs. (as calibrate)"
        results[label] = sbc.sbc(sp, fit, a.toy_replicates, draws=49, seed=a.seed)
        timing[label] = time.perf_counter() - t1
    out = {}
    for title, r in results.items():
        tab = r.table(a.bins)
        print(f"\n== {title}: {len(r.ranks)} replicates, {r.L} draws; calibrated: "
              f"{sbc.calibrated(tab)}")
        print(tab.round(3).to_string(index=False))
        out[title] = {"calibrated": sbc.calibrated(tab), "table": json.loads(
            tab.to_json(orient="records"))}
    _figure({k: v for k, v in results.items() if k.startswith("full")},
            a.out / f"sbc-ranks{a.tag}.png", a.bins)
    if a.toy_replicates:
        _figure({k: v for k, v in results.items() if k.startswith("toy")}, a.out / "sbc-toy.png",
                10)
    meta = {"args": {k: str(v) for k, v in vars(a).items()}, "load_average_1min": load,
            "seconds": {k: round(v, 1) for k, v in timing.items()}}
    print("\n", json.dumps(meta, indent=1))
    if a.json:
        from resurgence.core.atomic import atomic_write_text

        atomic_write_text(a.json, json.dumps({"meta": meta, "results": out}, indent=1))


if __name__ == "__main__":
    main()
