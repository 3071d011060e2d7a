"""Observation table, period aggregation, GED/ACLED importers and the ``data`` CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from resurgence.calibration.importers import ImportFormatError, import_acled, import_ged
from resurgence.calibration.observations import (
    GRANULARITIES,
    ObservationError,
    aggregate_weekly,
    load_observations,
    observations_path,
    to_series,
)
from resurgence.cli.data import data_app
from resurgence.theatre.theatre import load_theatre

FIXTURES = Path(__file__).parent / "fixtures"
GED_SAMPLE = FIXTURES / "ged_sample.csv"
ACLED_SAMPLE = FIXTURES / "acled_sample.csv"
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CUTOFF = pd.Timestamp("2020-11-30")
SOURCES = {"musings", "ctc", "ibc", "constellis", "ged", "ged_cm", "views"}


@pytest.fixture(scope="module")
def obs() -> pd.DataFrame:
    return load_observations()


def _one(df: pd.DataFrame, **eq: object) -> float:
    sel = df
    for k, v in eq.items():
        sel = sel[sel[k] == (pd.Timestamp(v) if k.startswith("period") else v)]
    assert len(sel) == 1, (eq, sel)
    return float(sel["value"].iloc[0])


# --- packaged table --------------------------------------------------------------------------

def test_packaged_table_has_every_source_and_valid_rows(obs: pd.DataFrame) -> None:
    assert set(obs["source"]) == SOURCES
    codes = set(load_theatre("iraq").codes)
    assert set(obs["region"]) <= codes | {"IQ"}
    assert set(obs["granularity"]) <= set(GRANULARITIES)
    assert (obs["period_end"] >= obs["period_start"]).all()
    assert obs.attrs["dropped_straddling"] == 0 and obs.attrs["dropped_after"] == 0
    # GED monthly series cover every governorate and the nation, 60 months each
    ged = obs[obs["source"] == "ged"]
    assert set(ged["metric"]) == {"is_events", "is_deaths", "sb_events", "sb_deaths"}
    assert ged.groupby(["metric", "region"]).size().eq(60).all()
    assert set(ged["region"]) == codes | {"IQ"}


def test_nothing_after_cutoff_in_the_raw_file() -> None:
    raw = pd.read_csv(observations_path(), dtype=str, keep_default_na=False)
    assert (pd.to_datetime(raw["period_end"]) <= CUTOFF).all()
    assert (pd.to_datetime(raw["period_start"]) <= CUTOFF).all()


def test_known_values(obs: pd.DataFrame) -> None:
    assert _one(obs, source="ctc", metric="is_attacks", region="IQ", period_start="2019-01-01",
                period_end="2019-12-31") == 1669
    ctc = obs[obs["source"] == "ctc"]
    assert len(ctc) == 5 and set(ctc["granularity"]) == {"year", "quarter"}
    assert _one(obs, source="ibc", metric="civilian_deaths", region="IQ",
                period_start="2019-01-01") == 2362
    # avg/day converted where no direct count exists ...
    jan14 = obs[(obs["source"] == "musings") & (obs["period_start"] == "2014-01-01")
                & (obs["period_end"] == "2014-01-31")]
    assert jan14["value"].iloc[0] == pytest.approx(32.7 * 31)
    assert "converted" in jan14["note"].iloc[0]
    # ... and the direct count wins where both exist (Jan 2015: 815, not 29.4 x 31)
    assert _one(obs, source="musings", metric="incidents", region="IQ",
                period_start="2015-01-01", period_end="2015-01-31") == 815
    assert _one(obs, source="musings", metric="incidents", region="IQ-SD",
                period_start="2018-09-01") == 20
    assert not obs["note"].str.contains("KRG|Kurdistan \\(unspecified\\)").any()
    assert _one(obs, source="views", metric="ged_sb", region="IQ",
                period_start="2018-01-01") == 148


def test_ged_2018_national_sb_deaths_plausible_vs_country_month(obs: pd.DataFrame) -> None:
    def year_sum(source: str, metric: str) -> float:
        s = obs[(obs["source"] == source) & (obs["metric"] == metric) & (obs["region"] == "IQ")
                & (obs["period_start"].dt.year == 2018)]
        assert len(s) == 12
        return float(s["value"].sum())

    ged, cm = year_sum("ged", "sb_deaths"), year_sum("ged_cm", "sb_deaths")
    assert 1000 < ged < 2000 and abs(ged / cm - 1) < 0.1
    assert abs(year_sum("ged", "sb_events") / year_sum("ged_cm", "sb_events") - 1) < 0.1
    # governorates add up to at most the nation (country-level events are national only)
    ged_rows = obs[obs["source"] == "ged"]
    reg = ged_rows[ged_rows["region"] != "IQ"].groupby(["metric", "period_start"])["value"].sum()
    nat = ged_rows[ged_rows["region"] == "IQ"].set_index(["metric", "period_start"])["value"]
    assert (reg <= nat + 1e-9).all() and (reg == nat).mean() > 0.75


def test_until_filtering_counts_straddling_rows() -> None:
    until = dt.date(2019, 6, 30)
    df = load_observations(until=until)
    assert (df["period_end"] <= pd.Timestamp(until)).all()
    full = load_observations()
    straddle = ((full["period_start"] <= pd.Timestamp(until))
                & (full["period_end"] > pd.Timestamp(until))).sum()
    assert df.attrs["dropped_straddling"] == straddle > 0  # e.g. CTC and IBC 2019 totals
    assert len(df) + df.attrs["dropped_straddling"] + df.attrs["dropped_after"] == len(full)
    assert not ((df["source"] == "ctc") & (df["period_start"].dt.year == 2019)).any()


def test_to_series(obs: pd.DataFrame) -> None:
    series = to_series(obs)
    keys = [s.key for s in series]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert sum(len(s) for s in series) == len(obs)
    ctc = next(s for s in series if s.key == ("ctc", "is_attacks", "IQ"))
    assert ctc.start.dtype == np.dtype("datetime64[D]") and ctc.value.dtype == np.float64
    assert list(ctc.value) == [1470, 1669, 566, 808, 510]
    assert (np.diff(ctc.start.astype(np.int64)) >= 0).all()
    assert ctc.end[-1] == np.datetime64("2020-09-30")


def _write(tmp_path: Path, text: str, name: str = "obs.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


HEAD = "source,metric,region,period_start,period_end,granularity,value,note\n"


@pytest.mark.parametrize(("body", "needle"), [
    ("s,m,IQ,2019-01-01,2019-01-31,month,1,\ns,m,IQ,2019-02-30,2019-02-28,month,1,\n",
     "line 3, column 'period_start': not an ISO date"),
    ("s,m,IQ,2019-01-01,2019-01-31,fortnight,1,\n", "line 2, column 'granularity'"),
    ("s,m,IQ,2019-01-01,2019-01-31,month,lots,\n", "line 2, column 'value'"),
    ("s,m,IQ,2019-01-31,2019-01-01,month,1,\n", "line 2, column 'period_end'"),
    ("s,m,IQ,2019-01-01,2019-01-31,month,1,\ns,m,IQ,2019-01-01,2019-01-31,month,2,\n",
     "line 3, column 'period_start': duplicate of line 2"),
])
def test_user_table_errors_name_line_and_column(tmp_path: Path, body: str, needle: str) -> None:
    with pytest.raises(ObservationError, match=needle.replace("(", r"\(")) as e:
        load_observations(path=_write(tmp_path, HEAD + body))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


def test_user_table_missing_column_and_unknown_case(tmp_path: Path) -> None:
    with pytest.raises(ObservationError, match="missing required column.*granularity"):
        load_observations(path=_write(tmp_path, "source,metric,region,period_start,period_end,"
                                      "value,note\ns,m,IQ,2019-01-01,2019-01-31,1,\n"))
    with pytest.raises(ObservationError, match="unknown case"):
        load_observations("iraq-1999")


# --- aggregate_weekly ------------------------------------------------------------------------

def _daily_reference(values: np.ndarray, weeks: np.ndarray, start: np.ndarray,
                     end: np.ndarray) -> np.ndarray:
    """Brute force: spread each week evenly over its 7 days, sum the days of each period."""
    out = np.zeros(values.shape[:-1] + (len(start),))
    for w, ws in enumerate(weeks):
        for d in range(7):
            day = ws + np.timedelta64(d, "D")
            inside = (start <= day) & (day <= end)
            out[..., inside] += values[..., w, None] / 7.0
    return out


def test_aggregate_weekly_whole_weeks_are_exact() -> None:
    weeks = np.datetime64("2020-01-06") + 7 * np.arange(4).astype("timedelta64[D]")
    v = np.array([1.0, 2.0, 4.0, 8.0])
    start = np.array(["2020-01-06", "2020-01-20", "2020-01-13"], dtype="datetime64[D]")
    end = np.array(["2020-01-19", "2020-02-02", "2020-01-19"], dtype="datetime64[D]")
    np.testing.assert_array_equal(aggregate_weekly(v, weeks, start, end), [3.0, 12.0, 2.0])


def test_aggregate_weekly_prorates_straddling_weeks() -> None:
    weeks = np.datetime64("2019-12-30") + 7 * np.arange(6).astype("timedelta64[D]")  # Mondays
    v = np.full(6, 7.0)  # one event per day
    jan = aggregate_weekly(v, weeks, np.array(["2020-01-01"], "datetime64[D]"),
                           np.array(["2020-01-31"], "datetime64[D]"))
    assert jan[0] == pytest.approx(31.0)  # 5 days of week 0, weeks 1-3, 5 days of week 4
    one_day = aggregate_weekly(v, weeks, np.array(["2020-01-15"], "datetime64[D]"),
                               np.array(["2020-01-15"], "datetime64[D]"))
    assert one_day[0] == pytest.approx(1.0)


def test_aggregate_weekly_matches_daily_reference_and_preserves_sums() -> None:
    rng = np.random.default_rng(3)
    W = 30
    weeks = np.datetime64("2018-01-01") + 7 * np.arange(W).astype("timedelta64[D]")
    v = rng.gamma(2.0, 3.0, size=(5, 3, W))  # runs x regions x weeks
    first, last = weeks[0], weeks[-1] + np.timedelta64(6, "D")
    s = first + rng.integers(0, 200, 40).astype("timedelta64[D]")
    e = np.minimum(s + rng.integers(0, 40, 40).astype("timedelta64[D]"), last)
    got = aggregate_weekly(v, weeks, s, e)
    assert got.shape == (5, 3, 40)
    np.testing.assert_allclose(got, _daily_reference(v, weeks, s, e), rtol=1e-12)
    # calendar months partitioning the covered days: the total is preserved
    months = np.arange(first.astype("datetime64[M]"), last.astype("datetime64[M]") + 1)
    ms = np.maximum(months.astype("datetime64[D]"), first)
    me = np.minimum((months + 1).astype("datetime64[D]") - np.timedelta64(1, "D"), last)
    np.testing.assert_allclose(aggregate_weekly(v, weeks, ms, me).sum(-1), v.sum(-1))


def test_aggregate_weekly_partial_coverage_and_errors() -> None:
    weeks = np.array(["2020-01-06", "2020-01-13"], dtype="datetime64[D]")
    v = np.array([7.0, 7.0])
    s, e = np.array(["2020-01-01"], "datetime64[D]"), np.array(["2020-01-12"], "datetime64[D]")
    assert np.isnan(aggregate_weekly(v, weeks, s, e)[0])
    assert aggregate_weekly(v, weeks, s, e, allow_partial=True)[0] == pytest.approx(7.0)
    with pytest.raises(ValueError, match="must match"):
        aggregate_weekly(np.ones(3), weeks, s, e)
    with pytest.raises(ValueError, match="7 days apart"):
        aggregate_weekly(v, weeks[::-1], s, e)


# --- importers -------------------------------------------------------------------------------

def _cell(rows: pd.DataFrame, metric: str, region: str, gran: str, start: str) -> float:
    return _one(rows, metric=metric, region=region, granularity=gran, period_start=start)


def test_import_ged_fixture() -> None:
    rows, rep = import_ged(GED_SAMPLE, "iraq")
    issues = [(i.line, i.column, i.reason) for i in rep.issues]
    assert issues == [
        (9, "date_start", "unparseable date (want YYYY-MM-DD)"),
        (19, "latitude", "missing latitude"),
        (36, "latitude,longitude", "coordinates outside every region polygon"),  # Syria
        (41, "best", "deaths is not a number"),
        (46, "latitude,longitude", "coordinates outside every region polygon"),  # Haftanin
    ]
    assert rep.rows_read == 35 and rep.rows_used == 30 and rep.malformed_rows == 5
    assert rep.rows_read == rep.rows_used + rep.malformed_rows + rep.refused_after_until
    assert sum(rep.by_region.values()) == rep.rows_used
    # February 2018 by hand: Ramadi (Anbar, 2 deaths), Mosul (Nineveh, 17), Kirkuk town (1)
    for code, n, deaths in (("IQ-AN", 1, 2), ("IQ-NI", 1, 17), ("IQ-KI", 1, 1), ("IQ", 3, 20)):
        assert _cell(rows, "events", code, "month", "2018-02-01") == n
        assert _cell(rows, "deaths", code, "month", "2018-02-01") == deaths
    # the Mosul event of Fri 2018-02-16 is in the ISO week starting Mon 2018-02-12
    assert _cell(rows, "is_deaths", "IQ-NI", "week", "2018-02-12") == 17
    # Tarmiyah (GED adm_1 Baghdad) lies in the Diyala polygon; the point decides
    assert _cell(rows, "is_events", "IQ-DI", "month", "2018-11-01") == 1
    # counts add up: every used event once per granularity nationally, and across regions
    for gran in ("week", "month"):
        g = rows[(rows["granularity"] == gran) & (rows["metric"] == "events")]
        assert g.loc[g["region"] == "IQ", "value"].sum() == rep.rows_used
        assert g.loc[g["region"] != "IQ", "value"].sum() == rep.rows_used
    weeks = rows[rows["granularity"] == "week"]
    assert (weeks["period_start"].dt.day_of_week == 0).all()
    assert ((weeks["period_end"] - weeks["period_start"]).dt.days == 6).all()


def test_import_ged_until_and_snap() -> None:
    raw = pd.read_csv(GED_SAMPLE)
    rows, rep = import_ged(GED_SAMPLE, "iraq", until=dt.date(2018, 6, 30), snap_km=5)
    assert rep.malformed_rows == 4 and rep.snapped == 0  # Haftanin refused (after June)
    ok = ~raw["id"].isin([900001, 900002, 900003, 900004])
    assert rep.refused_after_until == int((pd.to_datetime(raw["date_end"][ok]) > "2018-06-30").sum())
    assert (rows["period_end"] <= "2018-06-30").all()
    _, rep2 = import_ged(GED_SAMPLE, "iraq", snap_km=5)  # Haftanin is ~0.2 km outside Dohuk
    assert rep2.snapped == 1 and rep2.by_region["IQ-DA"] == 2 and rep2.malformed_rows == 4


def test_import_ged_official_layout(tmp_path: Path) -> None:
    """The official GED CSV: extra id columns, other order, dates with a time part."""
    df = pd.read_csv(GED_SAMPLE, dtype=str, keep_default_na=False)
    df.insert(1, "relid", "IRQ-2018-1-" + df["id"])
    for col in ("code_status", "conflict_dset_id", "dyad_dset_id", "side_a_dset_id",
                "side_b_dset_id"):
        df[col] = "1"
    df = df[list(reversed(df.columns))]
    good = df["date_start"] != "2018-02-31"
    df.loc[good, "date_start"] = df.loc[good, "date_start"] + " 00:00:00.000"
    df.loc[good, "date_end"] = df.loc[good, "date_end"] + " 00:00:00.000"
    path = tmp_path / "ged241.csv"
    df.to_csv(path, index=False)
    a, rep_a = import_ged(GED_SAMPLE, "iraq")
    b, rep_b = import_ged(path, "iraq")
    pd.testing.assert_frame_equal(a, b)
    assert rep_b.rows_used == rep_a.rows_used and len(rep_b.issues) == len(rep_a.issues)


def test_import_acled_fixture() -> None:
    rows, rep = import_acled(ACLED_SAMPLE, "iraq")
    assert [(i.line, i.column, i.value) for i in rep.issues] == [
        (21, "event_date", "31 Febtember 2020"), (22, "latitude", ""),
        (23, "latitude,longitude", "35.9528,39.0079"), (24, "fatalities", "unknown")]
    assert (rep.rows_read, rep.rows_used, rep.malformed_rows) == (23, 19, 4)
    assert rep.first_date == dt.date(2019, 1, 12) and rep.last_date == dt.date(2020, 11, 22)
    nat = rows[(rows["region"] == "IQ") & (rows["granularity"] == "month")]
    totals = nat.groupby("metric")["value"].sum()
    assert totals["events"] == 19 and totals["fatalities"] == 22
    assert totals["is_events"] == 8 and totals["battles"] == 5
    assert totals["explosions"] == 9 and totals["violence_against_civilians"] == 2
    # by hand: Mosul IED (Sat 2019-01-12) -> Nineveh, ISO week from Mon 2019-01-07
    assert _cell(rows, "explosions", "IQ-NI", "week", "2019-01-07") == 1
    assert _cell(rows, "is_events", "IQ-NI", "month", "2019-01-01") == 1
    # Sidakan (Turkey-PKK) -> Erbil; Amedi -> Dohuk; ISO date 2019-07-19 Hawija -> Kirkuk
    assert _cell(rows, "battles", "IQ-AR", "month", "2020-06-01") == 1
    assert _cell(rows, "explosions", "IQ-DA", "month", "2020-06-01") == 1
    assert _cell(rows, "fatalities", "IQ-KI", "month", "2019-07-01") == 4
    # the last month extends past the last event: flagged, not silently complete
    assert "may be incomplete" in rows[rows["period_start"] == "2020-11-01"]["note"].iloc[0]


def test_importer_format_errors(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no such file"):
        import_ged(tmp_path / "nope.csv", "iraq")
    with pytest.raises(ImportFormatError, match="empty file"):
        import_acled(_write(tmp_path, ""), "iraq")
    head = ACLED_SAMPLE.read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(ImportFormatError, match="header only"):
        import_acled(_write(tmp_path, head + "\n"), "iraq")
    with pytest.raises(ImportFormatError, match="missing required column.*best"):
        import_ged(_drop_column(GED_SAMPLE, "best", tmp_path), "iraq")


def _drop_column(src: Path, col: str, tmp_path: Path) -> Path:
    rows = list(csv.reader(io.StringIO(src.read_text(encoding="utf-8"), newline="")))
    k = rows[0].index(col)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([r[:k] + r[k + 1:] for r in rows])
    return _write(tmp_path, buf.getvalue(), f"no_{col}.csv")


# --- CLI -------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_import_writes_a_loadable_table(tmp_path: Path) -> None:
    out = tmp_path / "ged_obs.csv"
    res = runner.invoke(data_app, ["import", "ged", str(GED_SAMPLE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "malformed" in res.stdout and "outside every region polygon" in res.stdout
    back = load_observations(path=out)
    rows, _ = import_ged(GED_SAMPLE, "iraq")
    assert len(back) == len(rows) and set(back["source"]) == {"ged_import"}
    res = runner.invoke(data_app, ["import", "acled", str(ACLED_SAMPLE), "--out",
                                   str(tmp_path / "a.csv"), "--until", "2020-06-30"])
    assert res.exit_code == 0, res.output
    assert (load_observations(path=tmp_path / "a.csv")["period_end"] <= "2020-06-30").all()


def test_cli_import_errors_exit_2_one_line_nothing_written(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    bad = _drop_column(GED_SAMPLE, "latitude", tmp_path)
    for args in (["import", "ged", str(bad), "--out", str(out)],
                 ["import", "ged", str(tmp_path / "missing.csv"), "--out", str(out)],
                 ["import", "acled", str(_write(tmp_path, "", "empty.csv")), "--out", str(out)],
                 ["import", "acled", str(ACLED_SAMPLE), "--out", str(out), "--until", "soon"]):
        res = runner.invoke(data_app, args)
        assert res.exit_code == 2, (args, res.output)
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
        assert "Traceback" not in res.output
        assert not out.exists() and not list(tmp_path.glob(".out.csv.tmp-*"))
    res = runner.invoke(data_app, ["import", "ged", str(bad), "--out", str(out)])
    assert "latitude" in res.stderr


def test_cli_show() -> None:
    res = runner.invoke(data_app, ["show"])
    assert res.exit_code == 0, res.output
    for s in SOURCES:
        assert s in res.stdout
    res = runner.invoke(data_app, ["show", "--source", "ctc"])
    # no musings row in the table (the header's path may contain the word: a checkout named so)
    rows = [ln for ln in res.stdout.splitlines() if ln.startswith("│")]
    assert res.exit_code == 0 and "is_attacks" in res.stdout
    assert rows and not any("musings" in ln for ln in rows)
    res = runner.invoke(data_app, ["show", "--metric", "no_such_metric"])
    assert res.exit_code == 2 and "no observations match" in res.stderr


@pytest.mark.skipif(not (SHARED / "SOURCES.md").is_file(), reason="shared/data not available")
def test_build_script_check_is_up_to_date() -> None:
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "build_observations.py"),
                          "--check"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
