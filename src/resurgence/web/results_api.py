"""HTTP API, part 2: a finished job's results (summary, quantiles, map, bundle download)."""

from __future__ import annotations

import datetime as dt
import functools
import os
import secrets
import threading
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, Response

from resurgence.web.specs import ApiError
from resurgence.web.state import WebState, get_state, json_safe, manifest

router = APIRouter(prefix="/api/jobs")
State = Annotated[WebState, Depends(get_state)]
_zip_lock = threading.Lock()
QCOLS = ("mean", "q05", "q10", "q25", "q50", "q75", "q90", "q95")


@router.get("/{job_id}/summary", summary="Per-run outcomes (P10, median, P90 per scenario) "
            "and, for a compare, paired contrasts B - A")
def summary(job_id: str, state: State) -> dict[str, Any]:
    job, path = state.done_bundle(job_id)
    out = dict(job["summary"] or {})
    out.update(job=job_id, runs=job["runs"], seed=job["seed"], weeks=job["weeks"],
               posterior=job["posterior"], start=manifest(str(path)).get("start_date"))
    return out


def _check(man: dict[str, Any], metric: str, region: str | None, scenario: str | None) -> None:
    if metric not in man["metrics"]:
        raise ApiError(422, f"query 'metric' = {metric[:40]!r}: unknown; expected one of "
                       f"{', '.join(man['metrics'])}")
    regions = [*man["regions"], man["national_code"]]
    if region is not None and region not in regions:
        raise ApiError(422, f"query 'region' = {region[:40]!r}: expected one of {', '.join(regions)}")
    if scenario is not None and scenario not in man["scenarios"]:
        raise ApiError(422, f"query 'scenario' = {scenario[:64]!r}: expected one of "
                       f"{', '.join(man['scenarios'])}")


@functools.lru_cache(maxsize=512)
def _quantiles(path: str, metric: str, region: str) -> dict[str, Any]:
    from resurgence.results.bundle import Bundle

    df = Bundle.open(path).quantiles(metric, region=region)
    out: dict[str, Any] = {}
    for sc, sub in df.groupby("scenario", observed=True, sort=False):
        sub = sub.sort_values("week")
        d: dict[str, Any] = {"week": sub["week"].astype(int).tolist(),
                             "date": [str(x)[:10] for x in sub["date"]]}
        d.update({c: sub[c].astype(float).tolist() for c in QCOLS})
        out[str(sc)] = d
    return json_safe(out)


@functools.lru_cache(maxsize=64)
def _blended(path: str) -> tuple[dict[str, Any] | None, str]:
    """National weekly IS attacks with the blend's levels (the statistical baseline and the
    simulator pooled, scenario effects paired against the reference), where the job allows
    it; else ``None`` and why the simulator's level stays."""
    from resurgence.calibration.blend import bundle_levels
    from resurgence.results.bundle import Bundle

    b = Bundle.open(path)
    df, note = bundle_levels(b, list(b.manifest["scenarios"]))
    if df is None:
        return None, note
    out: dict[str, Any] = {}
    for sc, sub in df.groupby("scenario", sort=False):
        d: dict[str, Any] = {"week": sub["week"].astype(int).tolist(),
                             "date": [str(x)[:10] for x in sub["date"]]}
        d.update({c: sub[c].astype(float).tolist() for c in QCOLS})
        out[str(sc)] = d
    return json_safe(out), note


@router.get("/{job_id}/quantiles", summary="Weekly quantiles across runs of one metric in one "
            "region (IQ = national), per scenario: mean, q05..q95; national IS attacks with "
            "the blend's levels where the job ran the reference scenario (levels=blend)")
def quantiles(job_id: str, state: State,
              metric: Annotated[str, Query(max_length=64)] = "is_attacks",
              region: Annotated[str, Query(max_length=16)] = "IQ",
              scenario: Annotated[str | None, Query(max_length=64)] = None,
              levels: Annotated[Literal["blend", "simulator"], Query()] = "blend") -> dict[str, Any]:
    _, path = state.done_bundle(job_id)
    man = manifest(str(path))
    _check(man, metric, region, scenario)
    data = _quantiles(str(path), metric, region)
    if not data:
        raise ApiError(422, f"metric {metric!r} has no rows for region {region!r} (national-only "
                       "metrics exist only for IQ)")
    used, note = "simulator", "simulator level"
    if metric == "is_attacks" and region == man["national_code"]:
        if levels == "blend":
            blended, note = _blended(str(path))
            if blended is not None:
                data, used = {**data, **blended}, "blend"
        else:
            note = "simulator level (levels=simulator)"
    if scenario is not None:
        data = {scenario: data[scenario]}
    spec = man["metrics"][metric]
    return {"job": job_id, "metric": metric, "unit": spec["unit"],
            "description": spec["description"], "region": region, "levels": used,
            "levels_note": note, "scenarios": data}


