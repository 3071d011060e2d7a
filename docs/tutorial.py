# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # resurgence in a notebook
#
# Load a shipped scenario, edit a lever, run a paired comparison under common random
# numbers, plot the fan chart and the map of the change, and read the results bundle with
# DuckDB. This file is a jupytext "percent" notebook: open it in Jupyter with jupytext
# (`jupytext --to notebook docs/tutorial.py`) or run it as a script. CI runs it at reduced
# size (`tests/test_tutorial.py` sets `RESURGENCE_TUTORIAL_RUNS` and `..._WEEKS`).

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use(os.environ.get("MPLBACKEND", "Agg"))
import duckdb  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import resurgence  # noqa: E402
from resurgence.report import fmt  # noqa: E402
from resurgence.report.figures import draw_regions  # noqa: E402
from resurgence.scenario.schema import load_scenario, scenario_from_dict  # noqa: E402

RUNS = int(os.environ.get("RESURGENCE_TUTORIAL_RUNS", "200"))
WEEKS = int(os.environ.get("RESURGENCE_TUTORIAL_WEEKS", "104"))
OUT = Path(os.environ.get("RESURGENCE_TUTORIAL_OUT", "tutorial-out"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## 1. Load a scenario
# The announced plan as known on 30 November 2020, with its base resolved: every dated
# schedule point, from the 2018 history on.

# %%
plan = load_scenario("announced-2500")
print(plan.title, "-", plan.description)
print("US troops:", [(d.isoformat(), v) for d, v in plan.schedule("troops")])

# %% [markdown]
# ## 2. Edit a lever
# A scenario that overlays the plan: troops fall on to 1,000 by 30 June 2021 and ISR
# (intelligence, surveillance, reconnaissance) halves over the same months. Keys are the
# fields of a scenario TOML file (`docs/scenarios.md`).

# %%
cut = scenario_from_dict({
    "name": "cut-to-1000", "base": "announced-2500", "title": "Cut to 1,000 by mid-2021",
    "description": "The announced plan, then 1,000 troops by 30 June 2021 with half the ISR.",
    "schedules": {"troops": [["2021-01-15", 2500], ["2021-06-30", 1000]],
                  "isr": [["2021-01-15", 1.0], ["2021-06-30", 0.5]]},
}, "tutorial")
print(cut.schedule("troops")[-2:], cut.schedule("isr"))

# %% [markdown]
# ## 3. A paired comparison
# Both scenarios run with the same random numbers and the same posterior draw per run
# (the shipped calibrated posterior, as in the CLI), so B - A shows the policy, not noise.
# Cells: median [80% interval] across runs; probability differences in percentage points.

# %%
res = resurgence.run([plan, cut], runs=RUNS, seed=1, weeks=WEEKS, out=OUT / "bundle",
                     overwrite=True)
from resurgence.analysis.contrasts import contrast  # noqa: E402

rows = contrast(res.outcomes[plan.name], res.outcomes[cut.name],
                ["is_attacks_y1", "is_fighters_end", "holds_ground_12m", "iran_influence_end"])
table = pd.DataFrame([{"outcome": c.description, "unit": c.unit,
                       plan.name: fmt.interval(c.a[1], c.a[0], c.a[2], c.kind),
                       f"{cut.name} - {plan.name}": fmt.interval(c.diff[1], c.diff[0], c.diff[2],
                                                                 c.kind, diff=True),
                       "share of paired runs with B > A": fmt.prob(c.p_increase)}
                      for c in rows])
table  # noqa: B018  (a notebook cell shows its last value)

# %% [markdown]
# ## 4. The fan chart
# National IS attacks per week (the model's count, on CTC Sentinel's scale): medians with
# 50% and 80% bands across runs.

# %%
bundle = res.open()
q = bundle.quantiles("is_attacks", region="IQ")
fig, ax = plt.subplots(figsize=(8, 3.5), constrained_layout=True)
for name, colour in ((plan.name, "black"), (cut.name, "#D55E00")):
    g = q[q["scenario"].astype(str) == name].sort_values("week")
    x = pd.to_datetime(g["date"])
    ax.fill_between(x, g["q10"], g["q90"], color=colour, alpha=0.15, lw=0)
    ax.fill_between(x, g["q25"], g["q75"], color=colour, alpha=0.3, lw=0)
    ax.plot(x, g["q50"], color=colour, label=name)
ax.axvline(pd.Timestamp("2021-06-30"), color="grey", ls="--", lw=0.8)
ax.set_ylabel("IS attacks per week (model count)")
ax.legend(loc="upper left", fontsize=8)
fig.savefig(OUT / "fan.png", dpi=90)

# %% [markdown]
# ## 5. Read the bundle with DuckDB
# The bundle is Parquet: any tool reads it. Paired per-run totals of IS attacks by
# governorate over the horizon, then the median change per governorate.

# %%
series = (OUT / "bundle" / "series" / "*.parquet").as_posix()
per_region = duckdb.sql(f"""
    WITH t AS (SELECT scenario, region, run, sum(is_attacks) AS attacks
               FROM read_parquet('{series}') WHERE region <> 'IQ' GROUP BY ALL)
    SELECT b.region, median(b.attacks - a.attacks) AS change
    FROM t a JOIN t b USING (region, run)
    WHERE a.scenario = '{plan.name}' AND b.scenario = '{cut.name}'
    GROUP BY ALL ORDER BY change DESC""").df()
per_region.head()  # noqa: B018

# %% [markdown]
# ## 6. The map of the change

# %%
from matplotlib.colors import TwoSlopeNorm  # noqa: E402

values = dict(zip(per_region["region"].astype(str), per_region["change"], strict=True))
lim = max(abs(per_region["change"]).max(), 1e-9)
norm = TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim)
fig, ax = plt.subplots(figsize=(5, 5), constrained_layout=True)
draw_regions(ax, values, plt.get_cmap("PuOr_r"), norm)
fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap="PuOr_r"), ax=ax, shrink=0.7,
             label="change in IS attacks over the horizon (paired median)")
ax.set_title(f"{cut.name} minus {plan.name}")
fig.savefig(OUT / "map.png", dpi=90)
