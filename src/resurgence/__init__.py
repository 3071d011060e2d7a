"""resurgence: how a foreign-troop drawdown changes an insurgency and a rival power's influence.

A spatial, stochastic simulation of Iraq's security system (IS remnants, Iraqi forces, US
enablers, Iran-backed militias) over the 18 governorates, run as Monte Carlo ensembles with
common random numbers.
"""

from __future__ import annotations

from resurgence.core import jitcache
from resurgence.core.version import __version__

jitcache.configure()  # before anything imports numba: a read-only home must not crash us

__all__ = ["__version__", "brief", "calibrate", "compare", "forecast", "run"]


def brief(case: str = "iraq-2020", *, runs: int = 300, seed: int = 1, out: str = "brief",
          workers: int = 1, posterior: str = "shipped", render: bool = True):
    """Compute the brief and return its content as data (``BriefData``: pathway tables,
    enabler effects, claim verdicts, fan-chart and map data, fit and forecast, parameter
    provenance, figure paths). With ``render``, also write the figures, HTML and PDF."""
    from pathlib import Path

    from resurgence.analysis.brief import compute_brief
    from resurgence.report.render import figures, render_html, render_pdf

    data = compute_brief(case, runs=runs, seed=seed, out=out, workers=workers, posterior=posterior)
    if render:
        figures(data, Path(out) / "figures")
        render_html(data, Path(out))
        render_pdf(data, Path(out))
    return data


def _posterior(posterior, start):
    """The CLI's default: the shipped posterior when its data end before ``start``."""
    from resurgence.calibration.posterior import Posterior, resolve_posterior, usable_for

    post = posterior if isinstance(posterior, Posterior) else resolve_posterior(posterior)
    return usable_for(post, start)


def run(scenarios, runs: int = 200, seed: int = 1, *, posterior="shipped", **kwargs):
    """Run scenarios (names, paths or ``Scenario`` objects) as one paired ensemble; see
    :func:`resurgence.runs.ensemble.run_ensemble`. Like ``resurgence run``, the default
    ``posterior="shipped"`` uses the calibrated iraq-2020 draws (``"none"``: versioned
    defaults; or a posterior file or object)."""
    from resurgence.runs.ensemble import resolve, run_ensemble

    scs = [resolve(s) for s in ([scenarios] if isinstance(scenarios, str) else scenarios)]
    return run_ensemble(scs, runs, seed, posterior=_posterior(posterior, scs[0].start), **kwargs)


def compare(a, b, runs: int = 200, seed: int = 1, *, posterior="shipped", **kwargs):
    """Paired contrasts B - A under common random numbers (list of ``Contrast``), with the
    same default parameters as ``resurgence compare`` (the shipped posterior)."""
    from resurgence.analysis.contrasts import contrast
    from resurgence.runs.ensemble import resolve, run_ensemble

    sa, sb = resolve(a), resolve(b)
    if sb.name == sa.name:
        sb = sb.model_copy(update={"name": f"{sb.name}-b"})
    res = run_ensemble([sa, sb], runs, seed, posterior=_posterior(posterior, sa.start), **kwargs)
    return contrast(res.outcomes[sa.name], res.outcomes[sb.name])


def forecast(*args, **kwargs):
    """Forecast in the DESIGN section 7 contract; see :func:`resurgence.forecasting.forecast`."""
    from resurgence.calibration.forecast import forecast as _forecast

    return _forecast(*args, **kwargs)


def calibrate(*args, **kwargs):
    """ABC-SMC calibration; see :func:`resurgence.calibration.calibrate`."""
    from resurgence.calibration.inference import calibrate as _calibrate

    return _calibrate(*args, **kwargs)
