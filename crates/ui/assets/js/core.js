// Shared by every page: the API client (everything goes through the UI gateway, /ui/api/…,
// to the same routes the official clients call), the time range, URL state, DOM helpers and
// formatting.

export const boot = JSON.parse(document.getElementById('boot')?.textContent || '{}');
export const page = document.getElementById('page');

const TOKEN_KEY = 'waggle.token';

/** A failed API call: status and the server's own message. */
export class ApiError extends Error {
  constructor(status, message, body) { super(message); this.status = status; this.body = body; }
}

/** fetch through the UI gateway; JSON in and out unless `raw`. */
export async function api(path, { method = 'GET', body, headers = {}, raw = false, signal } = {}) {
  const h = { ...headers };
  const token = sessionStorage.getItem(TOKEN_KEY);
  // Ask before calling rather than after a refusal: no request leaves without the token.
  if (boot.token_required && !token) {
    askToken(null);
    throw new ApiError(401, 'a token is required');
  }
  if (token) h['Authorization'] = 'Bearer ' + token;
  let payload = body;
  if (body !== undefined && typeof body !== 'string') {
    payload = JSON.stringify(body);
    if (!h['Content-Type']) h['Content-Type'] = 'application/json';
  }
  const r = await fetch('/ui/api' + path, { method, headers: h, body: payload, signal });
  if (r.status === 401 || (r.status === 403 && boot.token_required)) {
    askToken(token ? 'That token was refused.' : null);
    throw new ApiError(r.status, 'a token is required');
  }
  if (raw) return r;
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) {
    const msg = (data && (data.error || data.message || data.Message || data.err_message)) ||
      (typeof data === 'string' ? data : r.statusText);
    throw new ApiError(r.status, `${r.status}: ${typeof msg === 'string' ? msg : JSON.stringify(msg)}`, data);
  }
  return data;
}

/** A Honeycomb query: create it, run it, return its result (`data`: results and series). */
export async function hcQuery(dataset, spec) {
  const ds = encodeURIComponent(dataset);
  const q = await api(`/1/queries/${ds}`, { method: 'POST', body: spec });
  const r = await api(`/1/query_results/${ds}`, { method: 'POST', body: { query_id: q.id } });
  let res = r;
  for (let i = 0; !res.complete && i < 50; i++) {
    await new Promise(ok => setTimeout(ok, 100));
    res = await api(`/1/query_results/${ds}/${r.id}`);
  }
  return res;
}

/** An X-Ray operation (restJson1: POST /<Operation path>). */
export function xray(path, body = {}) {
  return api('/' + path.replace(/^\//, ''), { method: 'POST', body });
}

/** A CloudWatch Logs operation (awsJson1_1: POST / with X-Amz-Target). */
export function logs(operation, body = {}) {
  return api('/', {
    method: 'POST', body: JSON.stringify(body),
    headers: { 'X-Amz-Target': 'Logs_20140328.' + operation, 'Content-Type': 'application/x-amz-json-1.1' },
  });
}

/** Rollbar's read/write API; `project` picks one when several are configured. */
export function rollbar(path, opts = {}) {
  const headers = { 'X-Rollbar-Access-Token': 'waggle-ui', ...(opts.headers || {}) };
  const project = getParam('project');
  if (project) headers['X-Waggle-Project'] = project;
  return api('/api/1/' + path.replace(/^\//, ''), { ...opts, headers }).then(r => {
    if (r && r.err) throw new ApiError(400, r.message || 'Rollbar error', r);
    return r ? r.result : r;
  });
}

export function askToken(why) {
  if (document.getElementById('token-form')) return;
  page.replaceChildren(el('form', { id: 'token-form', class: 'card token-dialog', onsubmit: e => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, e.target.token.value.trim());
    location.reload();
  } },
  el('h3', {}, 'This Waggle needs a token'),
  el('p', { class: 'muted' }, why || 'Enter one of the API keys Waggle was started with (--api-key).'),
  el('div', { class: 'row' },
    el('input', { name: 'token', type: 'password', autocomplete: 'current-password', class: 'grow', 'aria-label': 'API key', required: true }),
    el('button', { class: 'primary', type: 'submit' }, 'Continue'))));
  page.querySelector('input')?.focus();
}

