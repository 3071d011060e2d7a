/* Results of a finished job: fan charts, B − A charts, maps on one shared colour scale with a
   difference map, outcome and contrast tables, CSV downloads, and the brief's content. */
"use strict";

window.Results = (function () {
  const $ = (id) => document.getElementById(id);
  const C = window.Charts, F = window.Fmt;
  const R = {job: null, geo: null, api: null, onView: () => {}};

  function downloads(job) {
    const base = `/api/jobs/${job.id}`;
    $("dl-bundle").href = job.links.bundle;
    $("dl-summary").href = job.links.summary;
    $("dl-quantiles").href = `${base}/quantiles.csv`;
    $("dl-outcomes").href = `${base}/outcomes.csv`;
    $("brief-link").hidden = job.kind !== "brief";
    if (job.kind === "brief") $("dl-brief").href = job.links.brief;
  }

  async function show(job, view, api) {
    R.job = job; R.api = api;
    $("results-card").hidden = false;
    const name = job.label ? `“${job.label}”: ` : "";
    $("res-title").textContent = `· ${name}${job.kind} ${job.scenarios.join(" vs ")}, ${job.runs} runs, seed ${job.seed}`;
    downloads(job);
    const brief = job.kind === "brief";
    $("series-box").hidden = brief;
    $("brief-box").hidden = !brief;
    $("diff-box").hidden = job.kind !== "compare";
    if (brief) return showBrief(job);
    if (view.metric && [...$("map-metric").options].some((o) => o.value === view.metric)) $("map-metric").value = view.metric;
    $("map-week").max = job.weeks - 1;
    const w = Number.isFinite(Number(view.week)) && view.week !== undefined && view.week !== null
      ? Math.min(Math.max(0, Number(view.week)), job.weeks - 1) : job.weeks - 1;
    $("map-week").value = w;
    const fans = Object.keys(C.FAN).map(async (m) => {
      const [q, obs] = await Promise.all([api(`/api/jobs/${job.id}/quantiles?metric=${m}&region=IQ`),
        api(`/api/jobs/${job.id}/observed?metric=${m}`).catch(() => null)]);
      await C.fan($(`fan-${m}`), q, obs);
    });
    const diffs = job.kind !== "compare" ? [] : Object.keys(C.FAN).map(async (m) => {
      const d = await api(`/api/jobs/${job.id}/difference?metric=${m}&region=IQ`);
      await C.diff($(`diff-${m}`), d);
    });
    const summary = api(job.links.summary).then((s) => {
      if (s.kind === "compare") {
        $("table-title").textContent = `Paired contrasts: B = ${s.b} against A = ${s.a}`;
        C.contrastTable($("outcomes"), s);
      } else {
        $("table-title").textContent = "Outcomes across runs";
        C.outcomesTable($("outcomes"), s);
      }
    });
    await Promise.all([...fans, ...diffs, drawMaps(), summary]);
  }

  async function drawMaps() {
    const job = R.job;
    if (!job || job.kind === "brief") return;
    if (!R.geo) R.geo = await R.api("/api/geo");
    const metric = $("map-metric").value, week = $("map-week").value;
    const q = `metric=${encodeURIComponent(metric)}&week=${week}`;
    const maps = await Promise.all(job.scenarios.map((sc) =>
      R.api(`/api/jobs/${job.id}/map?${q}&scenario=${encodeURIComponent(sc)}`)));
    const scale = C.sharedScale(maps);
    const m0 = maps[0];
    $("map-date").textContent = `week ${m0.week}, ${m0.date}`;
    $("map-scale-note").textContent = maps.length > 1
      ? `Both maps share one colour scale (${F.num(scale.zmin)} to ${F.num(scale.zmax)} ${F.unitLabel(m0.unit, metric)}).`
      : "";
    const boxes = ["map-a", "map-b"];
    $("map-b").hidden = maps.length < 2;
    $("map-diff").hidden = job.kind !== "compare";
    await Promise.all(maps.map((m, i) => C.map($(boxes[i]), R.geo, m, scale,
      `${maps.length > 1 ? (i ? "B: " : "A: ") : ""}${m.scenario} · median across runs`)));
    if (job.kind === "compare") {
      const dm = await R.api(`/api/jobs/${job.id}/diffmap?${q}`);
      await C.map($("map-diff"), R.geo, dm, C.diffScale(dm),
        `Difference B − A (${dm.b} − ${dm.a}) · median of paired runs`);
    }
    R.onView();
  }

  /* the brief job: bottom-line numbers, pathways and claims with their text */
  async function showBrief(job) {
    const [s, reg] = await Promise.all([R.api(job.links.summary), R.api("/api/claims")]);
    const text = Object.fromEntries(reg.map((c) => [c.id, c]));
    const ref = (s.meta && s.meta.reference) || "announced-2500";
    let html = `<h3>Headline: full withdrawal against ${C.esc(ref)}</h3><table class="data"><thead><tr>` +
      `<th>pathway and outcome</th><th>${C.esc(ref)}</th><th>full withdrawal</th><th>effect` +
      "<br><span class='small muted'>paired, median [80% of runs]</span></th></tr></thead><tbody>";
    s.headline.forEach((h) => {
      const kind = h.kind;
      html += `<tr><td>${C.esc(h.label)}<span class="desc">${C.esc(h.pathway)}</span></td>` +
        `<td>${kind === "probability" ? F.prob(h.ref_mid) : F.num(h.ref_mid)}</td>` +
        `<td>${kind === "probability" ? F.prob(h.mid) : F.num(h.mid)}</td>` +
        `<td>${F.intervalHTML(h.effect_mid, h.effect_lo, h.effect_hi, kind, true)}</td></tr>`;
    });
    html += "</tbody></table>";
    const counts = {};
    s.claims.forEach((c) => { const k = c.verdict; counts[k] = (counts[k] || 0) + 1; });
    const defects = s.claims.filter((c) => c.defect);
    html += `<h3>Claims of the source, checked</h3><p class="note">By how each verdict was reached: ${Object.entries(counts)
      .map(([k, n]) => `${n} ${C.esc(k)}`).join(" · ")}. <b>model-implied</b> checks are built into the ` +
      "model (the data did not inform the parameters that drive them): they restate its " +
      "mechanisms and are not evidence for the claims; <b>consistent with the fit</b> ones rest on parameters the data " +
      "narrowed; <b>tested out of sample</b> ones were scored on data the fit did not see." +
      (defects.length ? ` Defects: ${defects.map((c) => `${C.esc(c.id)} (${C.esc(c.defect)})`).join("; ")}.` : "") +
      "</p>";
    html += "<div class='table-wrap'><table class='data small'><thead><tr><th>claim</th><th class='text'>the source says</th>" +
      "<th class='text'>what was checked</th><th>share of paired runs as expected</th>" +
      "<th class='text'>verdict (category: finding)</th></tr></thead><tbody>";
    s.claims.forEach((c) => {
      const t = text[c.id] || {};
      html += `<tr><td>${C.esc(c.id)}</td><td class="text">“${C.esc(t.quote || "")}”</td>` +
        `<td class="text">${C.esc(t.check || "")}</td><td>${F.prob(c.share_as_expected)}</td>` +
        `<td class="text">${C.esc(c.verdict)}</td></tr>`;
    });
    $("brief-box").innerHTML = html + "</tbody></table></div>";
    $("table-title").textContent = "";
    $("outcomes").innerHTML = "";
    R.onView();
  }

  return {show, drawMaps, state: R};
})();
