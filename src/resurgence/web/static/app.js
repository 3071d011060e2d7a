/* The page: scenario editor, validation, runs with live progress, results. Talks only to /api. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const LEVELS = ["isr", "air", "training", "planning", "mediation", "pandemic", "protests"];
  const LABELS = {isr: "ISR / intelligence", air: "air support", training: "training / advice",
    planning: "planning support", mediation: "Baghdad–Erbil mediation", pandemic: "pandemic",
    protests: "protests"};
  const S = {meta: null, base: null, geo: null, job: null, poll: null, touched: new Set()};

  /* ---------- API ---------- */
  async function api(path, opts = {}) {
    const headers = Object.assign({}, opts.headers || {});
    const token = sessionStorage.getItem("resurgence-token");
    if (opts.method === "POST" && token) headers.Authorization = `Bearer ${token}`;
    const res = await fetch(path, Object.assign({}, opts, {headers}));
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const msg = body && body.error ? body.error : `HTTP ${res.status}`;
      throw Object.assign(new Error(msg), {status: res.status});
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

  function loadIntoForm(sc, label) {
    S.base = sc;
    $("base-desc").textContent = label || sc.description || sc.title || "";
    $("sc-name").value = sc.name.endsWith("-edited") ? sc.name : `${sc.name}-edited`.slice(0, 64);
    $("sc-horizon").textContent = `${sc.weeks} weeks from ${sc.start}`;
    const tb = $("troops-table").tBodies[0]; tb.innerHTML = "";
    (sc.schedules.troops || [[sc.start, S.meta.levers.troops.default]]).forEach(([d, v]) => addTroopRow(d, v));
    if (!$("lev-date").value || $("lev-date").value < sc.start) $("lev-date").value = sc.start;
    renderLevers();
    const sb = $("shocks-table").tBodies[0]; sb.innerHTML = "";
    sc.shocks.forEach(addShockRow);
    $("responsive").checked = !!sc.policy.responsive;
  }

  async function pickBase() {
    const name = $("base").value;
    try { loadIntoForm(await api(`/api/scenarios/${encodeURIComponent(name)}`)); }
    catch (e) { say($("validate-msg"), e.message, false); }
  }

  function buildScenario() {
    const sc = JSON.parse(JSON.stringify(S.base));
    sc.name = $("sc-name").value.trim();
    sc.base = null;  // the loaded scenario is already resolved
    if (sc.name !== S.base.name) sc.title = `${S.base.title || S.base.name} (edited)`;
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

  async function validate() {
    const msg = $("validate-msg");
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
      loadIntoForm(r.scenario, `from TOML: ${r.scenario.title || r.scenario.name}`);
      $("sc-name").value = r.scenario.name;
      switchTab("form");
      say(msg, `TOML is valid and loaded: ${r.scenario.name}`, true);
    } catch (e) { say(msg, e.message, false); }
  }

  function switchTab(which) {
    document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.tab === which));
    $("pane-form").hidden = which !== "form";
    $("pane-toml").hidden = which !== "toml";
  }

  /* ---------- jobs ---------- */
  function runOptions() {
    const o = {runs: Number($("runs").value), seed: Number($("seed").value), posterior: $("posterior").value};
    if ($("weeks").value) o.weeks = Number($("weeks").value);
    return o;
  }

  async function submit(kind) {
    const status = $("job-status");
    $("job-box").hidden = false;
    try {
      const o = runOptions();
      const [path, body] = kind === "run" ? ["/api/runs", Object.assign({scenario: buildScenario()}, o)]
        : kind === "compare" ? ["/api/compare", Object.assign({a: $("cmp-a").value, b: buildScenario()}, o)]
        : ["/api/brief", {runs: o.runs, seed: o.seed, posterior: o.posterior}];
      const job = await postJSON(path, body);
      say(status, `job ${job.id} queued`, null);
      refreshJobs();
      watch(job.id);
    } catch (e) { say(status, e.message, false); }
  }

  function watch(id) {
    clearTimeout(S.poll);
    $("job-box").hidden = false;
    const tick = async () => {
      let j;
      try { j = await api(`/api/jobs/${id}`); }
      catch (e) { say($("job-status"), e.message, false); return; }
      $("progress-bar").style.width = `${Math.round(100 * j.progress)}%`;
      const what = `${j.kind} ${j.scenarios.join(" vs ")} · ${j.runs} runs`;
      if (j.status === "queued" || j.status === "running") {
        say($("job-status"), `${what}: ${j.status} ${Math.round(100 * j.progress)}%` +
          (j.stage ? ` (${j.stage})` : ""), null);
        S.poll = setTimeout(tick, 700);
      } else if (j.status === "done") {
        say($("job-status"), `${what}: done`, true);
        refreshJobs();
        showResults(j);
      } else {
        say($("job-status"), `${what}: ${j.status}${j.error ? " – " + j.error : ""}`, false);
        refreshJobs();
      }
    };
    tick();
  }

  async function refreshJobs() {
    health();
    try {
      const jobs = await api("/api/jobs?limit=20");
      const ul = $("jobs"); ul.innerHTML = "";
      jobs.forEach((j) => {
        const li = document.createElement("li");
        li.innerHTML = `<span>${Charts.esc(j.kind)}: ${Charts.esc(j.scenarios.join(" vs "))} ` +
          `<span class="muted">(${j.runs} runs, ${Charts.esc(j.created.slice(0, 16).replace("T", " "))})</span></span>` +
          `<span class="status-${j.status}">${j.status}</span>`;
        li.addEventListener("click", () => watch(j.id));
        ul.appendChild(li);
      });
    } catch (e) { /* the list is a convenience */ }
  }

  /* ---------- results ---------- */
  async function showResults(job) {
    S.job = job;
    $("results-card").hidden = false;
    $("res-title").textContent = `· ${job.kind} ${job.scenarios.join(" vs ")}, ${job.runs} runs, seed ${job.seed}`;
    $("dl-bundle").href = job.links.bundle;
    $("dl-summary").href = job.links.summary;
    const brief = job.kind === "brief";
    $("brief-link").hidden = !brief;
    $("series-box").hidden = brief;
    if (brief) {
      $("dl-brief").href = job.links.brief;
      const s = await api(job.links.summary);
      $("table-title").textContent = "Claims: verdicts of the checks";
      Charts.verdictTable($("outcomes"), s.claims);
      return;
    }
    const fans = Object.keys(Charts.FAN).map(async (m) => {
      const q = await api(`/api/jobs/${job.id}/quantiles?metric=${m}&region=IQ`);
      await Charts.fan($(`fan-${m}`), q);
    });
    const sel = $("map-scenario"); sel.innerHTML = "";
    job.scenarios.slice().reverse().forEach((n) => sel.add(new Option(n, n)));
    $("map-week").max = job.weeks - 1; $("map-week").value = job.weeks - 1;
    const summary = api(job.links.summary).then((s) => {
      if (s.kind === "compare") {
        $("table-title").textContent = `Paired contrasts: B = ${s.b} against A = ${s.a}`;
        Charts.contrastTable($("outcomes"), s);
      } else {
        $("table-title").textContent = "Outcomes per run";
        Charts.outcomesTable($("outcomes"), s);
      }
    });
    await Promise.all([...fans, drawMap(), summary]).catch((e) => say($("job-status"), e.message, false));
  }

  async function drawMap() {
    if (!S.job) return;
    if (!S.geo) S.geo = await api("/api/geo");
    const m = await api(`/api/jobs/${S.job.id}/map?metric=${encodeURIComponent($("map-metric").value)}` +
      `&week=${$("map-week").value}&scenario=${encodeURIComponent($("map-scenario").value)}`);
    $("map-date").textContent = `week ${m.week}, ${m.date}`;
    await Charts.map($("map"), S.geo, m);
  }

  async function health() {
    try {
      const h = await api("/api/health");
      $("health").textContent = `v${h.version} · ${h.jobs.running} running, ${h.jobs.queued} queued · ` +
        `≤ ${h.limits.max_runs} runs, ≤ ${h.limits.max_weeks} weeks`;
      $("runs").max = h.limits.max_runs;
      $("token-box").hidden = !h.auth_required;
    } catch (e) { $("health").textContent = `server unreachable: ${e.message}`; }
  }

  /* ---------- start ---------- */
  async function init() {
    await health();
    $("token").value = sessionStorage.getItem("resurgence-token") || "";
    $("token").addEventListener("change", () => sessionStorage.setItem("resurgence-token", $("token").value.trim()));
    S.meta = await api("/api/meta");
    S.meta.metrics.filter((m) => m.level === "region").forEach((m) =>
      $("map-metric").add(new Option(`${m.description} (${m.unit})`, m.name)));
    $("map-metric").value = "is_attacks";
    const scs = await api("/api/scenarios");
    scs.forEach((s) => {
      $("base").add(new Option(`${s.name}: ${s.title}`, s.name));
      $("cmp-a").add(new Option(s.name, s.name));
    });
    $("base").value = scs.some((s) => s.name === "announced-2500") ? "announced-2500" : scs[0].name;
    $("cmp-a").value = $("base").value;
    await pickBase();
    $("base").addEventListener("change", () => { $("cmp-a").value = $("base").value; pickBase(); });
    $("lev-date").addEventListener("change", renderLevers);
    $("troops-add").addEventListener("click", () => addTroopRow($("lev-date").value, 2500));
    $("shock-add").addEventListener("click", () => addShockRow({date: $("lev-date").value,
      kind: "is_surge", region: S.meta.national_code, magnitude: 1, weeks: 4}));
    document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => switchTab(t.dataset.tab)));
    $("toml-load").addEventListener("click", loadToml);
    $("validate").addEventListener("click", validate);
    $("run").addEventListener("click", () => submit("run"));
    $("compare").addEventListener("click", () => submit("compare"));
    $("brief").addEventListener("click", () => submit("brief"));
    ["map-metric", "map-scenario"].forEach((id) => $(id).addEventListener("change", drawMap));
    $("map-week").addEventListener("change", drawMap);
    $("claims-box").addEventListener("toggle", async () => {
      if ($("claims-box").open && !$("claims").rows.length) Charts.claimsTable($("claims"), await api("/api/claims"));
    }, {once: false});
    refreshJobs();
    document.body.dataset.ready = "1";
  }

  init().catch((e) => { $("health").textContent = `failed to start: ${e.message}`; });
})();
