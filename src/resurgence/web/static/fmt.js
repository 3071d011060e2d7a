/* Number formats (the same as the brief and the CLI: resurgence.report.fmt), units in words,
   plain-language validation messages, and scenario export as TOML. */
"use strict";

window.Fmt = (function () {
  const FIXED = "no spread across runs";

  function num(v, signed) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "n/a";
    const sign = signed && v > 0 ? "+" : "";
    const a = Math.abs(v);
    if (a >= 100) return sign + Math.round(v).toLocaleString("en-US");
    if (v === 0) return "0";
    if (a < 1e-4) return sign + v.toExponential(1);
    return sign + Number(v.toPrecision(3)).toString();
  }
  const prob = (v) => (v === null || v === undefined || !Number.isFinite(v)) ? "n/a" : `${Math.round(100 * v)}%`;
  function pp(v) {
    if (v === null || v === undefined || !Number.isFinite(v)) return "n/a";
    const x = 100 * v;
    const s = Math.abs(x) >= 1 || x === 0 ? Math.round(x).toString() : x.toFixed(1);
    return `${x >= 0 && !s.startsWith("-") ? "+" : ""}${s} pp`;
  }
  const value = (v, kind, diff) => kind === "probability" ? (diff ? pp(v) : prob(v)) : num(v, diff);

  function degenerate(lo, hi, mid, kind) {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return false;
    return Math.abs(hi - lo) <= 1e-9 * Math.max(1, Math.abs(mid)) || value(lo, kind) === value(hi, kind);
  }

  /* 'median [P10, P90]', or words for an interval without width */
  function interval(mid, lo, hi, kind, diff) {
    if (degenerate(lo, hi, mid, kind)) {
      if (kind === "probability" && !diff && (mid === 0 || mid === 1)) return `${prob(mid)} (${mid === 0 ? "in no run" : "in every run"})`;
      if (kind === "probability" && diff && mid === 0) return `${pp(0)} (no run differs)`;
      return `${value(mid, kind, diff)} (${FIXED})`;
    }
    return `${value(mid, kind, diff)} [${value(lo, kind, diff)}, ${value(hi, kind, diff)}]`;
  }
  function intervalHTML(mid, lo, hi, kind, diff) {
    const t = interval(mid, lo, hi, kind, diff);
    const i = t.search(/ [[(]/);
    return i < 0 ? t : `${t.slice(0, i)} <span class="muted small">${t.slice(i + 1)}</span>`;
  }

  const UNITS = {
    attacks: "attacks (model count)", "attacks/week": "attacks per week (model count)",
    fighters: "fighters", "fighters/week": "fighters per week", villages: "villages",
    "villages/week": "villages per week", probability: "probability", "0-1": "index from 0 to 1",
    "0/1": "yes (1) or no (0)", index: "index", "1 = late 2020": "index, 1 = late-2020 level",
    "1 = 2019-20": "index, 1 = 2019-20 level", "0-1.5": "coverage, 0 to 1.5", troops: "US troops",
    bases: "open US bases",
  };
  function unitLabel(unit, name) {
    const u = UNITS[unit] || unit;
    return /^is_attacks/.test(name || "") ? `${u}, CTC Sentinel scale` : u;
  }

  const FIELDS = {name: "Name", title: "Title", start: "Start date", weeks: "Weeks",
    "schedules.troops": "US troops schedule", shocks: "Shocks", runs: "Runs", seed: "Seed",
    label: "Job name"};
  /* a server message in plain words, naming the field as the form does */
  function plain(msg) {
    const m = /field '([^']+)' = (.*?): (.*)$/.exec(msg || "");
    if (!m) return msg;
    const [, field, val, why] = m;
    const key = Object.keys(FIELDS).find((k) => field === k || field.startsWith(k + ".")) || field;
    const where = FIELDS[key] || field.replace(/[._]/g, " ");
    let text = why;
    if (/should match pattern/.test(why)) {
      text = "use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit (no spaces)";
    } else if (/Extra inputs are not permitted/.test(why)) {
      text = "this server does not accept it";
    } else if (/valid date|date/.test(why) && /Input should be/.test(why)) {
      text = "expected a date such as 2021-06-30";
    } else if (/greater than or equal to (\S+)/.test(why)) {
      text = `must be at least ${/greater than or equal to (\S+)/.exec(why)[1]}`;
    } else if (/less than or equal to (\S+)/.test(why)) {
      text = `must be at most ${/less than or equal to (\S+)/.exec(why)[1]}`;
    }
    return `${where} (${val}): ${text}.`.replace(/\.\.$/, ".");
  }

  /* ---------- TOML (the subset a scenario uses) ---------- */
  const str = (s) => JSON.stringify(String(s));
  function tval(v) {
    if (Array.isArray(v)) return `[${v.map(tval).join(", ")}]`;
    if (typeof v === "number") return Number.isInteger(v) ? `${v}.0`.replace(/\.0$/, "") : String(v);
    if (typeof v === "boolean") return v ? "true" : "false";
    if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
    return str(v);
  }
  function toTOML(sc) {
    const out = [];
    ["name", "title", "description", "base", "start", "weeks"].forEach((k) => {
      if (sc[k] !== null && sc[k] !== undefined && sc[k] !== "") out.push(`${k} = ${tval(sc[k])}`);
    });
    if (sc.claims && sc.claims.length) out.push(`claims = ${tval(sc.claims)}`);
    const sched = Object.entries(sc.schedules || {}).filter(([, v]) => v && v.length);
    if (sched.length) {
      out.push("", "[schedules]");
      sched.forEach(([k, pts]) => out.push(`${k} = [${pts.map(([d, x]) => `[${d}, ${tval(x)}]`).join(", ")}]`));
    }
    if (sc.policy) {
      out.push("", "[policy]");
      Object.entries(sc.policy).forEach(([k, v]) => { if (v !== null) out.push(`${k} = ${tval(v)}`); });
    }
    const params = Object.entries(sc.params || {});
    if (params.length) {
      out.push("", "[params]");
      params.forEach(([k, v]) => out.push(`${k} = ${tval(v)}`));
    }
    (sc.bases || []).forEach((b) => {
      out.push("", "[[bases]]");
      Object.entries(b).forEach(([k, v]) => { if (v !== null && v !== undefined) out.push(`${k} = ${tval(v)}`); });
    });
    (sc.shocks || []).forEach((s) => {
      out.push("", "[[shocks]]");
      Object.entries(s).forEach(([k, v]) => { if (v !== null && v !== undefined && v !== "") out.push(`${k} = ${tval(v)}`); });
    });
    return out.join("\n") + "\n";
  }

  return {num, prob, pp, interval, intervalHTML, degenerate, unitLabel, plain, toTOML, FIXED};
})();
