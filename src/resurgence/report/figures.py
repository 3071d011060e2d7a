"""Figures of the brief (matplotlib, colour-blind-safe Okabe-Ito palette, labelled axes)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import TwoSlopeNorm  # noqa: E402
from matplotlib.patches import PathPatch  # noqa: E402
from matplotlib.path import Path as MPath  # noqa: E402

from resurgence.core.atomic import atomic_output_path  # noqa: E402
from resurgence.theatre.theatre import load_theatre  # noqa: E402

OKABE_ITO = {"stay-3000": "#0072B2", "announced-2500": "#000000", "enablers-over-horizon": "#009E73",
             "full-withdrawal": "#D55E00", "no-mediation": "#CC79A7",
             "pandemic-protests-worse": "#E69F00", "escalation": "#56B4E9"}
LABELS = {"is_attacks": "IS attacks per week", "is_fighters": "IS fighters",
          "militia_attacks_us": "militia attacks on\nUS sites per week",
          "iran_influence": "Iranian influence\nindex (0-1)"}


def _dates(ax) -> None:
    loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


#: Resolution of the PNGs: 1,320 pixels across the 12-inch fan chart, as wide as the HTML page
#: shows it.
DPI = 110


def _write(fig, path: Path) -> Path:
    with atomic_output_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    return path


def _save(fig, path: Path) -> Path:
    try:
        return _write(fig, path)
    finally:
        plt.close(fig)


FAN_PANELS = ("stay-3000", "enablers-over-horizon", "full-withdrawal")
REF = "announced-2500"


def policy_dates(meta: dict) -> list[tuple[pd.Timestamp, str]]:
    """The dates the drawdown schedules change (from the scenarios' troop schedules)."""
    out = []
    troops = meta.get("troops", {})
    ref = troops.get(meta.get("reference", REF), [])
    if ref:
        out.append((pd.Timestamp(ref[-1][0]), f"cut to {ref[-1][1]:,.0f}"))
    fw = troops.get("full-withdrawal", [])
    zero = next((d for d, v in fw if v == 0), None)
    if zero:
        out.append((pd.Timestamp(zero), "full withdrawal"))
    return out


def _mark(ax, dates, label: bool) -> None:
    for k, (d, text) in enumerate(dates or []):
        ax.axvline(d, color="#666666", ls="--", lw=0.8)
        if label:  # staggered, so that close dates do not print over each other
            ax.annotate(text, (d, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -2 - 9 * k),
                        textcoords="offset points", fontsize=6.5, va="top", color="#444444")


def _bands(ax, x, q, col, label=None) -> None:
    ax.fill_between(x, q["q10"], q["q90"], color=col, alpha=0.15, lw=0)
    ax.fill_between(x, q["q25"], q["q75"], color=col, alpha=0.30, lw=0)
    ax.plot(x, q["q50"], color=col, lw=1.5, label=label)


def fan_chart(fan: pd.DataFrame, path: Path, dates=None, levels: str | None = None) -> Path:
    """Small multiples: one row per outcome, one column per scenario, each against the
    announced plan (black), with medians and 50% / 80% bands across runs; ``levels`` says
    where the IS attacks levels come from (the blend, or why the simulator's)."""
    present = set(fan["metric"].astype(str))
    metrics = [m for m in LABELS if m in present] + sorted(present - set(LABELS))
    cols = [c for c in FAN_PANELS if c in set(fan["scenario"].astype(str))]
    height = 2.6 * len(metrics) + 0.8
    fig, axes = plt.subplots(len(metrics), len(cols), figsize=(12, height), sharex=True,
                             sharey="row", squeeze=False)
    # a fixed layout (inches from the edges): constrained_layout cost a third of the brief's
    # figure time and places these panels the same way
    fig.subplots_adjust(left=0.95 / 12, right=1 - 0.12 / 12,
                        top=1 - (0.75 if levels else 0.55) / height,
                        bottom=0.6 / height, wspace=0.06, hspace=0.1)
    for i, m in enumerate(metrics):
        sub = fan[fan["metric"].astype(str) == m]
        k = 4 if m in ("is_attacks", "militia_attacks_us") else 1  # weekly counts: 4-week means
        series = {}
        for sc, g in sub.groupby(sub["scenario"].astype(str), sort=False):
            g = g.sort_values("date")
            series[sc] = (pd.to_datetime(g["date"]),
                          g[["q10", "q25", "q50", "q75", "q90"]].rolling(k, min_periods=1).mean())
        for j, sc in enumerate(cols):
            ax = axes[i, j]
            if REF in series:
                _bands(ax, *series[REF], "#000000", label=f"{REF} (reference)")
            if sc in series:
                _bands(ax, *series[sc], OKABE_ITO.get(sc, "#999999"), label=sc)
            _mark(ax, dates, label=i == 0)
            _dates(ax)
            ax.grid(alpha=0.3)
            if i == 0:
                ax.set_title(f"{sc} vs {REF}", fontsize=10, color=OKABE_ITO.get(sc, "#000"))
            if j == 0:
                unit = LABELS.get(m, m) + (" (4-week mean)" if k > 1 else "")
                ax.set_ylabel(unit, fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color="#777777", alpha=0.30),
               plt.Rectangle((0, 0), 1, 1, color="#777777", alpha=0.15),
               plt.Line2D([0], [0], color="#000000"), plt.Line2D([0], [0], color="#666", ls="--")]
    fig.legend(handles, ["50% of runs", "80% of runs", f"median; black = {REF}",
                         "policy dates"], loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=4,
               fontsize=8, frameon=True)
    title = "National outcomes by scenario (attacks: model count on the CTC Sentinel scale)"
    if levels:
        title += f"\nIS attacks: {levels}"
    fig.suptitle(title, fontsize=11 if not levels else 9.5, y=1 - 0.08 / height, va="top")
    return _save(fig, path)


