// The QoS dashboard page: plain ES module, no build step. Charts are plotly.js, served by the
// dashboard from the installed `plotly` Python package. Every panel carries a stable
// `data-testid`, a `data-state` (loading / ready / empty / error) and, for tiles, the raw number
// in `data-value`, so a browser test can compare exact values. What the page draws (the tiles and
// their charts, the lake panels) comes from `GET /api/layout`, itself from the metric catalogue.

const REFRESH_MS = 5000;
const WAITING_MS = 1000;  // while the metric store has no window yet: look again every second
const RANGES = { "15m": 15 * 60e3, "1h": 60 * 60e3, "6h": 6 * 60 * 60e3, "24h": 24 * 60 * 60e3 };
const EVENT_TYPES = ["ATTEMPT", "PLAY", "PLAYBACK_SUMMARY", "QUALITY_CHANGED", "ERROR", "STOP"];
const EVENT_COLORS = {
  ATTEMPT: "#64748b", PLAY: "#16a34a", PLAYBACK_SUMMARY: "#2563eb",
  QUALITY_CHANGED: "#9333ea", ERROR: "#dc2626", STOP: "#f59e0b",
};
const PALETTE = ["#2563eb", "#f59e0b", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#7c3aed", "#ea580c"];

const LAKE_TOP = 15;  // a bar panel's groups: the top ones
const LABEL_CHARS = 22;  // a bar label's characters at most (the hover has the whole name)
const TIMELINE_PAGE = 500;  // events per page of a session's timeline
const $ = (id) => document.getElementById(id);
const state = {
  catalogue: new Map(),
  tiles: [],
  lakePanels: [],
  range: "1h",
  customFrom: null,
  customTo: null,
  platform: "",
  channel: "",
  by: "all",
  auto: true,
  session: null,
  timer: null,
  running: null,
  again: false,
};

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function getJSON(path, params) {
  const query = params ? `?${params}` : "";
  let response;
  try {
    response = await fetch(path + query, { cache: "no-store" });
  } catch {
    throw new ApiError("the dashboard server does not answer (is `qos up` still running?)", 0);
  }
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) {
    throw new ApiError((body && body.error) || `HTTP ${response.status} on ${path}`, response.status);
  }
  return body;
}

// -- formatting ---------------------------------------------------------------------------------

function metricOf(name) {
  return state.catalogue.get(name) || { name, title: name, unit: "" };
}

function formatNumber(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  if (unit === "s" || unit === "%" || unit === "stalls/min") return value.toFixed(2);
  if (unit === "bit/s") return (value / 1e6).toFixed(2);
  if (unit === "min") return value.toFixed(1);
  return Number.isInteger(value) ? value.toLocaleString("en") : value.toFixed(2);
}

function unitLabel(unit) {
  return unit === "bit/s" ? "Mbit/s" : unit;
}

// Group names cut to LABEL_CHARS with an ellipsis; a cut name that repeats another gets a
// number, so that plotly keeps one bar per group.
function shortLabels(names) {
  const seen = new Map();
  return names.map((name) => {
    const cut = name.length > LABEL_CHARS ? `${name.slice(0, LABEL_CHARS - 1)}…` : name;
    const n = (seen.get(cut) ?? 0) + 1;
    seen.set(cut, n);
    return n === 1 ? cut : `${cut} (${n})`;
  });
}

function pad(n) { return String(n).padStart(2, "0"); }
function utcTime(ms) {
  const d = new Date(ms);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}
function utcDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
function shortDay(day) {  // YYYY-MM-DD -> "Nov 22"
  const d = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(day) : d.toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });
}
function plotTime(ms) { return new Date(ms).toISOString().replace("Z", ""); }  // UTC wall time

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

// -- the query ----------------------------------------------------------------------------------

function timeRange() {
  if (state.range === "custom" && state.customFrom !== null && state.customTo !== null) {
    return [state.customFrom, state.customTo];
  }
  const now = Date.now();
  return [now - (RANGES[state.range] || RANGES["1h"]), now];
}