// ---- DOM ---------------------------------------------------------------------------------

/** el('div', {class: 'x', onclick: f}, child, 'text', [more]) */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'style' && typeof v === 'object') {
      for (const [p, x] of Object.entries(v)) {
        if (p.startsWith('--')) e.style.setProperty(p, x); else e.style[p] = x;
      }
    }
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the page's content. */
export function show(...children) {
  page.replaceChildren();
  append(page, children);
}

/** A visible error in place of (or inside) a container. */
export function errorBox(err, where = page) {
  // The token form stays up while a token is missing (every call fails until then).
  if (document.getElementById('token-form')) return null;
  const box = el('div', { class: 'notice error', role: 'alert' }, String(err && err.message || err));
  if (where === page) page.replaceChildren(box); else where.replaceChildren(box);
  return box;
}

/** A table: columns [{label, value: row => text|Node, num}], rows, onclick(row). */
export function table(columns, rows, { onclick, empty = 'Nothing to show.', rowClass } = {}) {
  if (!rows.length) return el('div', { class: 'empty' }, empty);
  return el('div', { class: 'table-wrap' }, el('table', {},
    el('thead', {}, el('tr', {}, columns.map(c => el('th', { class: c.num ? 'num' : '' }, c.label)))),
    el('tbody', {}, rows.map(r => el('tr', {
      class: [onclick ? 'clickable' : '', rowClass ? rowClass(r) : ''].join(' ').trim(),
      tabindex: onclick ? 0 : undefined,
      onclick: onclick ? () => onclick(r) : undefined,
      onkeydown: onclick ? e => { if (e.key === 'Enter') onclick(r); } : undefined,
    }, columns.map(c => el('td', { class: c.num ? 'num' : '' }, c.value(r))))))));
}

export function kv(obj) {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined && v !== null && v !== '');
  if (!entries.length) return el('p', { class: 'muted' }, 'none');
  return el('dl', { class: 'kv' }, entries.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [
    el('dt', {}, k), el('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))]));
}

export function tabs(names, selected, onselect) {
  return el('div', { class: 'tabs', role: 'tablist' }, names.map(n => el('button', {
    role: 'tab', type: 'button', 'aria-selected': String(n === selected), onclick: () => onselect(n),
  }, n)));
}

// ---- URL state ---------------------------------------------------------------------------

export function getParam(name, fallback = null) {
  const v = new URLSearchParams(location.search).get(name);
  return v === null ? fallback : v;
}

/** Puts `params` (null removes) into the URL; `push` makes a history entry (Back returns). */
export function setParams(params, push = true) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') u.searchParams.delete(k);
    else u.searchParams.set(k, typeof v === 'string' ? v : JSON.stringify(v));
  }
  if (u.href === location.href) return;
  if (push) history.pushState(null, '', u); else history.replaceState(null, '', u);
}

// ---- time range --------------------------------------------------------------------------

export const RELATIVE = [['15m', 900], ['1h', 3600], ['6h', 21600], ['24h', 86400], ['7d', 604800]];

/** The page's time range in epoch seconds: `?range=1h` or `?start=…&end=…` (default 1 h). */
export function timeRange() {
  const start = Number(getParam('start')), end = Number(getParam('end'));
  if (start > 0 && end > start) return { start, end, label: 'custom', absolute: true };
  const label = getParam('range', '1h');
  const secs = (RELATIVE.find(([l]) => l === label) || RELATIVE[1])[1];
  const now = Math.floor(Date.now() / 1000);
  return { start: now - secs, end: now, seconds: secs, label, absolute: false };
}

/** A Honeycomb time window for the current range: {time_range} or {start_time,end_time}. */
export function hcWindow() {
  const r = timeRange();
  return r.absolute ? { start_time: r.start, end_time: r.end } : { time_range: r.seconds };
}

