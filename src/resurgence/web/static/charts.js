/* Charts and tables of a finished job: fan charts, governorate map, outcome/contrast tables.
   Plotly is served from this server (/static/plotly.min.js); nothing is fetched elsewhere. */
"use strict";

window.Charts = (function () {
  const COLORS = ["#1f5fa8", "#c2410c"];
  const PLOT_CONFIG = {
    displaylogo: false, responsive: true, topojsonURL: "/static/topojson/",
    modeBarButtonsToRemove: ["lasso2d", "select2d"],
  };
  const FAN = {
    is_attacks: {title: "IS attacks, national", unit: "attacks per week", zero: true},
    is_fighters: {title: "IS fighters, national", unit: "fighters", zero: false},
    militia_attacks_us: {title: "Militia attacks on US sites and convoys", unit: "attacks per week",
                         zero: true},
    iran_influence: {title: "Iranian influence (population-weighted mean)", unit: "index, 0–1",
                     zero: false},
  };

  function rgba(hex, a) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  function fmt(v, kind) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (kind === "probability") return `${(100 * v).toFixed(0)}%`;
    const a = Math.abs(v);
    if (a >= 100) return Math.round(v).toLocaleString("en-US");
    if (a === 0) return "0";
    return Number(v.toPrecision(3)).toString();
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

  function fan(div, q) {
    const spec = FAN[q.metric] || {title: q.description, unit: q.unit};
    const traces = [];
    Object.entries(q.scenarios).forEach(([name, s], i) => {
      const c = COLORS[i % COLORS.length];
      traces.push(...band(s.date, s.q05, s.q95, c, 0.13, `${name}: 90% of runs`, name, false));
      traces.push(...band(s.date, s.q25, s.q75, c, 0.28, `${name}: 50% of runs`, name, false));
      traces.push({x: s.date, y: s.q50, type: "scatter", mode: "lines", name,
                   line: {color: c, width: 2}, legendgroup: name,
                   customdata: s.q05.map((lo, k) => [lo, s.q95[k]]),
                   hovertemplate: `%{x|%d %b %Y}<br>median %{y:.3~g}<br>90%: %{customdata[0]:.3~g}` +
                                  `–%{customdata[1]:.3~g} ${spec.unit}<extra>${name}</extra>`});
    });
    const layout = {
      title: {text: spec.title, font: {size: 14}, x: 0.02},
      margin: {l: 62, r: 12, t: 40, b: 44},
      xaxis: {title: {text: "date"}, type: "date"},
      yaxis: {title: {text: spec.unit}, rangemode: spec.zero ? "tozero" : "normal"},
      legend: {orientation: "h", y: -0.22, x: 0},
      showlegend: Object.keys(q.scenarios).length > 1,
      hovermode: "x unified",
    };
    return Plotly.react(div, traces, layout, PLOT_CONFIG);
  }

  function map(div, geo, m) {
    const z = m.values.map((r) => r.value);
    const trace = {
      type: "choropleth", geojson: geo, featureidkey: "properties.code",
      locations: m.values.map((r) => r.code), z, text: m.values.map((r) => r.name),
      colorscale: "YlOrRd", reversescale: true, marker: {line: {color: "#fff", width: 0.8}},
      colorbar: {title: {text: m.unit}, thickness: 14},
      hovertemplate: `%{text} (%{location})<br>median %{z:.3~g} ${m.unit}<extra></extra>`,
    };
    const layout = {
      title: {text: `${m.description}: median across runs, week of ${m.date} (${m.scenario})`,
              font: {size: 14}, x: 0.02},
      margin: {l: 0, r: 0, t: 40, b: 0},
      geo: {fitbounds: "locations", visible: false, projection: {type: "mercator"}},
    };
    return Plotly.react(div, [trace], layout, PLOT_CONFIG);
  }

  function cell(lo, mid, hi, kind) {
    return `${fmt(mid, kind)} <span class="muted small">[${fmt(lo, kind)}, ${fmt(hi, kind)}]</span>`;
  }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;",
      '"': "&quot;", "'": "&#39;"}[c]));
  }

  function outcomesTable(table, summary) {
    const names = summary.scenarios;
    let html = "<thead><tr><th>outcome</th><th class='text'>unit</th>" +
      names.map((n) => `<th>${esc(n)}<br><span class="small muted">median [P10, P90]</span></th>`).join("") +
      "</tr></thead><tbody>";
    const rows = summary.outcomes[names[0]];
    rows.forEach((r, i) => {
      html += `<tr><td>${esc(r.summary)}<span class="desc">${esc(r.description)}</span></td>` +
        `<td class="text">${esc(r.unit)}</td>` +
        names.map((n) => { const o = summary.outcomes[n][i]; return `<td>${cell(o.lo, o.mid, o.hi, o.kind)}</td>`; }).join("") +
        "</tr>";
    });
    table.innerHTML = html + "</tbody>";
  }

  function contrastTable(table, summary) {
    let html = "<thead><tr><th>outcome</th>" +
      `<th>A: ${esc(summary.a)}</th><th>B: ${esc(summary.b)}</th>` +
      "<th>effect B − A<br><span class='small muted'>paired, median [P10, P90]; bold: interval excludes 0</span></th>" +
      "<th>P(B &gt; A)<br><span class='small muted'>share of runs</span></th></tr></thead><tbody>";
    summary.contrasts.forEach((c) => {
      const clear = c.diff_lo > 0 || c.diff_hi < 0 ? "clear" : "";
      html += `<tr><td>${esc(c.summary)}<span class="desc">${esc(c.description)} (${esc(c.unit)})</span></td>` +
        `<td>${cell(c.a_lo, c.a_mid, c.a_hi, c.kind)}</td><td>${cell(c.b_lo, c.b_mid, c.b_hi, c.kind)}</td>` +
        `<td class="${clear}">${cell(c.diff_lo, c.diff_mid, c.diff_hi, c.kind)}</td>` +
        `<td>${fmt(c.p_increase, "probability")}</td></tr>`;
    });
    table.innerHTML = html + "</tbody>";
  }

  function claimsTable(table, claims) {
    let html = "<thead><tr><th>id</th><th class='text'>the source says</th><th class='text'>carried by</th>" +
      "<th class='text'>check</th><th class='text'>basis</th></tr></thead><tbody>";
    claims.forEach((c) => {
      html += `<tr><td>${esc(c.id)}</td><td class="text">“${esc(c.quote)}”</td>` +
        `<td class="text">${esc(c.carried_by)}</td><td class="text">${esc(c.check)}</td>` +
        `<td class="text">${esc(c.basis)}</td></tr>`;
    });
    table.innerHTML = html + "</tbody>";
  }

  function verdictTable(table, rows) {
    let html = "<thead><tr><th>claim</th><th class='text'>verdict</th>" +
      "<th>share of runs as expected</th><th class='text'>basis</th></tr></thead><tbody>";
    rows.forEach((r) => {
      html += `<tr><td>${esc(r.id)}</td><td class="text">${esc(r.verdict)}</td>` +
        `<td>${fmt(r.share_as_expected, "probability")}</td><td class="text">${esc(r.basis)}</td></tr>`;
    });
    table.innerHTML = html + "</tbody>";
  }

  return {fan, map, outcomesTable, contrastTable, claimsTable, verdictTable, fmt, esc, FAN};
})();