function filters(params) {
  if (state.platform) params.set("platform", state.platform);
  if (state.channel) params.set("channel", state.channel);
  return params;
}

// What the panels were last drawn for (tests wait on it after changing a filter).
function filterKey() {
  return filters(new URLSearchParams()).toString();
}

function saveToUrl() {
  const params = new URLSearchParams();
  params.set("range", state.range);
  if (state.range === "custom" && state.customFrom !== null) {
    params.set("from", String(state.customFrom));
    params.set("to", String(state.customTo));
  }
  filters(params);
  if (state.by !== "all") params.set("by", state.by);
  history.replaceState(null, "", `${location.pathname}?${params}`);
}

function loadFromUrl() {
  const params = new URLSearchParams(location.search);
  const range = params.get("range");
  if (range && (range in RANGES || range === "custom")) state.range = range;
  if (state.range === "custom") {
    const from = Number(params.get("from"));
    const to = Number(params.get("to"));
    if (Number.isFinite(from) && Number.isFinite(to) && from < to) {
      state.customFrom = from;
      state.customTo = to;
    } else {
      state.range = "1h";
    }
  }
  state.platform = params.get("platform") || "";
  state.channel = params.get("channel") || "";
  const by = params.get("by");
  if (by === "platform" || by === "channel") state.by = by;
}

// -- errors -------------------------------------------------------------------------------------

function showErrors(messages) {
  const box = $("error");
  const unique = [...new Set(messages)];
  box.hidden = unique.length === 0;
  box.textContent = unique.join(" · ");
}

function panelMessage(panel, kind, message) {
  panel.dataset.state = kind;
  let note = panel.querySelector(":scope > .empty");
  if (!note) {
    note = el("p", { class: "empty" });
    panel.append(note);
  }
  note.hidden = false;
  note.textContent = message;
  const chart = panel.querySelector(".chart");
  if (chart && window.Plotly) window.Plotly.purge(chart);
  if (chart) chart.hidden = true;
}

function panelReady(panel) {
  panel.dataset.state = "ready";
  const note = panel.querySelector(":scope > .empty");
  if (note) note.hidden = true;
  const chart = panel.querySelector(".chart");
  if (chart) chart.hidden = false;
}

function plot(chart, traces, layout) {
  if (!window.Plotly) throw new ApiError("plotly.js did not load (install the Python package plotly)", 0);
  const base = {
    margin: { l: 48, r: 12, t: 8, b: 36 },
    paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)",
    font: { size: 11, color: "#1c2333" },
    showlegend: traces.length > 1,
    legend: { orientation: "h", y: -0.22, font: { size: 10 } },
    xaxis: { gridcolor: "#eef1f6" },
    yaxis: { gridcolor: "#eef1f6", rangemode: "tozero" },
    hovermode: "closest",
  };
  window.Plotly.react(chart, traces, { ...base, ...layout }, { displayModeBar: false, responsive: true });
}

// -- building the page --------------------------------------------------------------------------

function buildPanels() {
  const tiles = $("tiles");
  tiles.replaceChildren();
  for (const name of state.tiles) {
    const metric = metricOf(name);
    tiles.append(
      el("div", { class: "tile", "data-testid": `tile-${name}`, "data-value": "", "data-final": "", title: metric.description },
        el("div", { class: "title", text: metric.title }),
        el("div", { class: "value" }, el("span", { class: "number", text: "…" }), el("span", { class: "unit", text: unitLabel(metric.unit) })),
        el("div", { class: "note" })),
    );
  }
  const charts = $("charts");
  charts.replaceChildren();
  for (const name of state.tiles) {
    const metric = metricOf(name);
    charts.append(
      el("div", { class: "panel", "data-testid": `panel-${name}`, "data-state": "loading" },
        el("h3", { text: `${metric.title} (${unitLabel(metric.unit)})`, title: metric.description }),
        el("div", { class: "chart", "data-testid": `chart-${name}`, "data-points": "0", "data-series": "0" })),
    );
  }
  const lake = $("lake");
  lake.replaceChildren();
  for (const panel of state.lakePanels) {
    lake.append(
      el("div", { class: "panel", "data-testid": `lake-${panel.query}`, "data-state": "loading", "data-rows": "0" },
        el("h3", { text: lakeTitle(panel) }),
        el("div", { class: "chart", "data-testid": `lake-chart-${panel.query}` })),
    );
  }
}