def draw_regions(ax, values: dict[str, float], cmap, norm) -> dict[str, list[PathPatch]]:
    """Each region of the theatre as patches coloured by ``values`` (grey where absent), its
    short code at a representative point; returns the patches by region code, so that a
    figure can be repainted for another scenario without drawing the map again."""
    th = load_theatre()
    geoms = th.geometry()
    patches: dict[str, list[PathPatch]] = {}
    for code, geom in geoms.items():
        polys = getattr(geom, "geoms", [geom])
        colour = cmap(norm(values.get(code, np.nan))) if code in values else "#dddddd"
        for poly in polys:
            rings = [poly.exterior, *poly.interiors]
            verts = np.concatenate([np.asarray(r.coords) for r in rings])
            codes = np.concatenate([[MPath.MOVETO] + [MPath.LINETO] * (len(r.coords) - 2)
                                    + [MPath.CLOSEPOLY] for r in rings])
            patches.setdefault(code, []).append(
                ax.add_patch(PathPatch(MPath(verts, codes), facecolor=colour, edgecolor="white",
                                       lw=0.6)))
        pt = geom.representative_point()
        ax.annotate(code.split("-")[1], (pt.x, pt.y), ha="center", va="center", fontsize=6)
    ax.autoscale_view()
    ax.set_aspect(1 / np.cos(np.deg2rad(33)))
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    return patches


def map_limits(maps_df: pd.DataFrame, scenarios) -> dict[str, float]:
    """One symmetric colour range per metric shared by the maps of several scenarios, so that
    equal colours mean equal changes across figures."""
    sub = maps_df[maps_df["scenario"].isin(list(scenarios))]
    return {m: max(float(np.nanmax(np.abs(g["effect"]))), 1e-9)
            for m, g in sub.groupby("metric")}


MAP_PANELS = (("attacks_y2", "Change in IS attacks, second year",
               "IS attacks, model count (paired median)"),
              ("influence", "Change in Iranian influence after two years", "index points"))


def maps_figures(maps_df: pd.DataFrame, paths: dict[str, Path],
                 lims: dict[str, float] | None = None) -> dict[str, Path]:
    """The two-panel change maps (IS attacks, Iranian influence) of each scenario in ``paths``
    (scenario -> file) against the announced plan. One figure is drawn and repainted per
    scenario (colours, colour ranges, titles) rather than built again; fixed layout."""
    cmap = plt.get_cmap("PuOr_r")
    fig = plt.figure(figsize=(11, 5))
    try:
        panels = []
        for k, (metric, title, unit) in enumerate(MAP_PANELS):
            x0 = 0.055 + 0.5 * k
            ax = fig.add_axes((x0, 0.10, 0.33, 0.76))
            cax = fig.add_axes((x0 + 0.35, 0.20, 0.013, 0.58))
            sm = plt.cm.ScalarMappable(norm=TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0),
                                       cmap=cmap)
            fig.colorbar(sm, cax=cax, label=unit)
            patches = draw_regions(ax, {}, cmap, sm.norm)
            panels.append((metric, title, ax, sm, patches))
        for scenario, path in paths.items():
            sub = maps_df[maps_df["scenario"] == scenario]
            for metric, title, ax, sm, patches in panels:
                rows = sub[sub["metric"] == metric]
                vals = dict(zip(rows["region"], rows["effect"], strict=True))
                v = np.array(list(vals.values()) or [0.0])
                lim = (lims or {}).get(metric) or max(float(np.nanmax(np.abs(v))), 1e-9)
                norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
                sm.set_norm(norm)
                for code, ps in patches.items():
                    colour = cmap(norm(vals[code])) if code in vals else "#dddddd"
                    for patch in ps:
                        patch.set_facecolor(colour)
                ax.set_title(f"{title}:\n{scenario} vs announced-2500", fontsize=10)
            _write(fig, path)
    finally:
        plt.close(fig)
    return paths


