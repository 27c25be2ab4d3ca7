/* xmc web: renders the engine's `watch` and `status` snapshots pushed by the server (server-sent
 * events), keeps a basis chart per pair, and sends control actions with the operator's token.
 * Everything the engine says is put in the page as text (never as HTML): reasons and alert
 * messages can carry what an operator typed. Fields the engine does not send yet are shown when
 * they arrive (last_denial, ticket legs, sessions, holds of the global scope, quote-age limits). */
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const SELL = "SELL_BASIS", BUY = "BUY_BASIS";
  // [command, label for one pair, label for every pair, style]
  const ACTIONS = [["halt", "Halt", "Halt all", "danger"], ["resume", "Resume", "Resume all", "go"],
    ["flatten", "Flatten", "Flatten all", "danger"], ["cancel-all", "Cancel orders", "Cancel all orders", ""]];
  const QUIET = { "24x7 session": true };

  let control = false;
  let historyS = 300;
  let token = sessionStorage.getItem("xmc-token");
  const cards = {};        // pair -> {root, parts..., chart}
  let engineState = "connecting";
  let pending = null;      // {cmd, pair} awaiting confirmation

  // A token handed over in the address (#token=...) never goes to the server in a URL: keep it in
  // this tab's storage and take it out of the address bar.
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    token = decodeURIComponent(m[1]);
    sessionStorage.setItem("xmc-token", token);
    history.replaceState(null, "", location.pathname);
  }

  // -- small helpers --------------------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "style") e.style.cssText = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid == null || kid === false) continue;
      e.appendChild(typeof kid === "string" || typeof kid === "number" ? document.createTextNode(String(kid)) : kid);
    }
    return e;
  }
  function fill(node, ...kids) { node.replaceChildren(...kids.flat().filter((k) => k != null && k !== false)); }
  function num(v) { const n = Number(v); return v == null || v === "" || Number.isNaN(n) ? null : n; }
  function fmt(v, d) {
    const n = num(v);
    return n == null ? "–" : n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function signed(v, d) { const n = num(v); return n == null ? "–" : (n > 0 ? "+" : "") + fmt(n, d); }
  function px(s) {   // the engine's price string, digits kept, thousands grouped
    if (s == null) return "–";
    const [i, f] = String(s).split(".");
    const g = i.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return f ? g + "." + f : g;
  }
  function age(ms) {
    if (ms == null) return "–";
    return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60000)} min`;
  }
  function ageClass(ms, max) {
    if (ms == null) return "age";
    const limit = max != null ? Number(max) : 3000;
    return "age" + (ms > limit ? " bad" : ms > limit / 2 ? " warn" : "");
  }
  function clock(ts) {
    const d = new Date(ts * 1000);
    return d.toLocaleTimeString("en-GB", { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  function nsClock(ns) { return ns ? clock(Number(ns) / 1e9) : "–"; }
  function badge(state) { return h("span", { class: "state " + (state || ""), text: state || "–" }); }

  // -- control --------------------------------------------------------------------------
  function toast(text, ok) {
    const t = $("toast");
    t.textContent = text;
    t.className = ok ? "ok" : "err";
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, ok ? 5000 : 10000);
  }
  function controlButtons(pair, small) {
    if (!control) return null;
    return ACTIONS.map(([cmd, one, all, cls]) => h("button", {
      class: cls, id: `btn-${cmd}-${pair || "global"}`, "data-cmd": cmd, "data-pair": pair || "",
      title: `${cmd} ${pair || "every pair"}`, text: small ? one : all,
      onclick: () => ask(cmd, pair),
    }));
  }
  function ask(cmd, pair) {
    pending = { cmd, pair };
    $("confirm-text").textContent = `${cmd.toUpperCase()} ${pair || "every pair (global)"}?`;
    $("confirm-reason").hidden = cmd !== "halt";
    $("confirm-reason").value = "";
    $("confirm").hidden = false;
    (cmd === "halt" ? $("confirm-reason") : $("confirm-go")).focus();
  }
  $("confirm-cancel").addEventListener("click", () => { pending = null; $("confirm").hidden = true; });
  $("confirm-reason").addEventListener("keydown", (e) => { if (e.key === "Enter") $("confirm-go").click(); });
  $("confirm-go").addEventListener("click", async () => {
    if (!pending) return;
    const { cmd, pair } = pending;
    const body = { cmd };
    if (pair) body.pair = pair;
    if (cmd === "halt" && $("confirm-reason").value.trim()) body.reason = $("confirm-reason").value.trim();
    pending = null;
    $("confirm").hidden = true;
    try {
      const r = await fetch("/api/control", {
        method: "POST", cache: "no-store",
        headers: { "Content-Type": "application/json", "X-XMC-Token": token || "" }, body: JSON.stringify(body),
      });
      const j = await r.json().catch(() => ({ error: r.statusText }));
      if (r.ok) toast(`${cmd} ${pair || "global"}: sent to the engine`, true);
      else toast(`${cmd} ${pair || "global"} refused (HTTP ${r.status}): ${j.error}`, false);
      if (r.status === 403 && control) renderControls(true);
    } catch (e) {
      toast(`${cmd}: the web view did not answer (${e})`, false);
    }
  });
  function renderControls(askToken) {
    const box = $("global-controls");
    if (!control) {
      fill(box, h("span", { class: "dim", id: "read-only", text: "read-only view" }));
      $("mode").textContent = "read-only: start xmc web with --control-token FILE to halt, resume, flatten or cancel from here";
      return;
    }
    $("mode").textContent = "control enabled: every action is relayed to the engine and audited with this browser's address";
    const kids = controlButtons(null, false);
    if (!token || askToken) {
      const inp = h("input", { id: "token-input", type: "password", placeholder: "control token", autocomplete: "off" });
      kids.unshift(h("span", { id: "token-box" }, inp, h("button", {
        id: "token-save", text: "Unlock", onclick: () => {
          token = inp.value.trim();
          sessionStorage.setItem("xmc-token", token);
          renderControls(false);
        },
      })));
    }
    fill(box, kids);
    for (const c of Object.values(cards)) fill(c.controls, controlButtons(c.name, true));
  }

  // -- one card per pair ----------------------------------------------------------------
  function card(name) {
    if (cards[name]) return cards[name];
    const c = { name };
    c.state = h("span"); c.reason = h("span", { class: "dim preason" }); c.pos = h("span", { class: "kv" });
    c.counts = h("span", { class: "kv" }); c.ticket = h("span", { class: "kv" });
    c.controls = h("span", { class: "controls" });
    c.holds = h("div", { class: "holds" });
    c.inner = h("div", { class: "book", "data-leg": "inner" });
    c.outer = h("div", { class: "book", "data-leg": "outer" });
    c.mid = h("div", { class: "mid" });
    c.chartBox = h("div", { class: "chart", "data-points": "0" });
    c.root = h("div", { class: "pair", "data-pair": name },
      h("div", { class: "pair-head" }, h("span", { class: "name", text: name }), c.state, c.reason, c.pos, c.counts, c.ticket, c.controls),
      c.holds, h("div", { class: "pair-body" }, c.inner, c.mid, c.outer), c.chartBox);
    $("pairs").appendChild(c.root);
    cards[name] = c;
    if (control) fill(c.controls, controlButtons(name, true));
    return c;
  }

  function bookView(node, leg, role, p) {
    // Which side a ticket takes at this leg: selling the basis sells the inner (hits bids) and buys
    // the outer (lifts asks); buying the basis does the opposite.
    const lots = num((p.lots || [])[role === "inner" ? 0 : 1]) || 0;
    const sideOf = { [SELL]: role === "inner" ? "bids" : "asks", [BUY]: role === "inner" ? "asks" : "bids" };
    const reach = { bids: 0, asks: 0 };
    for (const side of ["bids", "asks"]) {
      let cum = 0;
      for (const [, q] of leg[side] || []) { if (cum >= lots) break; cum += Number(q); reach[side] += 1; }
    }
    const rows = Math.max((leg.bids || []).length, (leg.asks || []).length, 5);
    const maxQ = Math.max(1, ...[...(leg.bids || []), ...(leg.asks || [])].map((l) => Number(l[1])));
    const bar = (q) => h("div", { class: "bar", style: `width:${Math.round(100 * Number(q) / maxQ)}%` });
    const tb = h("tbody");
    for (let i = 0; i < rows; i++) {
      const b = (leg.bids || [])[i], a = (leg.asks || [])[i];
      tb.appendChild(h("tr", {},
        h("td", { class: "bq" }, b ? [bar(b[1]), h("span", { text: b[1] })] : ""),
        h("td", { class: "bp" + (b && i < reach.bids ? " ex" : "") , text: b ? px(b[0]) : "" }),
        h("td", { class: "ap" + (a && i < reach.asks ? " ex" : ""), text: a ? px(a[0]) : "" }),
        h("td", { class: "aq" }, a ? [bar(a[1]), h("span", { text: a[1] })] : "")));
    }
    const mk = (p.markets || []).find((x) => x.venue === leg.venue);
    const maxAge = p.max_quote_age_ms;
    const ex = p.executable || {};
    const line = [SELL, BUY].filter((d) => ex[d]).map((d) => {
      const q = ex[d];
      const size = role === "inner" ? q.size_inner : q.size_outer;
      const avg = role === "inner" ? q.inner_px : q.outer_px;
      const verb = sideOf[d] === "bids" ? "sell" : "buy";
      const short = num(size) < lots ? " (short of depth)" : "";
      return `${d === SELL ? "sell basis" : "buy basis"}: ${verb} ${size}/${lots} @ ${px(avg)}${short}`;
    }).join("   ");
    node.className = "book" + (leg.valid === false ? " invalid" : "");
    fill(node,
      h("h3", {}, h("span", { text: `${leg.venue} ${leg.symbol}` }),
        mk ? h("span", { class: "mk " + (mk.open ? "open" : "closed"), title: mk.reason,
          text: mk.open ? "open" : "CLOSED" }) : null,
        leg.valid === false ? h("span", { class: "mk closed", text: "no valid book" }) : null,
        h("span", { class: ageClass(leg.age_ms, maxAge), title: "quote age", text: age(leg.age_ms) })),
      h("table", {}, h("thead", {}, h("tr", {}, h("th", { text: "bid qty" }), h("th", { text: "bid" }),
        h("th", { text: "ask" }), h("th", { text: "ask qty" }))), tb),
      h("div", { class: "exline", text: line || "no executable size" }));
  }

  function refusals(p, st, w) {
    const out = [];
    const g = w.global || {};
    if (g.state && g.state !== "ACTIVE") out.push(`global ${g.state}: ${g.reason || ""}`);
    if (p.state !== "ACTIVE" && !(g.state !== "ACTIVE" && p.reason === g.reason)) {
      out.push(`${p.state === "REDUCING" ? "REDUCING (closing tickets only)" : p.state}: ${p.reason || ""}`);
    }
    for (const mk of p.markets || []) if (!mk.open) out.push(`market closed: ${mk.venue} (${mk.reason})`);
    const up = new Set(w.venues_up || []);
    for (const leg of [p.inner, p.outer]) {
      if (!leg) continue;
      if (!up.has(leg.venue)) out.push(`session down: ${leg.venue}`);
      else if (leg.valid === false) out.push(`no valid book: ${leg.venue}`);
      const max = num(p.max_quote_age_ms);
      if (max != null && leg.age_ms != null && leg.age_ms > max) out.push(`stale quote: ${leg.venue} ${age(leg.age_ms)} (max ${max} ms)`);
    }
    if (p.fx && num(p.fx.max_age_ms) != null && p.fx.age_ms > num(p.fx.max_age_ms)) out.push(`stale FX: ${age(p.fx.age_ms)}`);
    const d = p.last_denial || (st && st.last_denial);
    if (d) out.push(`risk denial: ${d.reason}${d.detail ? " — " + d.detail : ""}${d.ts_ns ? " at " + nsClock(d.ts_ns) : ""}`);
    return out;
  }

  // One way of trading the basis: its executable value, the entry threshold it is compared with,
  // and the exit that takes the position back (compared on the other way's basis).
  function wayBox(cls, label, q, entry, exit, hot, cmpEntry, cmpExit, back) {
    return h("div", { class: `way ${cls}${hot ? " hot" : ""}`, "data-way": cls },
      h("div", { class: "lbl", text: label }),
      h("div", { class: "v", text: q ? signed(q.basis, 1) : "–" }),
      h("div", { class: "th", text: `entry ${cmpEntry} ${entry ?? "–"} · ${back} ${cmpExit} ${exit ?? "–"}` }),
      h("div", { class: "th", text: q && entry != null ? `${fmt(Math.abs(num(entry) - num(q.basis)), 1)} to entry` : "" }));
  }

  // What the engine would decide now at the ticket's size: the same comparisons as its decision
  // (an entry while flat or on that side, the exit of a position held the other way), made on the
  // executable basis of this snapshot. The engine's own `signal` field is its last evaluation,
  // which pauses while the pair is halted or has a ticket working.
  function crossing(p, st) {
    const ex = p.executable || {}, t = p.thresholds || {};
    const pos = num(st && st.inner_lots != null ? st.inner_lots : p.position_units) || 0;
    const sell = ex[SELL] && num(ex[SELL].basis), buy = ex[BUY] && num(ex[BUY].basis);
    const ge = (v, th) => v != null && th != null && v >= num(th), le = (v, th) => v != null && th != null && v <= num(th);
    if (pos <= 0 && ge(sell, t.entry_above)) return { way: "sell", text: "sell basis: entry_above crossed (open)" };
    if (pos > 0 && ge(sell, t.exit_below)) return { way: "sell", text: "sell basis: exit_below crossed (close)" };
    if (pos >= 0 && le(buy, t.entry_below)) return { way: "buy", text: "buy basis: entry_below crossed (open)" };
    if (pos < 0 && le(buy, t.exit_above)) return { way: "buy", text: "buy basis: exit_above crossed (close)" };
    return null;
  }

  function midView(c, name, p, st, w) {
    const ex = p.executable || {}, t = p.thresholds || {};
    const sell = ex[SELL], buy = ex[BUY];
    const signal = crossing(p, st);
    const sellHot = signal && signal.way === "sell", buyHot = signal && signal.way === "buy";
    const fx = p.fx || {};
    const why = refusals(p, st, w);
    const ticket = (w.open_tickets || []).find((x) => x.ticket_id === p.active_ticket);
    let verdict;
    if (why.length) verdict = h("div", { class: "why", "data-why": "refused" }, h("span", { class: "no", text: "held back: " }), why.join(" · "));
    else if (ticket) verdict = h("div", { class: "why" }, h("span", { class: "ok", text: "working: " }), `${ticket.ticket_id} ${ticket.state}`);
    else verdict = h("div", { class: "why" }, h("span", { class: "ok", text: "ready: " }),
      signal ? "a ticket is due, if the risk gate agrees" : "basis inside the thresholds");
    fill(c.mid,
      h("div", { class: "fx" }, `FX ${fx.source || ""} ${fx.rate ?? "–"}`.replace("  ", " "),
        h("span", { class: ageClass(fx.age_ms, fx.max_age_ms), text: `  age ${age(fx.age_ms)}` }),
        `   ticket ${(p.lots || [])[0] ?? "–"} / ${(p.lots || [])[1] ?? "–"} lots`),
      h("div", { class: "ways" },
        wayBox("sell", "sell basis · sell inner, buy outer", sell, t.entry_above, t.exit_above, sellHot, "≥", "≤",
          "buy back"),
        wayBox("buy", "buy basis · buy inner, sell outer", buy, t.entry_below, t.exit_below, buyHot, "≤", "≥",
          "sell back")),
      h("div", { class: "why", "data-signal": signal ? signal.way : "" }, "signal: ",
        signal ? h("span", { class: "signal", text: signal.text }) : h("span", { class: "dim", text: "none" })),
      verdict);
  }

  function chartFor(c, p) {
    const t = p.thresholds || {};
    const key = JSON.stringify(t);
    if (c.chart && c.thrKey === key) return c.chart;
    if (c.chart) { c.chart.destroy(); }
    c.thrKey = key;
    c.thr = [t.entry_above, t.exit_above, t.entry_below, t.exit_below].map(num);
    const axis = { stroke: "#7d8896", grid: { stroke: "#1f2833", width: 1 }, ticks: { stroke: "#2a3441", width: 1 } };
    const opts = {
      width: Math.max(300, c.chartBox.clientWidth - 4), height: 190,
      scales: { x: { time: true } },
      cursor: { drag: { x: false, y: false } },
      legend: { live: false },
      axes: [axis, { ...axis, size: 70, label: `basis ${p.currency || ""}/${p.unit || ""}`, labelSize: 16,
        labelFont: "11px sans-serif", values: (u, vals) => vals.map((v) => v.toLocaleString("en-US")) }],
      series: [
        {},
        { label: "sell basis", stroke: "#f0a04b", width: 1.5, points: { show: false } },
        { label: "buy basis", stroke: "#4fb3ff", width: 1.5, points: { show: false } },
        { label: "entry above", stroke: "#e5484d", width: 1, dash: [6, 4], points: { show: false } },
        { label: "exit above", stroke: "rgba(229,72,77,.55)", width: 1, dash: [2, 4], points: { show: false } },
        { label: "entry below", stroke: "#2ea86b", width: 1, dash: [6, 4], points: { show: false } },
        { label: "exit below", stroke: "rgba(46,168,107,.55)", width: 1, dash: [2, 4], points: { show: false } },
      ],
    };
    if (!c.data) c.data = [[], [], [], [], [], [], []];
    c.data = [c.data[0], c.data[1], c.data[2], ...c.thr.map((v) => c.data[0].map(() => v))];
    c.chart = new uPlot(opts, c.data, c.chartBox);
    return c.chart;
  }

  function addPoint(c, pt) {
    if (!pt) return;
    if (!c.data) c.data = [[], [], [], [], [], [], []];
    const d = c.data;
    if (d[0].length && pt[0] <= d[0][d[0].length - 1]) return;
    d[0].push(pt[0]); d[1].push(pt[1]); d[2].push(pt[2]);
    for (let k = 0; k < 4; k++) d[3 + k].push(c.thr ? c.thr[k] : null);
    const cut = pt[0] - historyS;
    let drop = 0;
    while (drop < d[0].length && d[0][drop] < cut) drop++;
    if (drop) for (const a of d) a.splice(0, drop);
  }

  // A scope can gather many holds (a breach repeated on every order adds one each time): the same
  // reason is shown once with its count, halts and automatic holds first, then the newest others.
  const MAX_HOLD_CHIPS = 5;
  function holdChips(holds) {
    const groups = new Map();
    holds.forEach((x, i) => {
      const k = `${x.level}|${x.sticky}|${x.reason}`;
      const g = groups.get(k) || { x, n: 0 };
      g.n += 1; g.last = i;
      groups.set(k, g);
    });
    const rank = (g) => (g.x.level === "HALTED" ? 0 : 2) + (g.x.sticky ? 1 : 0);
    const list = [...groups.values()].sort((a, b) => rank(a) - rank(b) || b.last - a.last);
    const chips = list.slice(0, MAX_HOLD_CHIPS).map((g) => h("span", {
      class: "hold" + (g.x.sticky ? " sticky" : ""), title: g.x.key },
    h("b", { text: g.x.level }), ` ${g.x.sticky ? "sticky" : "auto"} · ${g.x.reason}${g.n > 1 ? ` (×${g.n})` : ""}`));
    const rest = list.slice(MAX_HOLD_CHIPS);
    if (rest.length) {
      chips.push(h("span", { class: "hold more", title: rest.map((g) => `${g.x.level}: ${g.x.reason}`).join("\n"),
        text: `+${rest.reduce((n, g) => n + g.n, 0)} more holds` }));
    }
    return chips;
  }

  function renderPair(name, p, st, w, pt) {
    const c = card(name);
    c.root.className = "pair " + (p.state || "");
    fill(c.state, badge(p.state));
    c.reason.textContent = p.reason || "";
    c.reason.title = p.reason || "";
    const s = st || {};
    fill(c.pos, "position ", h("b", { text: `${signed(p.position_units, 2)} ${p.unit || ""}` }),
      s.inner_lots != null ? ` (${s.inner_lots} / ${s.outer_lots} lots)` : "", "  residual ",
      h("b", { text: fmt(p.residual_units, 2) }),
      s.realised != null ? "  realised " : "", s.realised != null ? h("b", { text: `${fmt(s.realised, 0)} ${s.currency || ""}` }) : null);
    fill(c.counts, s.signals != null ? `signals ${s.signals} · denials ${s.denials}` : "");
    fill(c.ticket, p.active_ticket ? ["ticket ", h("b", { text: p.active_ticket })] : "");
    fill(c.holds, holdChips(s.holds || []));
    bookView(c.inner, p.inner || {}, "inner", p);
    bookView(c.outer, p.outer || {}, "outer", p);
    midView(c, name, p, s, w);
    chartFor(c, p);
    addPoint(c, pt);
    c.chart.setData(c.data);
    c.chartBox.dataset.points = String(c.data[0].length);
  }

  // -- the rest of the screen -------------------------------------------------------------
  function renderVenues(w) {
    const up = new Set(w.venues_up || []);
    const ages = {};
    const note = (v, a) => { if (v && a != null) ages[v] = ages[v] == null ? a : Math.min(ages[v], a); };
    let names = [];
    for (const p of Object.values(w.pairs || {})) {
      for (const leg of [p.inner, p.outer]) if (leg) { names.push(leg.venue); note(leg.venue, leg.age_ms); }
      if (p.fx && p.fx.venue) { names.push(p.fx.venue); note(p.fx.venue, p.fx.age_ms); }
    }
    let sessions = w.sessions;
    if (!sessions) sessions = [...new Set([...names, ...up])].sort().map((v) => ({ venue: v, up: up.has(v) }));
    fill($("venues"), sessions.map((s) => h("span", { class: "venue" + (s.up ? " up" : ""), "data-venue": s.venue,
      title: s.up ? "session logged on" : "session down" },
      h("span", { class: "dot" }), s.venue, h("span", { class: ageClass(ages[s.venue]), text: ages[s.venue] != null ? age(ages[s.venue]) : "" }))));
  }

  function renderTickets(w) {
    const ts = w.open_tickets || [];
    $("tickets-count").textContent = ts.length ? `(${ts.length})` : "";
    if (!ts.length) return fill($("tickets"), h("div", { class: "empty", text: "no open tickets" }));
    const rows = [];
    for (const t of ts) {
      rows.push(h("tr", { "data-ticket": t.ticket_id },
        h("td", { class: "mono", text: t.ticket_id }), h("td", { text: t.pair }),
        h("td", { text: [t.intent, t.direction].filter(Boolean).join(" ") }),
        h("td", {}, h("span", { class: "tstate " + t.state, text: t.state })),
        h("td", { class: "n", text: age(t.age_ms) }), h("td", { class: "n", text: fmt(t.residual, 2) }),
        h("td", { text: (t.repairs || []).join(" › ") || "–" })));
      for (const leg of t.legs || []) {
        rows.push(h("tr", { class: "leg" }, h("td", {}), h("td", { colspan: "6",
          text: `${leg.role} ${leg.venue || ""} ${leg.symbol || ""} ${leg.side || ""} filled ${leg.filled_lots ?? "?"} / ${leg.target_lots ?? "?"} lots` })));
        for (const o of leg.orders || []) {
          rows.push(h("tr", { class: "leg" }, h("td", {}), h("td", { colspan: "6",
            text: `  ${o.cl_ord_id} ${o.role || ""} ${o.side || ""} ${o.qty}${o.price != null ? " @ " + px(o.price) : ""} ` +
              `${o.status || ""} cum ${o.cum_qty ?? 0}${o.avg_px ? " avg " + px(o.avg_px) : ""}${o.uncertain ? " UNCERTAIN (status asked)" : ""}` })));
        }
      }
    }
    fill($("tickets"), h("table", { class: "list" }, h("thead", {}, h("tr", {},
      ["ticket", "pair", "intent", "state", "age", "residual", "repair steps"].map((x) => h("th", { text: x })))),
      h("tbody", {}, rows)));
  }

  function renderAlerts(w) {
    const as = (w.alerts || []).slice().reverse();
    if (!as.length) return fill($("alerts"), h("div", { class: "empty", text: "no alerts" }));
    fill($("alerts"), h("table", { class: "list" }, h("tbody", {}, as.map((a) => h("tr", { class: "alert-row" },
      h("td", { class: "t", text: nsClock(a.ts_ns) }),
      h("td", { class: "sev-" + a.severity, text: a.severity }),
      h("td", { text: [a.kind, a.pair || a.venue].filter(Boolean).join(" · ") }),
      h("td", { text: a.message + (a.action ? ` → ${a.action}` : "") }))))));
  }

  function renderPositions(st) {
    if (!st) return;
    const pos = Object.entries(st.positions || {});
    fill($("positions"), pos.length ? h("table", { class: "list" }, h("tbody", {}, pos.map(([k, v]) =>
      h("tr", {}, h("td", { text: k }), h("td", { class: "n", text: `${signed(v, 0)} lots` }))))) :
      h("div", { class: "empty", text: "none" }));
    const by = Object.entries(st.tickets_by_state || {});
    fill($("ticket-states"), by.length ? h("table", { class: "list" }, h("tbody", {}, by.map(([k, v]) =>
      h("tr", {}, h("td", { text: k }), h("td", { class: "n", text: String(v) }))))) :
      h("div", { class: "empty", text: "none yet" }));
  }

  function renderGlobal(w, st) {
    const g = w.global || {};
    fill($("global-state"), badge(g.state));
    const holds = (st && st.global && st.global.holds) || g.holds || [];
    $("global-reason").textContent = holds.length ? holds.map((x) => `${x.level}: ${x.reason}`).join(" · ") : (g.reason || "–");
    $("global-reason").title = $("global-reason").textContent;
  }

  function setEngine(e) {
    engineState = e.state;
    document.body.className = e.state;
    const label = { live: "live", down: "engine not running", connecting: "connecting" }[e.state] || e.state;
    $("engine-state").textContent = label;
    $("run-id").textContent = e.run_id ? ` ${e.run_id}` : "";
    const b = $("banner");
    if (e.state === "down") {
      b.hidden = false;
      b.textContent = `Engine not running / reconnecting… ${e.error || ""}` +
        (e.last_seen ? ` — last seen ${clock(e.last_seen)}` : "") + " (the figures below are its last state)";
    } else b.hidden = true;
  }

  let runId = null;
  function onSnapshot(msg) {
    setEngine(msg.engine);
    if (msg.engine.run_id && runId && msg.engine.run_id !== runId) {
      for (const c of Object.values(cards)) c.data = null;   // another run: start its chart afresh
    }
    if (msg.engine.run_id) runId = msg.engine.run_id;
    $("updated").textContent = clock(msg.ts);
    const w = msg.watch, st = msg.status;
    if (!w) return;
    if (st && st.shadow) $("run-id").textContent += " [SHADOW]";
    renderGlobal(w, st);
    renderVenues(w);
    for (const [name, p] of Object.entries(w.pairs || {})) {
      renderPair(name, p, st && st.pairs ? st.pairs[name] : null, w, (msg.points || {})[name]);
    }
    renderTickets(w);
    renderAlerts(w);
    renderPositions(st);
  }

  function onInit(msg) {
    control = !!msg.control;
    historyS = msg.history_s || historyS;
    for (const c of Object.values(cards)) { if (c.chart) c.chart.destroy(); c.root.remove(); }
    for (const k of Object.keys(cards)) delete cards[k];
    for (const [name, hist] of Object.entries(msg.history || {})) {
      const c = card(name);
      c.data = [hist.t.slice(), hist.sell.slice(), hist.buy.slice(), [], [], [], []];
    }
    renderControls(false);
  }

  const es = new EventSource("/events");
  es.addEventListener("init", (e) => onInit(JSON.parse(e.data)));
  es.addEventListener("snapshot", (e) => onSnapshot(JSON.parse(e.data)));
  es.addEventListener("error", () => {
    if (es.readyState !== EventSource.OPEN) setEngine({ state: "down", error: "the web view itself does not answer; retrying" });
  });
  window.addEventListener("resize", () => {
    for (const c of Object.values(cards)) if (c.chart) c.chart.setSize({ width: Math.max(300, c.chartBox.clientWidth - 4), height: 190 });
  });
})();