function lakeTitle(panel) {
  if (panel.kind === "bar") return `${metricOf("watch_time").title} by ${panel.by} (${metricOf("watch_time").unit}) · labels: sessions`;
  const metrics = panel.ys.map(metricOf);
  const unit = unitLabel(metrics[0].unit);
  return `${metrics.map((m) => m.title).join(" · ")} by day (${unit})`;
}

function fillSelect(select, values, chosen, allLabel) {
  const options = [el("option", { value: "", text: allLabel })];
  const all = chosen && !values.includes(chosen) ? [...values, chosen] : values;
  for (const value of all) options.push(el("option", { value, text: value }));
  select.replaceChildren(...options);
  select.value = chosen;
}

// -- refreshing ---------------------------------------------------------------------------------

async function refreshDimensions() {
  const dims = await getJSON("/api/dimensions");
  fillSelect($("platform"), dims.platforms, state.platform, "All platforms");
  fillSelect($("channel"), dims.channels, state.channel, "All channels");
}

async function refreshTiles() {
  const tiles = $("tiles");
  const key = filterKey();
  try {
    const summary = await getJSON("/api/realtime/summary", filters(new URLSearchParams()));
    const window_ = summary.window;
    const newest = summary.newest_window;
    let caption = "";
    if (window_) {
      caption = window_.final
        ? `window ${utcTime(window_.start)}–${utcTime(window_.end)} UTC, the newest closed one`
        : `window ${utcTime(window_.start)}–${utcTime(window_.end)} UTC · open: provisional values`;
      if (window_.final && newest && newest.start !== window_.start) {
        caption += ` · the open window from ${utcTime(newest.start)} is in the charts`;
      }
    }
    $("tiles-window").textContent = caption;
    tiles.dataset.windowStart = window_ ? String(window_.start) : "";
    for (const name of state.tiles) {
      const tile = tiles.querySelector(`[data-testid="tile-${name}"]`);
      const value = summary.values[name];
      const number = typeof value === "number" ? value : null;
      tile.dataset.value = number === null ? "" : String(number);
      tile.dataset.final = window_ ? String(window_.final) : "";
      tile.querySelector(".number").textContent = formatNumber(number, metricOf(name).unit);
      tile.dataset.revision = window_ ? String(window_.revision || 0) : "";
      tile.querySelector(".note").textContent = !window_
        ? "no window yet"
        : !window_.final
          ? "provisional"
          : window_.revision
            ? `final · revised ×${window_.revision}`
            : "final";
    }
    tiles.dataset.filter = key;
    tiles.dataset.state = summary.empty ? "empty" : "ready";
    tiles.title = summary.message || "";
    if (summary.empty) $("tiles-window").textContent = summary.message;
    return summary;
  } catch (error) {
    for (const tile of tiles.querySelectorAll(".tile")) {
      tile.dataset.value = "";
      tile.dataset.final = "";
      tile.querySelector(".number").textContent = "—";
      tile.querySelector(".note").textContent = "";
    }
    tiles.dataset.filter = key;
    tiles.dataset.state = "error";
    $("tiles-window").textContent = error.message;
    throw error;
  }
}

