"""Importers against hostile exports (issue #12): encodings, dates outside 1989..2030,
non-finite and negative counts, bad coordinates; the CLI never writes over a file without
--overwrite and writes all or nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resurgence.calibration.importers import ImportFormatError, import_acled, import_ged
from resurgence.cli.data import data_app

FIX = Path(__file__).parent / "fixtures"
GED, ACLED = FIX / "ged_sample.csv", FIX / "acled_sample.csv"
runner = CliRunner()


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _with(tmp_path: Path, src: Path, col: str, value: str, name: str) -> Path:
    rows = _rows(src)
    rows[1][rows[0].index(col)] = value
    out = tmp_path / name
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return out


@pytest.mark.parametrize(("col", "value", "reason"), [
    ("date_start", "0001-01-01", "date outside 1989-01-01..2030-12-31"),
    ("date_start", "0000-01-01", "date outside"),
    ("date_end", "2999-01-01", "date outside"),
    ("best", "inf", "deaths is not finite"),
    ("best", "-inf", "deaths is not finite"),
    ("best", "-3", "deaths below 0"),
    ("latitude", "nan", "latitude is not a number"),
    ("longitude", "1e400", "longitude is not finite"),
    ("latitude", "95", "latitude outside"),
])
def test_bad_ged_values_are_reported_by_line_and_column(tmp_path, col, value, reason) -> None:
    base_rows, _ = import_ged(GED, "iraq")
    path = _with(tmp_path, GED, col, value, "bad.csv")
    rows, report = import_ged(path, "iraq")
    hit = [i for i in report.issues if i.line == 2]
    assert hit and hit[0].column == col and reason in hit[0].reason, report.issues[:3]
    assert len(rows) <= len(base_rows)  # one bad row never expands the table
    assert rows["value"].notna().all() and (rows["value"] >= 0).all()


def test_acled_date_window_and_fatalities(tmp_path) -> None:
    path = _with(tmp_path, ACLED, "event_date", "01 January 0001", "a.csv")
    _, report = import_acled(path, "iraq")
    assert any(i.line == 2 and i.column == "event_date" for i in report.issues)
    path = _with(tmp_path, ACLED, "fatalities", "inf", "b.csv")
    _, report = import_acled(path, "iraq")
    assert any(i.line == 2 and "not finite" in i.reason for i in report.issues)


def test_utf16_with_a_byte_order_mark_is_read(tmp_path) -> None:
    p = tmp_path / "u16.csv"
    p.write_text(GED.read_text(encoding="utf-8"), encoding="utf-16")
    a, _ = import_ged(GED, "iraq")
    b, _ = import_ged(p, "iraq")
    assert a.equals(b)


def test_other_encodings_are_refused_in_one_line_with_a_position(tmp_path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes(GED.read_bytes().replace("ā".encode(), b"\xe2"))
    with pytest.raises(ImportFormatError) as e:
        import_ged(p, "iraq")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(p)) and "line 2, column" in msg


def test_cli_never_overwrites_without_the_flag(tmp_path) -> None:
    out = tmp_path / "obs.csv"
    out.write_text("keep me", encoding="utf-8")
    res = runner.invoke(data_app, ["import", "ged", str(GED), "--out", str(out)])
    assert res.exit_code == 2 and "--overwrite" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert out.read_text(encoding="utf-8") == "keep me"
    res = runner.invoke(data_app, ["import", "ged", str(GED), "--out", str(out), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert out.read_text(encoding="utf-8").startswith("source,")
    assert not list(tmp_path.glob(".*tmp-*"))


@pytest.mark.parametrize("target", ["dir", "missing/obs.csv", "/proc/self/obs.csv"])
def test_cli_bad_output_paths_exit_2_in_one_line(tmp_path, target) -> None:
    (tmp_path / "dir").mkdir()
    out = tmp_path / target if not target.startswith("/") else Path(target)
    res = runner.invoke(data_app, ["import", "acled", str(ACLED), "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert str(out) in res.stderr


@pytest.mark.parametrize("source", ["dir", "missing.csv", "a" * 300 + ".csv"])
def test_cli_bad_input_paths_exit_2_in_one_line(tmp_path, source) -> None:
    (tmp_path / "dir").mkdir()
    res = runner.invoke(data_app, ["import", "ged", str(tmp_path / source), "--out",
                                   str(tmp_path / "o.csv")])
    assert res.exit_code == 2, res.output
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not (tmp_path / "o.csv").exists()