@functools.lru_cache(maxsize=512)
def _map(path: str, metric: str, scenario: str, week: int) -> list[tuple[str, float | None]]:
    from resurgence.results.bundle import Bundle

    df = Bundle.open(path).query(
        "SELECT region::VARCHAR AS region, q50 FROM quantiles WHERE metric = ? AND scenario = ? "
        "AND week = ?", [metric, scenario, week])
    return [(r, json_safe(float(v))) for r, v in zip(df["region"], df["q50"], strict=True)]


@router.get("/{job_id}/map", summary="Per-governorate weekly median of a metric (for the map)")
def region_map(job_id: str, state: State,
               metric: Annotated[str, Query(max_length=64)] = "is_attacks",
               week: Annotated[int, Query(description="week index; negative counts from the "
                                          "end (-1 = last week)", ge=-10_000, le=10_000)] = -1,
               scenario: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    from resurgence.web.specs import iraq_theatre

    job, path = state.done_bundle(job_id)
    man = manifest(str(path))
    _check(man, metric, None, scenario)
    if man["metrics"][metric]["level"] != "region":
        raise ApiError(422, f"query 'metric' = {metric!r}: a national-only metric has no map")
    weeks = int(man.get("weeks") or job["weeks"])
    w = week + weeks if week < 0 else week
    if not 0 <= w < weeks:
        raise ApiError(422, f"query 'week' = {week}: expected 0 to {weeks - 1} (or -1 to -{weeks})")
    sc = scenario or man["scenarios"][-1]
    values = dict(_map(str(path), metric, sc, w))
    th = iraq_theatre()
    rows = [{"code": c, "name": n, "value": values.get(c)}
            for c, n in zip(th.codes, th.names, strict=True)]
    date = dt.date.fromisoformat(man["start_date"]) + dt.timedelta(weeks=w)
    spec = man["metrics"][metric]
    finite = [r["value"] for r in rows if r["value"] is not None]
    return {"job": job_id, "metric": metric, "unit": spec["unit"],
            "description": spec["description"], "scenario": sc, "week": w,
            "date": date.isoformat(), "stat": "median across runs", "values": rows,
            "min": min(finite, default=None), "max": max(finite, default=None)}


def _zip(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with zipfile.ZipFile(tmp, "w") as zf:
            for f in sorted(src.rglob("*")):
                if f.is_file():
                    method = zipfile.ZIP_STORED if f.suffix == ".parquet" else zipfile.ZIP_DEFLATED
                    zf.write(f, f"{src.name}/{f.relative_to(src)}", compress_type=method)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


@router.get("/{job_id}/bundle", summary="Download the results bundle (zip: manifest.json, "
            "series/*.parquet, quantiles.parquet)", response_class=FileResponse)
def bundle(job_id: str, state: State) -> FileResponse:
    _, path = state.done_bundle(job_id)
    dest = state.catalogue.data_dir / "downloads" / f"{job_id}.zip"
    with _zip_lock:
        if not dest.is_file():
            _zip(path, dest)
    return FileResponse(dest, media_type="application/zip",
                        filename=f"resurgence-{job_id}.zip")


def _pair(job: dict[str, Any], man: dict[str, Any]) -> tuple[str, str]:
    if job["kind"] != "compare" or len(man["scenarios"]) != 2:
        raise ApiError(422, f"job {job['id']!r} is a {job['kind']}: paired differences B - A "
                       "need a compare job")
    a, b = man["scenarios"]
    return a, b


DQ = (0.1, 0.25, 0.5, 0.75, 0.9)


@functools.lru_cache(maxsize=256)
def _difference(path: str, metric: str, region: str, a: str, b: str) -> dict[str, Any]:
    from resurgence.results.bundle import Bundle

    qs = ", ".join(f"quantile_cont(d, {q}) AS q{round(100 * q):02d}" for q in DQ)
    df = Bundle.open(path).query(
        f"WITH p AS (SELECT sb.week, sb.{metric} - sa.{metric} AS d FROM series sa JOIN series sb "
        "ON sa.run = sb.run AND sa.week = sb.week AND sa.region = sb.region "
        "WHERE sa.scenario = ? AND sb.scenario = ? AND sa.region = ?) "
        f"SELECT week, {qs}, avg(CASE WHEN d > 0 THEN 1.0 ELSE 0.0 END) AS share_b_above "
        "FROM p GROUP BY week ORDER BY week", [a, b, region])
    out: dict[str, Any] = {"week": df["week"].astype(int).tolist()}
    out.update({c: df[c].astype(float).tolist() for c in df.columns if c != "week"})
    return json_safe(out)


@router.get("/{job_id}/difference", summary="A compare job's paired differences B - A per "
            "week (quantiles across runs of the per-run difference, and the share of runs "
            "with B above A)")
def difference(job_id: str, state: State,
               metric: Annotated[str, Query(max_length=64)] = "is_attacks",
               region: Annotated[str, Query(max_length=16)] = "IQ") -> dict[str, Any]:
    job, path = state.done_bundle(job_id)
    man = manifest(str(path))
    _check(man, metric, region, None)
    a, b = _pair(job, man)
    d = _difference(str(path), metric, region, a, b)
    if not d["week"]:
        raise ApiError(422, f"metric {metric!r} has no rows for region {region!r} (national-only "
                       "metrics exist only for IQ)")
    start = dt.date.fromisoformat(man["start_date"])
    d["date"] = [(start + dt.timedelta(weeks=w)).isoformat() for w in d["week"]]
    spec = man["metrics"][metric]
    return {"job": job_id, "metric": metric, "unit": spec["unit"], "a": a, "b": b,
            "description": spec["description"], "region": region,
            "stat": "quantiles across runs of the paired difference B - A", "difference": d}


@functools.lru_cache(maxsize=256)
def _diffmap(path: str, metric: str, week: int, a: str, b: str) -> list[tuple[str, float | None]]:
    from resurgence.results.bundle import Bundle

    df = Bundle.open(path).query(
        f"SELECT sa.region::VARCHAR AS region, median(sb.{metric} - sa.{metric}) AS d "
        "FROM series sa JOIN series sb ON sa.run = sb.run AND sa.week = sb.week "
        "AND sa.region = sb.region WHERE sa.scenario = ? AND sb.scenario = ? AND sa.week = ? "
        "GROUP BY ALL", [a, b, week])
    return [(r, json_safe(float(v))) for r, v in zip(df["region"], df["d"], strict=True)]


@router.get("/{job_id}/diffmap", summary="A compare job's per-governorate median of the paired "
            "difference B - A in one week (the difference map)")
def difference_map(job_id: str, state: State,
                   metric: Annotated[str, Query(max_length=64)] = "is_attacks",
                   week: Annotated[int, Query(ge=-10_000, le=10_000)] = -1) -> dict[str, Any]:
    from resurgence.web.specs import iraq_theatre

    job, path = state.done_bundle(job_id)
    man = manifest(str(path))
    _check(man, metric, None, None)
    if man["metrics"][metric]["level"] != "region":
        raise ApiError(422, f"query 'metric' = {metric!r}: a national-only metric has no map")
    a, b = _pair(job, man)
    weeks = int(man.get("weeks") or job["weeks"])
    w = week + weeks if week < 0 else week
    if not 0 <= w < weeks:
        raise ApiError(422, f"query 'week' = {week}: expected 0 to {weeks - 1} (or -1 to -{weeks})")
    values = dict(_diffmap(str(path), metric, w, a, b))
    th = iraq_theatre()
    rows = [{"code": c, "name": n, "value": values.get(c)}
            for c, n in zip(th.codes, th.names, strict=True)]
    finite = [abs(r["value"]) for r in rows if r["value"] is not None]
    spec = man["metrics"][metric]
    date = dt.date.fromisoformat(man["start_date"]) + dt.timedelta(weeks=w)
    return {"job": job_id, "metric": metric, "unit": spec["unit"], "a": a, "b": b,
            "description": spec["description"], "week": w, "date": date.isoformat(),
            "stat": "median across runs of the paired difference B - A", "values": rows,
            "absmax": max(finite, default=None)}


def _csv(df: Any, name: str) -> Response:
    return Response(df.to_csv(index=False), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/{job_id}/quantiles.csv", summary="Weekly quantiles across runs as CSV (every "
            "metric, scenario and region unless narrowed)", response_class=Response)
def quantiles_csv(job_id: str, state: State,
                  metric: Annotated[str | None, Query(max_length=64)] = None,
                  region: Annotated[str | None, Query(max_length=16)] = None) -> Response:
    from resurgence.results.bundle import Bundle

    _, path = state.done_bundle(job_id)
    man = manifest(str(path))
    if metric is not None:
        _check(man, metric, region, None)
    elif region is not None:
        _check(man, next(iter(man["metrics"])), region, None)
    df = Bundle.open(str(path)).quantiles(metric, region=region)
    units = {m: s["unit"] for m, s in man["metrics"].items()}
    df.insert(df.columns.get_loc("metric") + 1, "unit", df["metric"].astype(str).map(units))
    return _csv(df, f"resurgence-{job_id}-quantiles.csv")


@router.get("/{job_id}/outcomes.csv", summary="Per-scenario outcomes (P10, median, P90; "
            "probabilities: mean with 80% bootstrap interval) and, for a compare, the paired "
            "contrasts B - A, as CSV", response_class=Response)
def outcomes_csv(job_id: str, state: State) -> Response:
    import pandas as pd

    job, _ = state.done_bundle(job_id)
    s = job["summary"] or {}
    rows = []
    for sc, outs in (s.get("outcomes") or {}).items():
        rows += [{"scenario": sc, "row": "outcome", **o} for o in outs]
    for c in s.get("contrasts") or []:
        rows.append({"scenario": f"{s['b']} - {s['a']}", "row": "paired difference B - A",
                     "summary": c["summary"], "unit": c["unit"], "description": c["description"],
                     "kind": c["kind"], "lo": c["diff_lo"], "mid": c["diff_mid"],
                     "hi": c["diff_hi"], "share_of_runs_b_above_a": c["p_increase"]})
    if not rows:
        raise ApiError(422, f"job {job_id!r} ({job['kind']}) has no outcome table")
    return _csv(pd.DataFrame(rows), f"resurgence-{job_id}-outcomes.csv")


#: metric -> the observed series drawn beside it (source, metric, how the series is named)
OBSERVED = {
    "is_attacks": ("ctc", "is_attacks", "CTC Sentinel count of IS attacks (the model's scale)"),
    "militia_attacks_us": ("literature", "militia_attacks_us",
                           "Knights (Washington Institute) count of militia attacks on US sites"),
}


@functools.lru_cache(maxsize=8)
def _observed(metric: str) -> list[dict[str, Any]]:
    from resurgence.calibration.cases import case_observations, get_case

    source, obs_metric, label = OBSERVED[metric]
    c = get_case("iraq-2020")
    o = case_observations(c, c.until)
    o = o[(o["source"] == source) & (o["metric"] == obs_metric) & (o["region"] == "IQ")]
    rows = []
    for r in o.sort_values("period_start").itertuples():
        weeks = ((r.period_end - r.period_start).days + 1) / 7.0
        rows.append({"period_start": r.period_start.date().isoformat(),
                     "period_end": r.period_end.date().isoformat(),
                     "total": float(r.value), "per_week": float(r.value) / weeks})
    return [{"source": source, "label": label, "rows": rows}]


@router.get("/{job_id}/observed", summary="Observed history beside a national metric (IS "
            "attacks: CTC Sentinel; militia attacks on US sites: the Knights count), as "
            "per-week averages over each reported period, data up to 2020-11-30")
def observed(job_id: str, state: State,
             metric: Annotated[str, Query(max_length=64)] = "is_attacks") -> dict[str, Any]:
    state.done_bundle(job_id)
    if metric not in OBSERVED:
        return {"job": job_id, "metric": metric, "series": []}
    return {"job": job_id, "metric": metric, "unit": "per week (period average)",
            "series": json_safe(_observed(metric))}