async function refreshChart(name, from, to) {
  const panel = document.querySelector(`[data-testid="panel-${name}"]`);
  const chart = panel.querySelector(".chart");
  const params = filters(new URLSearchParams({ metric: name, from: String(Math.floor(from)), to: String(Math.ceil(to)) }));
  if (!state.platform && !state.channel && state.by !== "all") params.set("by", state.by);
  const key = filterKey();
  try {
    const reply = await getJSON("/api/realtime", params);
    panel.dataset.filter = key;
    const points = reply.series.reduce((n, s) => n + s.points.length, 0);
    chart.dataset.points = String(points);
    chart.dataset.series = String(reply.series.length);
    if (reply.empty) {
      panelMessage(panel, "empty", reply.message);
      return;
    }
    panelReady(panel);
    const traces = reply.series.map((s, i) => ({
      type: "scatter",
      mode: "lines+markers",
      name: s.label,
      x: s.points.map((p) => plotTime(p.window_start)),
      y: s.points.map((p) => p.value),
      line: { width: 2, color: PALETTE[i % PALETTE.length] },
      // Open windows hollow, revised ones (records came after they closed) as diamonds.
      marker: {
        size: s.points.map((p) => (p.revision ? 9 : 6)),
        symbol: s.points.map((p) => (!p.final ? "circle-open" : p.revision ? "diamond" : "circle")),
      },
      customdata: s.points.map((p) => (p.revision ? ` · revised ×${p.revision}` : p.final ? "" : " · open")),
      hovertemplate: `%{x|%H:%M:%S} UTC%{customdata}<br>${s.label}: %{y:.3~f} ${reply.metric.unit}<extra></extra>`,
    }));
    plot(chart, traces, { xaxis: { gridcolor: "#eef1f6", type: "date", tickformat: "%H:%M" } });
  } catch (error) {
    panel.dataset.filter = key;
    chart.dataset.points = "0";
    panelMessage(panel, "error", error.message);
    throw error;
  }
}

async function refreshLake(panelSpec, fromDay, toDay) {
  const panel = document.querySelector(`[data-testid="lake-${panelSpec.query}"]`);
  const chart = panel.querySelector(".chart");
  // A bar panel shows the top groups (the API's rows come best first); a trend every day.
  const limit = panelSpec.kind === "bar" ? String(LAKE_TOP) : "1000";
  const params = filters(new URLSearchParams({ from: fromDay, to: toDay, limit }));
  try {
    const reply = await getJSON(`/api/lake/${panelSpec.query}`, params);
    panel.dataset.rows = String(reply.rows.length);
    if (reply.empty) {
      panelMessage(panel, "empty", reply.message);
      return;
    }
    panelReady(panel);
    let traces;
    if (panelSpec.kind === "bar") {
      // Horizontal bars, best at the top: a long group name gets a line of its own (cut to
      // LABEL_CHARS, the whole name in the hover), never a slanted, overlapping x label.
      const names = reply.rows.map((r) => String(r[panelSpec.x] ?? "(none)"));
      traces = [{
        type: "bar",
        orientation: "h",
        y: shortLabels(names),
        x: reply.rows.map((r) => r[panelSpec.y]),
        customdata: names,
        text: reply.rows.map((r) => String(r[panelSpec.text])),
        textposition: "auto",
        marker: { color: "#2563eb" },
        hovertemplate: `%{customdata}: %{x:.1f} min, %{text} sessions<extra></extra>`,
      }];
      panel.dataset.shown = String(reply.rows.length);
      panel.dataset.total = String(reply.total);
      plot(chart, traces, {
        margin: { l: 8, r: 12, t: 8, b: 30 },
        xaxis: { gridcolor: "#eef1f6", rangemode: "tozero" },
        yaxis: { type: "category", autorange: "reversed", automargin: true, tickfont: { size: 10 } },
        bargap: reply.rows.length < 3 ? 0.6 : 0.25,
      });
      return;
    } else {
      traces = panelSpec.ys.map((column, i) => {
        const metric = metricOf(reply.metric_columns[column] || column);
        return {
          type: "bar",
          name: metric.title,
          x: reply.rows.map((r) => shortDay(r[panelSpec.x])),
          y: reply.rows.map((r) => r[column]),
          marker: { color: PALETTE[i % PALETTE.length] },
          hovertemplate: `%{x}<br>${metric.title}: %{y:.3~f} ${metric.unit}<extra></extra>`,
        };
      });
    }
    plot(chart, traces, {
      xaxis: { gridcolor: "#eef1f6", type: "category", tickangle: 0 },
      barmode: "group",
      bargap: reply.rows.length < 3 ? 0.6 : 0.25,
    });
  } catch (error) {
    panel.dataset.rows = "0";
    panelMessage(panel, "error", error.message);
    throw error;
  }
}

