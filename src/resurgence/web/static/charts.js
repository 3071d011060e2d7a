/* Charts of a finished job: fan charts, paired-difference (B − A) charts, governorate maps on
   one shared colour scale, and a difference map. Plotly is served from this server
   (/static/plotly.min.js); nothing is fetched elsewhere. Bands everywhere (web, brief,
   forecast figures): 50% and 80% of runs around the median. */
"use strict";

window.Charts = (function () {
  const COLORS = ["#1f5fa8", "#c2410c"];
  const DIFF = "#6a3d9a";
  const PLOT_CONFIG = {
    displaylogo: false, responsive: true, topojsonURL: "/static/topojson/",
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
  };
  const FAN = {
    is_attacks: {title: "IS attacks, national", note: "model count, on CTC Sentinel's scale",
                 unit: "attacks per week", zero: true},
    is_fighters: {title: "IS fighters, national", unit: "fighters", zero: false},
    militia_attacks_us: {title: "Militia attacks on US sites and convoys", note: "model count",
                         unit: "attacks per week", zero: true},
    iran_influence: {title: "Iranian influence (population-weighted mean)", unit: "index, 0–1",
                     zero: false},
  };
  const F = window.Fmt;

  function rgba(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  function band(x, lo, hi, color, alpha, name, group, show) {
    return [
      {x, y: hi, type: "scatter", mode: "lines", line: {width: 0}, hoverinfo: "skip",
       showlegend: false, legendgroup: group},
      {x, y: lo, type: "scatter", mode: "lines", line: {width: 0}, fill: "tonexty",
       fillcolor: rgba(color, alpha), name, showlegend: show, legendgroup: group,
       hoverinfo: "skip"},
    ];
  }

  function baseLayout(title, unit, zero, note) {
    return {
      title: {text: note ? `${title}<br><span style="font-size:11px">${note}</span>` : title,
              font: {size: 14}, x: 0.02},
      margin: {l: 62, r: 12, t: note ? 52 : 40, b: 44},
      xaxis: {type: "date"},
      yaxis: {title: {text: unit}, rangemode: zero ? "tozero" : "normal", automargin: true},
      legend: {orientation: "h", y: -0.25, x: 0},
      hovermode: "x unified",
    };
  }

  /* observed history: one segment per reported period, its per-week average */
  function observedTraces(obs) {
    return ((obs && obs.series) || []).map((s) => {
      const x = [], y = [];
      s.rows.filter((r) => r.period_end >= "2020-01-01").forEach((r) => {
        x.push(r.period_start, r.period_end, null); y.push(r.per_week, r.per_week, null);
      });
      return {x, y, type: "scatter", mode: "lines", name: `observed: ${s.label}, per week`,
              line: {color: "#555", width: 2.5}, connectgaps: false,
              hovertemplate: `%{y:.3~g} per week (period average)<extra>${esc(s.label)}</extra>`};
    });
  }

  function fan(div, q, obs) {
    const spec = FAN[q.metric] || {title: q.description, unit: q.unit};
    const traces = observedTraces(obs);
    Object.entries(q.scenarios).forEach(([name, s], i) => {
      const c = COLORS[i % COLORS.length];
      traces.push(...band(s.date, s.q10, s.q90, c, 0.13, `${name}: 80% of runs`, name, false));
      traces.push(...band(s.date, s.q25, s.q75, c, 0.28, `${name}: 50% of runs`, name, false));
      traces.push({x: s.date, y: s.q50, type: "scatter", mode: "lines", name,
                   line: {color: c, width: 2}, legendgroup: name,
                   customdata: s.q10.map((lo, k) => [lo, s.q90[k]]),
                   hovertemplate: `%{x|%d %b %Y}<br>median %{y:.3~g}<br>80% of runs: %{customdata[0]:.3~g}` +
                                  `–%{customdata[1]:.3~g} ${spec.unit}<extra>${name}</extra>`});
    });
    // national IS attacks: where the level comes from (the blend, or why the simulator's)
    const note = q.levels_note && q.metric === "is_attacks" && q.region === "IQ" ? `${spec.note}<br>${esc(q.levels_note)}` : spec.note;
    const layout = baseLayout(spec.title, spec.unit, spec.zero, note);
    layout.showlegend = Object.keys(q.scenarios).length > 1 || traces.length > 3 * Object.keys(q.scenarios).length;
    return Plotly.react(div, traces, layout, PLOT_CONFIG);
  }

  function diff(div, d) {
    const spec = FAN[d.metric] || {title: d.description, unit: d.unit};
    const s = d.difference;
    const traces = [
      ...band(s.date, s.q10, s.q90, DIFF, 0.15, "80% of paired runs", "d", true),
      ...band(s.date, s.q25, s.q75, DIFF, 0.3, "50% of paired runs", "d", true),
      {x: s.date, y: s.q50, type: "scatter", mode: "lines", name: "median of B − A",
       line: {color: DIFF, width: 2},
       customdata: s.share_b_above.map((p, k) => [s.q10[k], s.q90[k], 100 * p]),
       hovertemplate: `%{x|%d %b %Y}<br>median B − A %{y:.3~g} ${spec.unit}<br>80%: %{customdata[0]:.3~g}` +
                      `–%{customdata[1]:.3~g}<br>B above A in %{customdata[2]:.0f}% of paired runs<extra></extra>`},
    ];
    const layout = baseLayout(`B − A: ${spec.title}`, spec.unit, false,
                              `paired difference${spec.note ? "; " + spec.note : ""}`);
    layout.shapes = [{type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0,
                      line: {color: "#444", width: 1, dash: "dot"}}];
    return Plotly.react(div, traces, layout, PLOT_CONFIG);
  }

  const binary = (unit) => unit === "0/1";

  /* one map; scale = {zmin, zmax, diverging} shared by the maps of one comparison */
  function map(div, geo, m, scale, title) {
    const z = m.values.map((r) => r.value);
    const bin = binary(m.unit);
    const colorbar = {title: {text: scale.diverging ? `B − A, ${m.unit}` : m.unit}, thickness: 14};
    if (bin && !scale.diverging) Object.assign(colorbar, {tickvals: [0, 1], ticktext: ["0 (no)", "1 (yes)"]});
    const trace = {
      type: "choropleth", geojson: geo, featureidkey: "properties.code",
      locations: m.values.map((r) => r.code), z, text: m.values.map((r) => r.name),
      zmin: scale.zmin, zmax: scale.zmax, zauto: false,
      colorscale: scale.diverging ? "RdBu" : "YlOrRd", reversescale: !scale.diverging,
      marker: {line: {color: "#fff", width: 0.8}}, colorbar,
      hovertemplate: `%{text} (%{location})<br>${scale.diverging ? "median B − A" : "median"} ` +
                     `%{z:.3~g} ${m.unit}<extra></extra>`,
    };
    if (scale.diverging) trace.zmid = 0;
    const layout = {
      title: {text: title, font: {size: 13}, x: 0.02},
      margin: {l: 0, r: 0, t: 46, b: 0},
      geo: {fitbounds: "locations", visible: false, projection: {type: "mercator"}},
    };
    Plotly.purge(div);  // a fresh map fits its (possibly resized) box
    return Plotly.newPlot(div, [trace], layout, Object.assign({}, PLOT_CONFIG, {displayModeBar: false}));
  }

  /* the shared scale of several maps of the same metric */
  function sharedScale(maps) {
    const vals = maps.flatMap((m) => m.values.map((r) => r.value)).filter((v) => v !== null);
    if (maps.length && binary(maps[0].unit)) return {zmin: 0, zmax: 1, diverging: false};
    let zmin = Math.min(0, ...vals), zmax = Math.max(...vals, 0);
    if (!(zmax > zmin)) zmax = zmin + 1;
    return {zmin, zmax, diverging: false};
  }

  function diffScale(dm) {
    let a = dm.absmax || 0;
    if (binary(dm.unit)) a = 1;
    return {zmin: -(a || 1), zmax: a || 1, diverging: true};
  }

  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;"}[c]));

  const cell = (lo, mid, hi, kind, isDiff) => F.intervalHTML(mid, lo, hi, kind, isDiff);

  function label(r) {
    const prob = r.kind === "probability" ? " (probability)" : "";
    return `${esc(r.description)}${prob}<span class="desc">${esc(F.unitLabel(r.unit, r.summary))} · ` +
           `<code>${esc(r.summary)}</code></span>`;
  }

  function outcomesTable(table, summary) {
    const names = summary.scenarios;
    let html = "<thead><tr><th>outcome</th>" +
      names.map((n) => `<th>${esc(n)}<br><span class="small muted">median [80% of runs]</span></th>`).join("") +
      "</tr></thead><tbody>";
    summary.outcomes[names[0]].forEach((r, i) => {
      html += `<tr><td>${label(r)}</td>` +
        names.map((n) => { const o = summary.outcomes[n][i]; return `<td>${cell(o.lo, o.mid, o.hi, o.kind)}</td>`; }).join("") +
        "</tr>";
    });
    table.innerHTML = html + "</tbody>";
  }

  function contrastTable(table, summary) {
    let html = "<thead><tr><th>outcome</th>" +
      `<th>A: ${esc(summary.a)}</th><th>B: ${esc(summary.b)}</th>` +
      "<th>effect B − A<br><span class='small muted'>paired, median [80% of runs]; probabilities in " +
      "percentage points (pp); bold: interval excludes 0</span></th>" +
      "<th>share of paired runs with B &gt; A<br><span class='small muted'>not a probability that B is " +
      "worse</span></th></tr></thead><tbody>";
    summary.contrasts.forEach((c) => {
      const clear = c.diff_lo > 0 || c.diff_hi < 0 ? "clear" : "";
      html += `<tr><td>${label(c)}</td>` +
        `<td>${cell(c.a_lo, c.a_mid, c.a_hi, c.kind)}</td><td>${cell(c.b_lo, c.b_mid, c.b_hi, c.kind)}</td>` +
        `<td class="${clear}">${cell(c.diff_lo, c.diff_mid, c.diff_hi, c.kind, true)}</td>` +
        `<td>${F.prob(c.p_increase)}</td></tr>`;
    });
    table.innerHTML = html + "</tbody>";
  }

  function claimsTable(table, claims) {
    let html = "<thead><tr><th>id</th><th class='text'>the source says</th><th class='text'>carried by</th>" +
      "<th class='text'>check</th><th class='text'>intended basis</th></tr></thead><tbody>";
    claims.forEach((c) => {
      html += `<tr><td>${esc(c.id)}</td><td class="text">“${esc(c.quote)}”</td>` +
        `<td class="text">${esc(c.carried_by)}</td><td class="text">${esc(c.check)}</td>` +
        `<td class="text">${esc(c.basis)}</td></tr>`;
    });
    table.innerHTML = html + "</tbody>";
  }

  return {fan, diff, map, sharedScale, diffScale, outcomesTable, contrastTable, claimsTable,
          esc, label, FAN};
})();
