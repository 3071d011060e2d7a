"""What the 2011 case found (:class:`Case2011Result`) and the case's fixed dates."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from resurgence.calibration.posterior import Posterior
from resurgence.core.atomic import atomic_write_text
from resurgence.core.version import __version__

D = dt.date
ORIGIN = D(2011, 12, 18)  # the last US troops crossed into Kuwait
#: dates at which the probability that IS has come to hold ground is reported
HOLD_DATES = (D(2012, 12, 31), D(2013, 12, 31), D(2014, 6, 30), D(2014, 12, 31))
#: what happened: IS took Fallujah and parts of Ramadi on 1-4 January 2014 and Mosul on
#: 10 June 2014 (the Iraqi army's collapse in Nineveh)
FALLUJAH = D(2014, 1, 3)
MOSUL = D(2014, 6, 10)
COLLAPSE_REGIONS = ("IQ-NI", "IQ-AN")
DEATH_YEARS = tuple(range(2009, 2015))
#: default settings: ~2 minutes on two cores
DRAWS, GENERATIONS, RUNS, SEED, WORKERS = 1000, 6, 2000, 1, 2
DRIVERS = ("ex-ante", "conditional")



@dataclass
class Case2011Result:
    """What :func:`run_case_2011` found; every table is a DataFrame."""

    posterior: Posterior
    diagnostics: pd.DataFrame  # ABC-SMC generations
    deaths: pd.DataFrame  # IBC yearly civilian deaths: observed vs predictive
    incidents: pd.DataFrame  # Musings 2014 incidents per day: observed vs predictive
    ground: pd.DataFrame  # P(IS has held ground by date)
    first_hold: dict[str, Any]  # distribution of the first week IS holds ground
    collapse: pd.DataFrame  # P(collapse) by region and date
    curve: pd.DataFrame  # weekly cumulative probabilities (for the figure)
    params: pd.DataFrame  # posterior vs prior of the calibrated parameters
    settings: dict[str, Any] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def text(self) -> str:
        """The result in words, with its limits."""
        d = self.deaths.set_index("year")
        g = self.ground.set_index("date")["probability"]
        f = self.first_hold
        lines = [
            f"iraq-2011: ABC-SMC on {self.settings['observations']} observations (Iraq Body "
            f"Count 2009 and 2010 only; {self.settings['draws']} draws), {self.settings['runs']} "
            f"runs forward from the withdrawal of 18 Dec 2011 ({self._drivers_words()}).",
        ]
        for y in (2012, 2013, 2014):
            if y in d.index:
                r = d.loc[y]
                lines.append(
                    f"IBC {y}: observed {r['observed']:,.0f}, predicted median {r['median']:,.0f} "
                    f"(80% {r['p10']:,.0f}-{r['p90']:,.0f}); observed at predictive quantile "
                    f"{r['observed_quantile']:.2f}; CRPS {r['crps']:,.0f} deaths.")
        for _, r in self.incidents.iterrows():
            lines.append(f"Musings {r['period']}: observed {r['observed_per_day']:.1f}/day, predicted "
                         f"{r['median_per_day']:.1f}/day (80% {r['p10_per_day']:.1f}-"
                         f"{r['p90_per_day']:.1f}); quantile {r['observed_quantile']:.2f}.")
        gc = self.ground.set_index("date")["probability_given_no_ground_before"]
        lines.append("P(IS has held ground by): " + ", ".join(
            f"{k}: {v:.2f}" for k, v in g.items()) + f" (among the {self.ground['runs_no_ground_before'].iat[0]}"
            " runs in which IS held no ground before the withdrawal, as in reality: " + ", ".join(
            f"{v:.2f}" for v in gc) + ").")
        when = (f"median {f['median']}, 80% interval {f['p10']} to {f['p90']}"
                if f["median"] else "not within the horizon in most runs")
        lines.append(f"First week IS holds ground: {when} (share of runs never by 2014-12-31: "
                     f"{f['share_never']:.2f}); in reality Fallujah fell on {FALLUJAH} and Mosul on "
                     f"{MOSUL} (P(first <= Fallujah) = {f['p_by_fallujah']:.2f}, P(first <= "
                     f"Mosul) = {f['p_by_mosul']:.2f}).")
        c = self.collapse
        for reg in COLLAPSE_REGIONS:
            r = c[c["region"] == reg].set_index("date")["probability"]
            lines.append(f"Collapse of the forces in {reg}: " + ", ".join(
                f"by {k}: {v:.2f}" for k, v in r.items()) + ".")
        lines.append(
            "Limits: two yearly data points cannot identify ten parameters, so the posterior is "
            "largely the prior and these numbers test the mechanism qualitatively (does losing "
            "US enablers with Syria in chaos let IS grow into holding ground, and when?), not a "
            "validated forecast. " + (
                "Levers after the withdrawal are held at their values on the day (ex ante): "
                "the model is not told of Syria's war, the protest camps or the prison breaks; "
                if self.settings.get("drivers", "ex-ante") == "ex-ante" else
                "Exogenous levers after the withdrawal follow what happened (Syria, sectarian "
                "politics, protest camps), so the run is conditional on them; ")
            + "the US return of mid-2014 is not scheduled.")
        return "\n".join(lines)

    def _drivers_words(self) -> str:
        if self.settings.get("drivers", "ex-ante") == "ex-ante":
            return "ex ante: posture as announced, other levers held at their values on the day"
        return "conditional on the exogenous levers that followed"

    def scores(self) -> pd.DataFrame:
        """Forecast targets after the origin with their scores (CRPS in the target's units)."""
        d = self.deaths[self.deaths["role"] == "forecast"]
        rows = [{"target": f"IBC civilian deaths {r['year']}", "units": "deaths per year",
                 **{k: r[k] for k in ("observed", "median", "p10", "p90", "crps",
                                      "observed_quantile", "in50", "in80", "in90")}}
                for _, r in d.iterrows()]
        rows += [{"target": f"Musings incidents per day {r['period']}", "units": "incidents per day",
                  "observed": r["observed_per_day"], "median": r["median_per_day"],
                  "p10": r["p10_per_day"], "p90": r["p90_per_day"],
                  **{k: r[k] for k in ("crps", "observed_quantile", "in50", "in80", "in90")}}
                 for _, r in self.incidents.iterrows()]
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """One tidy table of every result (the CSV)."""
        recs: list[dict[str, Any]] = []
        for _, r in self.deaths.iterrows():
            recs.append({"section": "ibc_civilian_deaths", "item": str(r["year"]),
                         "role": r["role"], "observed": r["observed"], "median": r["median"],
                         "p10": r["p10"], "p90": r["p90"],
                         "observed_quantile": r["observed_quantile"], "crps": r["crps"]})
        for _, r in self.incidents.iterrows():
            recs.append({"section": "musings_incidents_per_day", "item": r["period"],
                         "role": "forecast", "observed": r["observed_per_day"],
                         "median": r["median_per_day"], "p10": r["p10_per_day"],
                         "p90": r["p90_per_day"], "observed_quantile": r["observed_quantile"],
                         "crps": r["crps"]})
        for _, r in self.ground.iterrows():
            recs.append({"section": "holds_ground_by", "item": str(r["date"]), "role": "forecast",
                         "probability": r["probability"], "mc_se": r["mc_se"]})
            recs.append({"section": "holds_ground_by_given_no_ground_before",
                         "item": str(r["date"]), "role": "forecast",
                         "probability": r["probability_given_no_ground_before"]})
        f = self.first_hold
        recs.append({"section": "first_hold_date", "item": "weeks from 2011-12-18",
                     "role": "forecast", "median": f["median_weeks"], "p10": f["p10_weeks"],
                     "p90": f["p90_weeks"], "probability": 1.0 - f["share_never"]})
        for _, r in self.collapse.iterrows():
            recs.append({"section": "collapse_by", "item": f"{r['region']} {r['date']}",
                         "role": "forecast", "probability": r["probability"], "mc_se": r["mc_se"]})
        for _, r in self.params.iterrows():
            recs.append({"section": "posterior", "item": r["parameter"], "role": "fitted",
                         "median": r["median"], "p10": r["p10"], "p90": r["p90"],
                         "prior_median": r["prior_median"]})
        cols = ["section", "item", "role", "observed", "median", "p10", "p90",
                "observed_quantile", "crps", "probability", "mc_se", "prior_median"]
        return pd.DataFrame(recs).reindex(columns=cols)

    def to_json(self) -> dict[str, Any]:
        def recs(df: pd.DataFrame) -> list[dict]:
            return json.loads(df.to_json(orient="records", date_format="iso"))

        return {"case": "iraq-2011", "version": __version__, "settings": self.settings,
                "wall_time_s": round(self.wall_time_s, 1), "text": self.text(),
                "deaths": recs(self.deaths), "incidents": recs(self.incidents),
                "scores": recs(self.scores()),
                "holds_ground_by": recs(self.ground), "first_hold": self.first_hold,
                "collapse": recs(self.collapse), "posterior": recs(self.params),
                "calibration": recs(self.diagnostics)}

    def save(self, out: str | Path) -> dict[str, Path]:
        """Write ``case2011.csv`` and ``case2011.json`` into ``out`` (the figure is
        :func:`resurgence.report.case2011.save_figure`)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {k: out / f"case2011.{k}" for k in ("csv", "json")}
        atomic_write_text(paths["csv"], self.table().to_csv(index=False, float_format="%.6g"))
        atomic_write_text(paths["json"], json.dumps(self.to_json(), indent=1, default=str))
        return paths