function outcome(session) {
  if (session.fatal_error) return el("span", { class: "badge bad", text: "failed" });
  if (!session.played && session.ended) return el("span", { class: "badge warn", text: "left before start" });
  if (session.played && !session.ended) return el("span", { class: "badge good", text: "watching" });
  if (session.played) return el("span", { class: "badge", text: "ended" });
  return el("span", { class: "badge", text: "starting" });
}

// A list panel's rows and state: `reply.empty` and its message, or the error that stopped it.
function fillTable(table, empty, rows, reply) {
  table.querySelector("tbody").replaceChildren(...rows);
  table.dataset.state = reply.error ? "error" : reply.empty ? "empty" : "ready";
  table.dataset.rows = String(rows.length);
  empty.hidden = !reply.error && !reply.empty;
  empty.textContent = reply.error ? reply.error.message : reply.message || "";
}

const OUTCOME_BADGES = {
  played: ["good", "played"],
  abandoned: ["", "abandoned"],
  exit_before_start: ["warn", "exit before start"],
  start_failure: ["bad", "start failure"],
  playback_failure: ["bad", "playback failure"],
};

function viewOutcome(view) {
  const [kind, text] = OUTCOME_BADGES[view.outcome] || ["", view.outcome];
  return el("span", { class: `badge ${kind}`.trim(), text });
}

async function refreshViews(from, to) {
  const table = $("views-table");
  const empty = $("views-empty");
  const params = filters(new URLSearchParams({ from: String(Math.floor(from)), to: String(Math.ceil(to)), limit: "50", order: "worst" }));
  const seconds = (ms) => (ms === null || ms === undefined ? "" : `${(ms / 1000).toFixed(1)} s`);
  try {
    const reply = await getJSON("/api/views", params);
    $("views-caption").textContent = reply.empty
      ? ""
      : `${reply.views.length} of ${reply.total} views closed in range, lowest experience score first · click one for its timeline`;
    const rows = reply.views.map((v) => {
      const row = el("tr", { "data-testid": "view-row", "data-view-id": v.view_id },
        el("td", { text: utcTime(v.event_time) }),
        el("td", { text: v.client_platform ?? "" }),
        el("td", { text: v.channel_watched ?? "" }),
        el("td", {}, viewOutcome(v)),
        el("td", { text: v.score === null || v.score === undefined ? "–" : v.score.toFixed(0) }),
        el("td", { text: seconds(v.startup_latency_ms) }),
        el("td", { text: seconds(v.playing_time_ms) }),
        el("td", { text: String(v.buffering_count ?? 0) }));
      row.addEventListener("click", async () => {
        for (const other of document.querySelectorAll('[data-testid="view-row"].selected')) other.classList.remove("selected");
        row.classList.add("selected");
        state.session = { id: v.session_id, first: v.view_start, last: v.view_end, viewId: v.view_id };
        $("timeline").scrollIntoView({ behavior: "smooth", block: "nearest" });
        await loadTimeline();
      });
      return row;
    });
    fillTable(table, empty, rows, reply);
  } catch (error) {
    fillTable(table, empty, [], { error });
    throw error;
  }
}