/** Granularity (seconds) for about `points` buckets over the range. */
export function granularity(points = 60) {
  const r = timeRange();
  return Math.max(1, Math.ceil((r.end - r.start) / points));
}

function toLocalInput(s) {
  const d = new Date(s * 1000);
  const p = n => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The range picker in the header; `onchange` reruns the page. */
export function rangePicker(onchange) {
  const slot = document.getElementById('top-tools');
  const r = timeRange();
  const sel = el('select', { 'aria-label': 'Time range', id: 'range-select' },
    RELATIVE.map(([l]) => el('option', { value: l, selected: !r.absolute && r.label === l }, 'Last ' + l)),
    el('option', { value: 'custom', selected: r.absolute }, 'Custom…'));
  const from = el('input', { type: 'datetime-local', 'aria-label': 'From', value: toLocalInput(r.start) });
  const to = el('input', { type: 'datetime-local', 'aria-label': 'To', value: toLocalInput(r.end) });
  const apply = el('button', { type: 'button' }, 'Apply');
  const custom = el('span', { class: 'range', hidden: !r.absolute }, from, '–', to, apply);
  sel.addEventListener('change', () => {
    if (sel.value === 'custom') { custom.hidden = false; return; }
    custom.hidden = true;
    setParams({ range: sel.value, start: null, end: null });
    onchange();
  });
  apply.addEventListener('click', () => {
    const s = Math.floor(new Date(from.value).getTime() / 1000), e = Math.floor(new Date(to.value).getTime() / 1000);
    if (s > 0 && e > s) { setParams({ start: s, end: e, range: null }); onchange(); }
  });
  slot.replaceChildren(el('div', { class: 'range' }, sel, custom));
}

// ---- formatting --------------------------------------------------------------------------

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1) return (ms * 1000).toFixed(0) + ' µs';
  if (ms < 1000) return (ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)) + ' ms';
  if (ms < 60000) return (ms / 1000).toFixed(2) + ' s';
  return (ms / 60000).toFixed(1) + ' min';
}

export function fmtNum(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  if (Math.abs(n) >= 1e9) return (n / 1e9).toFixed(1) + 'G';
  if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + 'M';
  if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

export function fmtPct(x) { return x === null || x === undefined ? '–' : (x * 100).toFixed(x < 0.1 ? 2 : 1) + '%'; }

/** Local date-time of epoch seconds (or ms when `ms`). */
export function fmtTime(t, ms = false) {
  if (t === null || t === undefined) return '–';
  const d = new Date(ms ? t : t * 1000);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function fmtAgo(epochSeconds) {
  const s = Math.max(0, Date.now() / 1000 - epochSeconds);
  if (s < 60) return Math.floor(s) + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

/** A stable colour per name (services, groups). */
export function colorFor(name, i) {
  let h = 0;
  const s = String(name);
  for (let k = 0; k < s.length; k++) h = (h * 31 + s.charCodeAt(k)) >>> 0;
  return `var(--c${(i ?? h) % 10})`;
}

/** The computed value of a CSS colour expression (canvas needs real colours). */
export function cssColor(expr) {
  const probe = cssColor.probe || (cssColor.probe = document.body.appendChild(el('span', { hidden: true })));
  probe.style.color = expr;
  return getComputedStyle(probe).color;
}

/** Re-runs `render` on Back/Forward. */
export function onNavigate(render) { window.addEventListener('popstate', render); }

/** Links to other pages, in one place. */
export const links = {
  trace: (id, span) => `/ui/trace/${encodeURIComponent(id)}${span ? '?span=' + encodeURIComponent(span) : ''}`,
  /** Two traces side by side: the trace page of `a` with `?compare=b` (no page of its own). */
  compare: (a, b) => `/ui/trace/${encodeURIComponent(a)}?compare=${encodeURIComponent(b)}`,
  item: counter => `/ui/item/${encodeURIComponent(counter)}`,
  query: q => `/ui/query?${new URLSearchParams(q)}`,
  logs: params => `/ui/logs?${new URLSearchParams(params)}`,
  traces: params => `/ui/traces?${new URLSearchParams(params)}`,
};