def maps(maps_df: pd.DataFrame, scenario: str, path: Path,
         lims: dict[str, float] | None = None) -> Path:
    """The change maps of one scenario (see :func:`maps_figures`)."""
    return maps_figures(maps_df, {scenario: path}, lims)[scenario]


def enablers(df: pd.DataFrame, path: Path) -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    fig.subplots_adjust(left=0.15, right=0.985, top=0.89, bottom=0.2, wspace=0.42)
    for ax, (outcome, label) in zip(axes, [("is_attacks_y2", "extra IS attacks in year 2"),
                                           ("is_fighters_end", "extra IS fighters after two years")],
                                    strict=True):
        sub = df[df["outcome"] == outcome].sort_values("effect_mid")
        y = np.arange(len(sub))
        ax.barh(y, sub["effect_mid"], color="#0072B2", alpha=0.8)
        ax.errorbar(sub["effect_mid"], y, xerr=[sub["effect_mid"] - sub["effect_lo"],
                                                sub["effect_hi"] - sub["effect_mid"]],
                    fmt="none", ecolor="black", capsize=3, lw=1)
        ax.set_yticks(y, [f"without {e}" for e in sub["enabler"]])
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_xlabel(f"{label}\n(paired median, 80% interval)")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle("Which enablers matter most: removing one at a time from the announced plan",
                 fontsize=11, y=0.985, va="top")
    return _save(fig, path)


def forecast_vs_observed(fc: pd.DataFrame, observed: pd.DataFrame, path: Path,
                         dates=None, method: str = "blend") -> Path:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    fig.subplots_adjust(left=0.065, right=0.98, top=0.84, bottom=0.2, wspace=0.17)
    for ax, (series, src, met, title) in zip(axes, [
            ("ged_sb_deaths", "ged_cm", "sb_deaths", "UCDP state-based deaths per month"),
            ("is_attacks_ctc", "ctc", "is_attacks", "IS attacks per month (CTC Sentinel count)")],
            strict=True):
        f = fc[fc["series"] == series]
        x = pd.to_datetime(f["period_start"])
        ax.fill_between(x, f[0.1], f[0.9], color="#56B4E9", alpha=0.35, lw=0, label="forecast 80%")
        ax.fill_between(x, f[0.25], f[0.75], color="#0072B2", alpha=0.35, lw=0, label="forecast 50%")
        ax.plot(x, f[0.5], color="#0072B2", lw=1.5, label="forecast median")
        o = observed[(observed["source"] == src) & (observed["metric"] == met)]
        months = ((o["period_end"] - o["period_start"]).dt.days + 1) / 30.4375
        mid = o["period_start"] + (o["period_end"] - o["period_start"]) / 2
        ax.plot(mid, o["value"] / months, "o", color="#D55E00", ms=3, label="observed (to 2020-11)")
        ax.axvline(pd.Timestamp("2020-12-01"), color="grey", ls=":", lw=0.8)
        _mark(ax, dates, label=True)
        ax.set_title(title, fontsize=10)
        _dates(ax)
        ax.set_ylabel("count per month")
        ax.set_xlabel("month")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncol=4, fontsize=8)
    how = {"blend": "blended levels: statistical baseline and simulator pooled by their backtest",
           "simulator": "simulator levels", "baseline": "statistical baseline"}.get(method, method)
    fig.suptitle("Forecast under announced-2500 (median, 50% and 80% bands) against the last "
                 f"observed data\n({how})", fontsize=10, y=0.985, va="top")
    return _save(fig, path)


def brief_figures(data, folder: Path) -> dict[str, Path]:
    """Every figure of the brief, written under ``folder``; recorded in ``data.figures``."""
    folder.mkdir(parents=True, exist_ok=True)
    dates = policy_dates(data.meta)
    lims = map_limits(data.maps, ["full-withdrawal", "enablers-over-horizon"])
    figs = {"fan": fan_chart(data.fan, folder / "fan.png", dates=dates,
                             levels=data.meta.get("levels")),
            **dict(zip(("maps", "maps_oth"), maps_figures(
                data.maps, {"full-withdrawal": folder / "map_full_withdrawal.png",
                            "enablers-over-horizon": folder / "map_over_horizon.png"},
                lims).values(), strict=True)),
            "enablers": enablers(data.enablers, folder / "enablers.png")}
    if data.forecast is not None:
        figs["forecast"] = forecast_vs_observed(data.forecast, data.observed,
                                                folder / "forecast.png", dates=dates[:1],
                                                method=data.meta.get("forecast_method", "simulator"))
    if data.fit_rows is not None:
        from resurgence.report.diagnostics import fit_figure

        figs["fit"] = fit_figure(data.fit_rows, data.fit_draws, folder / "fit.png")
    data.figures = figs
    return figs