async function refreshSessions(from, to) {
  const table = $("sessions-table");
  const empty = $("sessions-empty");
  const params = filters(new URLSearchParams({ from: String(Math.floor(from)), to: String(Math.ceil(to)), limit: "50" }));
  try {
    const reply = await getJSON("/api/sessions", params);
    $("sessions-caption").textContent = reply.empty
      ? ""
      : `${reply.sessions.length} newest of ${reply.total} sessions in range · click one for its timeline`
        + (reply.tail_truncated ? " · the lake writer is behind: only the newest log records were read" : "");
    const rows = reply.sessions.map((s) => {
      const row = el("tr", { "data-testid": "session-row", "data-session-id": s.session_id },
        el("td", { title: s.session_id }, el("code", { class: "cut id", text: s.session_id })),
        el("td", {}, el("span", { class: "cut", text: s.client_platform ?? "" })),
        el("td", { title: s.channel_watched ?? "" }, el("span", { class: "cut", text: s.channel_watched ?? "" })),
        el("td", { text: utcTime(s.last_event_ms) }),
        el("td", { text: String(s.events) }),
        el("td", {}, outcome(s)));
      if (state.session && state.session.id === s.session_id) row.classList.add("selected");
      row.addEventListener("click", () => selectSession(s, row));
      return row;
    });
    fillTable(table, empty, rows, reply);
  } catch (error) {
    fillTable(table, empty, [], { error });
    throw error;
  }
}

function eventDetails(e) {
  const s = (ms) => (ms === undefined ? "?" : `${(ms / 1000).toFixed(2)} s`);
  switch (e.metric_type) {
    case "PLAY": return `startup ${s(e.startup_latency_ms)}`;
    case "PLAYBACK_SUMMARY": {
      const parts = [`played ${s(e.playing_time_ms)}`, `stalled ${s(e.buffering_time_ms)} (${e.buffering_count ?? 0}×)`];
      if (e.rendition_name) parts.push(e.rendition_name);
      if (e.live_latency_ms !== undefined) parts.push(`latency ${s(e.live_latency_ms)}`);
      if (e.error_count) parts.push(`${e.error_count} error(s)`);
      return parts.join(", ");
    }
    case "QUALITY_CHANGED": return `${e.from_rendition_name ?? "?"} → ${e.to_rendition_name ?? "?"} (${e.step_direction ?? ""})`;
    case "ERROR": return `${e.error_code ?? "error"}${e.fatal ? ", fatal" : ""}${e.phase ? ` in ${e.phase}` : ""}`;
    case "STOP": return e.exit_before_start ? "left before the first frame" : "stopped";
    default: return "";
  }
}

async function selectSession(session, row) {
  state.session = { id: session.session_id, first: session.first_event_ms, last: session.last_event_ms, viewId: null };
  for (const other of document.querySelectorAll('[data-testid="session-row"].selected')) other.classList.remove("selected");
  if (row) row.classList.add("selected");
  await loadTimeline();
}

async function loadTimeline() {
  const panel = $("timeline");
  const { id, viewId } = state.session;
  panel.dataset.state = "loading";
  panel.dataset.sessionId = id;
  panel.dataset.viewId = viewId ?? "";
  $("timeline-title").textContent = viewId ? `View ${viewId}` : `Session ${id}`;
  state.session.events = [];
  state.session.nextOffset = 0;
  await loadTimelinePage();
}

