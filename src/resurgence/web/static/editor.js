/* The scenario editor: the form, levers, shocks, TOML import/export and validation; and the
   small API helper the page shares. Talks only to /api. */
"use strict";

window.Editor = (function () {
  const $ = (id) => document.getElementById(id);
  const LEVELS = ["isr", "air", "training", "planning", "mediation", "pandemic", "protests"];
  const LABELS = {isr: "ISR / intelligence", air: "air support", training: "training / advice",
    planning: "planning support", mediation: "Baghdad–Erbil mediation", pandemic: "pandemic",
    protests: "protests"};
  const S = {meta: null, base: null, job: null, poll: null, touched: new Set(), pristine: null,
             shipped: true, labels: true, jobActions: true};

  /* ---------- API ---------- */
  async function api(path, opts = {}) {
    const headers = Object.assign({}, opts.headers || {});
    const token = sessionStorage.getItem("resurgence-token");
    if (opts.method && opts.method !== "GET" && token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, Object.assign({}, opts, {headers}));
    let body = null;
    if (res.status !== 204) { try { body = await res.json(); } catch (e) { body = null; } }
    if (!res.ok) {
      const msg = body && body.error ? body.error : `HTTP ${res.status}`;
      throw Object.assign(new Error(Fmt.plain(msg)), {status: res.status, raw: msg});
    }
    return body;
  }
  const postJSON = (path, data) => api(path, {method: "POST", body: JSON.stringify(data),
    headers: {"Content-Type": "application/json"}});

  function say(el, text, ok) {
    el.textContent = text;
    el.className = "msg " + (ok === true ? "ok" : ok === false ? "bad" : "");
  }

  /* ---------- schedules ---------- */
  function valueAt(points, day, dflt) {
    if (!points || !points.length) return dflt;
    if (day <= points[0][0]) return points[0][1];
    for (let i = 1; i < points.length; i++) {
      const [d1, v1] = points[i];
      if (day <= d1) {
        const [d0, v0] = points[i - 1];
        const t = (Date.parse(day) - Date.parse(d0)) / (Date.parse(d1) - Date.parse(d0));
        return v0 + t * (v1 - v0);
      }
    }
    return points[points.length - 1][1];
  }

  /* ---------- editor ---------- */
  function rowInput(type, value, attrs = {}) {
    const el = document.createElement(type === "select" ? "select" : "input");
    if (type !== "select") el.type = type;
    Object.entries(attrs).forEach(([k, v]) => el.setAttribute(k, v));
    if (type === "select") {
      (attrs.options || []).forEach(([v, t]) => el.add(new Option(t, v)));
      el.removeAttribute("options");
    }
    el.value = value;
    return el;
  }

  function addRow(tbody, cells) {
    const tr = document.createElement("tr");
    cells.forEach((c) => { const td = document.createElement("td"); td.appendChild(c); tr.appendChild(td); });
    const del = document.createElement("button");
    del.type = "button"; del.className = "small-btn"; del.textContent = "×"; del.title = "remove";
    del.addEventListener("click", () => tr.remove());
    const td = document.createElement("td"); td.appendChild(del); tr.appendChild(td);
    tbody.appendChild(tr);
  }

  function addTroopRow(date, value) {
    addRow($("troops-table").tBodies[0], [rowInput("date", date), rowInput("number", value,
      {min: 0, max: 200000, step: 100})]);
  }

  function addShockRow(sh) {
    const kinds = S.meta.shock_kinds.map((k) => [k, k]);
    const regions = [[S.meta.national_code, `${S.meta.national_code} (national)`],
      ...S.meta.regions.map((r) => [r.code, `${r.code} ${r.name}`])];
    addRow($("shocks-table").tBodies[0], [
      rowInput("date", sh.date), rowInput("select", sh.kind, {options: kinds}),
      rowInput("select", sh.region, {options: regions}),
      rowInput("number", sh.magnitude, {min: 0, max: 10, step: 0.1}),
      rowInput("number", sh.weeks, {min: 1, max: 520, step: 1}),
    ]);
    const tr = $("shocks-table").tBodies[0].lastChild;
    tr.dataset.note = sh.note || "";
  }

  function renderLevers() {
    const box = $("levers");
    box.innerHTML = "";
    const day = $("lev-date").value;
    LEVELS.forEach((k) => {
      const spec = S.meta.levers[k];
      const now = valueAt(S.base.schedules[k], day, spec.default);
      const row = document.createElement("div");
      row.className = "lever"; row.dataset.lever = k;
      const name = document.createElement("span"); name.className = "name"; name.textContent = LABELS[k];
      name.title = spec.meaning;
      const slider = rowInput("range", now, {min: spec.min, max: spec.max, step: 0.05, id: `lever-${k}`,
        "aria-label": `${LABELS[k]} level`});
      const val = document.createElement("span"); val.className = "val"; val.textContent = now.toFixed(2);
      const was = document.createElement("span"); was.className = "was"; was.textContent = `was ${now.toFixed(2)}`;
      slider.addEventListener("input", () => {
        val.textContent = Number(slider.value).toFixed(2);
        S.touched.add(k); row.classList.add("changed");
      });
      row.append(name, slider, val, was);
      box.appendChild(row);
    });
    S.touched.clear();
  }

  function loadIntoForm(sc, label, shipped) {
    S.base = sc;
    S.shipped = !!shipped;
    $("base-desc").textContent = label || sc.description || sc.title || "";
    $("sc-name").value = sc.name;
    $("sc-horizon").textContent = `${sc.weeks} weeks from ${sc.start}`;
    const tb = $("troops-table").tBodies[0]; tb.innerHTML = "";
    (sc.schedules.troops || [[sc.start, S.meta.levers.troops.default]]).forEach(([d, v]) => addTroopRow(d, v));
    if (!$("lev-date").value || $("lev-date").value < sc.start) $("lev-date").value = sc.start;
    renderLevers();
    const sb = $("shocks-table").tBodies[0]; sb.innerHTML = "";
    sc.shocks.forEach(addShockRow);
    $("responsive").checked = !!sc.policy.responsive;
    S.pristine = JSON.stringify(buildScenario());
  }

  /* the form differs from the scenario it was loaded from */
  const edited = () => S.base && JSON.stringify(buildScenario()) !== S.pristine;

  /* what to submit: an untouched shipped scenario by name (it keeps its name), else the form */
  function scenarioSpec() {
    if (!edited() && S.shipped) return S.base.name;
    const sc = buildScenario();
    if (sc.name === S.base.name && S.shipped) sc.name = `${sc.name}-edited`.slice(0, 64);
    return sc;
  }

  async function pickBase() {
    const name = $("base").value;
    try { loadIntoForm(await api(`/api/scenarios/${encodeURIComponent(name)}`), null, true); }
    catch (e) { say($("validate-msg"), e.message, false); }
    defaultA();
  }

  /* the default comparison is never a scenario against its own copy */
  function defaultA() {
    const b = $("base").value;
    const opts = [...$("cmp-a").options].map((o) => o.value);
    if ($("cmp-a").value && $("cmp-a").value !== b) return;
    $("cmp-a").value = b !== "announced-2500" && opts.includes("announced-2500") ? "announced-2500"
      : opts.find((o) => o !== b) || b;
  }

  async function changeBase() {
    if (edited() && !window.confirm("Discard your edits to this scenario and load " +
                                     `${$("base").value}?`)) {
      $("base").value = S.base.name;
      return;
    }
    await pickBase();
  }

  function buildScenario() {
    const sc = JSON.parse(JSON.stringify(S.base));
    sc.name = $("sc-name").value.trim();
    sc.base = null;  // the loaded scenario is already resolved
    if (sc.name !== S.base.name && S.shipped) sc.title = `${S.base.title || S.base.name} (edited)`;
    const troops = [...$("troops-table").tBodies[0].rows].map((tr) => {
      const [d, v] = tr.querySelectorAll("input");
      return [d.value, Number(v.value)];
    }).filter(([d]) => d).sort((a, b) => a[0].localeCompare(b[0]));
    sc.schedules.troops = troops.length ? troops : null;
    const day = $("lev-date").value;
    S.touched.forEach((k) => {
      const v = Number($(`lever-${k}`).value);
      const keep = (S.base.schedules[k] || []).filter(([d]) => d < day);
      sc.schedules[k] = [...keep, [day, v]];
    });
    sc.shocks = [...$("shocks-table").tBodies[0].rows].map((tr) => {
      const [d, m, w] = tr.querySelectorAll("input");
      const [kind, region] = tr.querySelectorAll("select");
      return {date: d.value, kind: kind.value, region: region.value, magnitude: Number(m.value),
              weeks: Number(w.value), note: tr.dataset.note || ""};
    });
    sc.policy = Object.assign({}, sc.policy, {responsive: $("responsive").checked});
    return sc;
  }

  /* checks the server cannot word for the form: dates outside the horizon */
  function formProblems(sc) {
    const out = [];
    const end = new Date(Date.parse(sc.start) + sc.weeks * 7 * 864e5).toISOString().slice(0, 10);
    sc.shocks.forEach((sh, i) => {
      if (!sh.date) out.push(`Shock ${i + 1}: date is missing.`);
      else if (sh.date > end) out.push(`Shock ${i + 1} (${sh.kind}) on ${sh.date}: after the end of the horizon (${end}); pick a date up to ${end}.`);
      else if (sh.date < "2018-01-01") out.push(`Shock ${i + 1} (${sh.kind}) on ${sh.date}: before the model's history starts (2018-01-01).`);
    });
    (sc.schedules.troops || []).forEach(([d, v], i) => {
      if (!(v >= 0)) out.push(`US troops, point ${i + 1} (${d}): troops must be 0 or more.`);
      if (d > end) out.push(`US troops, point ${i + 1} (${d}): after the end of the horizon (${end}).`);
    });
    if (!/^[a-z0-9][a-z0-9_.-]*$/.test(sc.name)) {
      out.push(`Name (“${sc.name}”): use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit (no spaces).`);
    }
    return out;
  }

  async function validate() {
    const msg = $("validate-msg");
    const problems = formProblems(buildScenario());
    if (problems.length) { say(msg, problems.join(" "), false); return false; }
    try {
      const r = await postJSON("/api/scenarios/validate", buildScenario());
      say(msg, `valid: ${r.scenario.name}, ${r.scenario.weeks} weeks from ${r.scenario.start}`, true);
      return true;
    } catch (e) { say(msg, e.message, false); return false; }
  }

  async function loadToml() {
    const msg = $("validate-msg");
    try {
      const r = await api("/api/scenarios/validate", {method: "POST", body: $("toml").value,
        headers: {"Content-Type": "text/plain"}});
      loadIntoForm(r.scenario, `from TOML: ${r.scenario.title || r.scenario.name}`, false);
      $("sc-name").value = r.scenario.name;
      switchTab("form");
      say(msg, `TOML is valid and loaded: ${r.scenario.name}`, true);
    } catch (e) { say(msg, e.message, false); }
  }

  function exportToml() {
    const sc = buildScenario();
    const blob = new Blob([Fmt.toTOML(sc)], {type: "application/toml"});
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${sc.name || "scenario"}.toml`;
    document.body.appendChild(a); a.click(); a.remove();
    $("toml").value = Fmt.toTOML(sc);
    say($("validate-msg"), `exported ${a.download} (also shown under Paste TOML)`, true);
  }

  function importToml(ev) {
    const f = ev.target.files && ev.target.files[0];
    if (!f) return;
    f.text().then((t) => { $("toml").value = t; switchTab("toml"); return loadToml(); });
  }

  function switchTab(which) {
    document.querySelectorAll(".tab").forEach((t) => {
      t.classList.toggle("active", t.dataset.tab === which);
      t.setAttribute("aria-selected", t.dataset.tab === which ? "true" : "false");
    });
    $("pane-form").hidden = which !== "form";
    $("pane-toml").hidden = which !== "toml";
  }

  return {S, api, postJSON, say, loadIntoForm, scenarioSpec, pickBase, changeBase, buildScenario,
          formProblems, validate, loadToml, exportToml, importToml, switchTab, renderLevers,
          addTroopRow, addShockRow};
})();
