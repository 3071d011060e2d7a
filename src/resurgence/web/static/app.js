/* The page: runs and compares with live progress, the job list, the share link, start-up.
   The editor is editor.js, results results.js. Talks only to /api. */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const {S, api, say, scenarioSpec, pickBase, changeBase, buildScenario, formProblems, validate,
         loadToml, exportToml, importToml, switchTab, renderLevers, addTroopRow,
         addShockRow} = window.Editor;
  const postJSON = window.Editor.postJSON;

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
      if (kind !== "brief") {
        const problems = formProblems(buildScenario());
        if (problems.length) throw new Error(problems.join(" "));
      }
      let b = kind === "brief" ? null : scenarioSpec();
      if (kind === "compare" && (typeof b === "string" ? b : b.name) === $("cmp-a").value) {
        b = typeof b === "string" ? Object.assign(buildScenario(), {name: `${b}-b`}) : Object.assign(b, {name: `${b.name}-b`});
      }
      const [path, body] = kind === "run" ? ["/api/runs", Object.assign({scenario: b}, o)]
        : kind === "compare" ? ["/api/compare", Object.assign({a: $("cmp-a").value, b}, o)]
        : ["/api/brief", {runs: o.runs, seed: o.seed, posterior: o.posterior}];
      const label = $("job-label").value.trim();
      if (label && kind !== "brief" && S.labels !== false) body.label = label.slice(0, 80);
      let job;
      try { job = await postJSON(path, body); }
      catch (e) {
        if (!(e.status === 422 && /'label'/.test(e.raw || "") && body.label)) throw e;
        S.labels = false; $("label-row").hidden = true;  // this server does not name jobs
        delete body.label;
        job = await postJSON(path, body);
      }
      say(status, `job ${job.id} queued`, null);
      refreshJobs();
      watch(job.id);
    } catch (e) { say(status, e.message, false); }
  }

  function watch(id, view) {
    clearTimeout(S.poll);
    if (readHash().job !== id) history.replaceState(null, "", `#job=${encodeURIComponent(id)}`);
    $("job-box").hidden = false;
    const tick = async () => {
      let j;
      try { j = await api(`/api/jobs/${id}`); }
      catch (e) { say($("job-status"), e.message, false); return; }
      $("progress-bar").style.width = `${Math.round(100 * j.progress)}%`;
      const what = `${j.label ? `“${j.label}” · ` : ""}${j.kind} ${j.scenarios.join(" vs ")} · ${j.runs} runs`;
      if (j.status === "queued" || j.status === "running") {
        say($("job-status"), `${what}: ${j.status} ${Math.round(100 * j.progress)}%` +
          (j.stage ? ` (${j.stage})` : ""), null);
        S.poll = setTimeout(tick, 700);
      } else if (j.status === "done") {
        say($("job-status"), `${what}: done`, true);
        refreshJobs();
        S.job = j;
        setHash({job: j.id});
        Results.show(j, view || {}, api).catch((e) => say($("job-status"), e.message, false));
      } else {
        say($("job-status"), `${what}: ${j.status}${j.error ? " – " + j.error : ""}`, false);
        refreshJobs();
      }
    };
    tick();
  }

  async function jobAction(j, action) {
    try {
      if (action === "cancel") await api(`/api/jobs/${j.id}/cancel`, {method: "POST"});
      else {
        if (!window.confirm(`Delete job ${j.label || j.id} and its results?`)) return;
        await api(`/api/jobs/${j.id}`, {method: "DELETE"});
      }
      say($("job-status"), `job ${j.label || j.id}: ${action === "cancel" ? "cancelled" : "deleted"}`, true);
    } catch (e) {
      if (e.status === 404 || e.status === 405) {  // this server cannot cancel or delete jobs
        S.jobActions = false;
      } else say($("job-status"), e.message, false);
    }
    refreshJobs();
  }

  function actionButton(text, j, action) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "small-btn"; b.textContent = text;
    b.setAttribute("aria-label", `${text} job ${j.label || j.id}`);
    b.addEventListener("click", (ev) => { ev.stopPropagation(); jobAction(j, action); });
    return b;
  }

  async function refreshJobs() {
    health();
    clearTimeout(S.listPoll);
    try {
      const jobs = await api("/api/jobs?limit=20");
      const ul = $("jobs"); ul.innerHTML = "";
      jobs.forEach((j) => {
        const li = document.createElement("li");
        const open = document.createElement("button");
        open.type = "button"; open.className = "job-open";
        open.innerHTML = `${j.label ? `<b>${Charts.esc(j.label)}</b> · ` : ""}${Charts.esc(j.kind)}: ` +
          `${Charts.esc(j.scenarios.join(" vs "))} <span class="muted">(${j.runs} runs, ` +
          `${Charts.esc(j.created.slice(0, 16).replace("T", " "))})</span>`;
        open.addEventListener("click", () => watch(j.id));
        const st = document.createElement("span");
        st.className = `status-${j.status}`; st.textContent = j.status;
        li.append(open, st);
        if (S.jobActions !== false) {
          if (j.status === "queued" || j.status === "running") li.append(actionButton("cancel", j, "cancel"));
          else li.append(actionButton("delete", j, "delete"));
        }
        ul.appendChild(li);
      });
      if (jobs.some((j) => j.status === "queued" || j.status === "running")) {
        S.listPoll = setTimeout(refreshJobs, 3000);
      }
    } catch (e) { /* the list is a convenience */ }
  }

  /* ---------- shareable state: #job=ID&metric=...&week=N ---------- */
  function readHash() {
    return Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
  }
  function setHash(extra) {
    const h = Object.assign({}, extra || {});
    if (S.job) h.job = S.job.id;
    if (S.job && S.job.kind !== "brief" && !$("results-card").hidden) {
      h.metric = $("map-metric").value; h.week = $("map-week").value;
    }
    const next = "#" + new URLSearchParams(h).toString();
    if (next !== location.hash) history.replaceState(null, "", next);
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
      $("map-metric").add(new Option(`${m.description} (${Fmt.unitLabel(m.unit, m.name)})`, m.name)));
    $("map-metric").value = "is_attacks";
    const scs = await api("/api/scenarios");
    scs.forEach((s) => {
      $("base").add(new Option(`${s.name}: ${s.title}`, s.name));
      $("cmp-a").add(new Option(`${s.name}: ${s.title}`, s.name));
    });
    $("base").value = scs.some((s) => s.name === "full-withdrawal") ? "full-withdrawal" : scs[0].name;
    await pickBase();
    $("base").addEventListener("change", changeBase);
    $("toml-export").addEventListener("click", exportToml);
    $("toml-file").addEventListener("change", importToml);
    $("share").addEventListener("click", async () => {
      setHash();
      try { await navigator.clipboard.writeText(location.href); say($("share-msg"), "link copied", true); }
      catch (e) { say($("share-msg"), `share this address: ${location.href}`, null); }
    });
    Results.state.onView = () => setHash();
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
    const redraw = () => Results.drawMaps().catch((e) => say($("job-status"), e.message, false));
    $("map-metric").addEventListener("change", redraw);
    $("map-week").addEventListener("change", redraw);
    $("claims-box").addEventListener("toggle", async () => {
      if ($("claims-box").open && !$("claims").rows.length) Charts.claimsTable($("claims"), await api("/api/claims"));
    }, {once: false});
    refreshJobs();
    const h = readHash();
    if (h.job) watch(h.job, h);
    window.addEventListener("hashchange", () => { const v = readHash(); if (v.job && (!S.job || v.job !== S.job.id)) watch(v.job, v); });
    document.body.dataset.ready = "1";
  }

  init().catch((e) => { $("health").textContent = `failed to start: ${e.message}`; });
})();