// One page of the selected session's (or view's) events, added to those shown; the "more"
// button asks for the next page while the reply has one.
async function loadTimelinePage() {
  const panel = $("timeline");
  const chart = $("timeline-chart");
  const tbody = $("timeline-table").querySelector("tbody");
  const more = $("timeline-more");
  const session = state.session;
  const { id, first, last, viewId } = session;
  // The session may have begun before the listed range: look a few hours back.
  const page = { limit: String(TIMELINE_PAGE), offset: String(session.nextOffset) };
  const params = viewId
    ? new URLSearchParams(page)
    : new URLSearchParams({ from: String(Math.max(0, first - 3 * 3600e3)), to: String(last + 3600e3), ...page });
  more.disabled = true;
  try {
    const reply = viewId
      ? await getJSON(`/api/views/${encodeURIComponent(viewId)}`, params)
      : await getJSON(`/api/sessions/${encodeURIComponent(id)}`, params);
    if (state.session !== session) return;  // another session was picked meanwhile
    session.events = session.events.concat(reply.events);
    session.nextOffset = reply.next_offset;
    const events = session.events;
    panel.dataset.events = String(events.length);
    panel.dataset.total = String(reply.total);
    const about = viewId ? reply.view : (events[0] ?? reply);
    const score = viewId && reply.view.score !== null ? ` · score ${reply.view.score.toFixed(0)}` : "";
    const counted = events.length < reply.total ? `${events.length} of ${reply.total} events` : `${reply.total} events`;
    $("timeline-title").textContent = (viewId ? `View of session ${id} · ${OUTCOME_BADGES[reply.view.outcome]?.[1] ?? reply.view.outcome}${score}` : `Session ${id}`)
      + ` · ${about.client_platform ?? "?"} · ${about.channel_watched ?? "?"} · ${counted}`;
    panelReady(panel);
    $("timeline-empty").hidden = true;
    more.hidden = reply.next_offset === null;
    more.textContent = `Next ${Math.min(TIMELINE_PAGE, reply.total - events.length)} events`;
    const byType = new Map();
    for (const e of events) {
      if (!byType.has(e.metric_type)) byType.set(e.metric_type, []);
      byType.get(e.metric_type).push(e);
    }
    const traces = [...byType.entries()].map(([type, typed]) => ({
      type: "scatter",
      mode: "markers",
      name: type,
      x: typed.map((e) => plotTime(e.event_time)),
      y: typed.map(() => type),
      text: typed.map((e) => `${eventDetails(e)} (${e.source})`),
      marker: { size: 11, color: EVENT_COLORS[type] || "#334155", symbol: type === "ERROR" ? "x" : "circle" },
      hovertemplate: `%{x|%H:%M:%S.%L} UTC<br>${type}<br>%{text}<extra></extra>`,
    }));
    const order = [...EVENT_TYPES, ...[...byType.keys()].filter((t) => !EVENT_TYPES.includes(t))];
    plot(chart, traces, {
      showlegend: false,
      margin: { l: 130, r: 12, t: 8, b: 36 },
      xaxis: { gridcolor: "#eef1f6", type: "date", tickformat: "%H:%M:%S" },
      yaxis: { type: "category", categoryorder: "array", categoryarray: order.filter((t) => byType.has(t)), gridcolor: "#eef1f6" },
    });
    const rows = reply.events.map((e) => el("tr", { "data-testid": "timeline-event", "data-event-id": e.event_id },
      el("td", { text: utcTime(e.event_time) }),
      el("td", {}, el("span", { class: "badge", text: e.metric_type })),
      el("td", { class: "details", text: eventDetails(e) }),
      el("td", { class: "details", text: e.source })));
    if (events.length === reply.events.length) tbody.replaceChildren(...rows);  // the first page
    else tbody.append(...rows);
  } catch (error) {
    if (state.session !== session) return;
    more.hidden = true;
    if (session.events.length === 0) {
      tbody.replaceChildren();
      panel.dataset.events = "0";
      panelMessage(panel, "error", error.message);
      $("timeline-empty").hidden = false;
      $("timeline-empty").textContent = error.message;
    } else {
      showErrors([error.message]);
    }
  } finally {
    more.disabled = false;
  }
}

async function refresh() {
  if (state.running) {
    state.again = true;
    return state.running;
  }
  state.running = (async () => {
    const [from, to] = timeRange();
    const tasks = [
      refreshDimensions(),
      refreshTiles(),
      ...state.tiles.map((name) => refreshChart(name, from, to)),
      // Popularity follows the range's days; daily trends show at least the last 7 days.
      ...state.lakePanels.map((panel) => refreshLake(
        panel,
        panel.kind === "trend" ? utcDay(Math.min(from, to - 6 * 86400e3)) : utcDay(from),
        utcDay(to),
      )),
      refreshSessions(from, to),
      refreshViews(from, to),
    ];
    const results = await Promise.allSettled(tasks);
    showErrors(results.filter((r) => r.status === "rejected").map((r) => r.reason.message));
    const status = $("status");
    status.textContent = `Updated ${utcTime(Date.now())} UTC · ${utcTime(from)}–${utcTime(to)} UTC`;
    status.classList.toggle("live", state.auto);
    document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || "0") + 1);
  })();
  try {
    await state.running;
  } finally {
    state.running = null;
  }
  if (state.again) {
    state.again = false;
    await refresh();
  }
}

// Auto-refresh: every 5 s, or every second while the tiles wait for the first window (a stack
// that just started), so the first numbers show as soon as the engine writes them.
function schedule() {
  clearTimeout(state.timer);
  state.timer = null;
  if (!state.auto) return;
  const waiting = ["loading", "empty"].includes($("tiles").dataset.state);
  state.timer = setTimeout(async () => {
    try {
      await refresh();
    } finally {
      schedule();
    }
  }, waiting ? WAITING_MS : REFRESH_MS);
}

// -- controls -----------------------------------------------------------------------------------

function toLocalInput(ms) { return new Date(ms).toISOString().slice(0, 19); }
function fromLocalInput(text) {
  if (!text) return null;
  const ms = Date.parse(`${text.length === 16 ? `${text}:00` : text}Z`);
  return Number.isFinite(ms) ? ms : null;
}

function bindControls() {
  $("range").value = state.range;
  $("split").value = state.by;
  $("auto").checked = state.auto;
  $("custom-range").hidden = state.range !== "custom";
  document.querySelector(".controls").addEventListener("submit", (event) => event.preventDefault());
  $("timeline-more").addEventListener("click", () => {
    if (state.session && state.session.nextOffset !== null) loadTimelinePage();
  });
  $("range").addEventListener("change", () => {
    state.range = $("range").value;
    $("custom-range").hidden = state.range !== "custom";
    if (state.range === "custom") {
      const [from, to] = state.customFrom !== null ? [state.customFrom, state.customTo] : timeRange();
      $("range-from").value = toLocalInput(from);
      $("range-to").value = toLocalInput(to);
      return;  // applied with the button
    }
    saveToUrl();
    refresh();
  });
  if (state.range === "custom") {
    $("range-from").value = toLocalInput(state.customFrom);
    $("range-to").value = toLocalInput(state.customTo);
  }
  $("range-apply").addEventListener("click", () => {
    const from = fromLocalInput($("range-from").value);
    const to = fromLocalInput($("range-to").value);
    if (from === null || to === null) {
      showErrors(["give both ends of the custom range"]);
      return;
    }
    if (from >= to) {
      showErrors([`the custom range is reversed: from ${$("range-from").value} is not before ${$("range-to").value}`]);
      return;
    }
    state.customFrom = from;
    state.customTo = to;
    saveToUrl();
    refresh();
  });
  for (const [id, key] of [["platform", "platform"], ["channel", "channel"], ["split", "by"]]) {
    $(id).addEventListener("change", () => {
      state[key] = $(id).value;
      saveToUrl();
      refresh();
    });
  }
  $("auto").addEventListener("change", () => {
    state.auto = $("auto").checked;
    schedule();
    $("status").classList.toggle("live", state.auto);
  });
  $("refresh").addEventListener("click", () => refresh());
}

async function start() {
  loadFromUrl();
  try {
    const [catalogue, layout] = await Promise.all([getJSON("/api/metrics"), getJSON("/api/layout")]);
    for (const metric of catalogue.metrics) state.catalogue.set(metric.name, metric);
    state.tiles = layout.tiles.map((tile) => tile.name);
    state.lakePanels = layout.lake_panels;
  } catch (error) {
    showErrors([error.message]);
    $("status").textContent = "cannot reach the dashboard API";
    return;
  }
  buildPanels();
  bindControls();
  await refresh();
  schedule();
}

// plotly.js is a classic deferred script: it has run before this module (modules are deferred too,
// and run in document order).
start();
