// One error item, Rollbar style: header (level, title, status and its actions, counts, first
// and last seen, environment, framework), occurrences over the range with deploys marked, the
// occurrence list, and the selected occurrence: traceback, request, person, server, custom
// data and the trace it belongs to.

import { boot, rollbar, timeRange, rangePicker, getParam, setParams, onNavigate, el, show,
  errorBox, kv, fmtNum, fmtTime, fmtAgo, links } from './core.js';
import { ITEM_KEY, dataset, levelBadge, statusBadge, statusActions, deploysInRange, deployLabel,
  occurrenceCounts } from './errors.js';

/** Items pages read to find a counter (our bound: 5,000 items, 100 a page). */
const ITEM_PAGES_MAX = 50;
/** `item/<id>/instances` pages are 20 occurrences, newest first (api.rs INSTANCES_PAGE_SIZE). */
const INSTANCES_PAGE = 20;

const counter = Number(boot.id);
let generation = 0;

/**
 * The item with this counter, from the items list. Not `item_by_counter/<n>`: its answer is a
 * 301 whose Location is the bare API path (`/api/1/item/<id>?access_token=`), outside the UI
 * gateway, so following it drops the UI's grant and comes back 401.
 */
async function findItem(n) {
  for (let page = 1; page <= ITEM_PAGES_MAX; page++) {
    const items = (await rollbar(`items?page=${page}`)).items || [];
    const hit = items.find(i => i.counter === n);
    if (hit) return hit;
    if (items.length < 100) return null;
  }
  return null;
}

// ---- trace context --------------------------------------------------------------------------

/** A trace id as the store keeps it (32 lowercase hex), from the forms model::TraceId parses. */
function traceId(v) {
  if (typeof v !== 'string') return null;
  let t = v.trim().replace(/^0x/i, '');
  const xray = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/i.exec(t);
  if (xray) t = xray[1] + xray[2];
  else if (t.length === 36 && t[8] === '-') t = t.replace(/-/g, '');
  else if (/^[0-9a-f]{16}$/i.test(t)) t = '0'.repeat(16) + t;
  return /^[0-9a-f]{32}$/i.test(t) && /[1-9a-f]/i.test(t) ? t.toLowerCase() : null;
}

function spanId(v) {
  return typeof v === 'string' && /^[0-9a-f]{16}$/i.test(v.trim()) ? v.trim().toLowerCase() : null;
}

function fromMap(m) {
  if (!m || typeof m !== 'object') return null;
  const otel = m.otel && typeof m.otel === 'object' ? m.otel : {};
  const trace = traceId(m.trace_id) || traceId(m.traceId) || traceId(otel.trace_id);
  if (!trace) return null;
  return { trace, span: spanId(m.span_id) || spanId(m.spanId) || spanId(otel.span_id) };
}

/**
 * The trace an occurrence belongs to, in translate.rs `trace_context` order (which is what
 * it stored as `trace.trace_id` / `trace.parent_id`): data.trace_id; custom.trace_id, traceId,
 * otel.trace_id; the same keys beside body.message; a W3C traceparent header; an X-Ray
 * X-Amzn-Trace-Id header.
 */
export function traceOf(d) {
  if (!d) return null;
  const direct = traceId(d.trace_id);
  if (direct) return { trace: direct, span: spanId(d.span_id), source: 'data.trace_id' };
  const custom = fromMap(d.custom);
  if (custom) return { ...custom, source: 'custom' };
  const message = fromMap(d.body?.message);
  if (message) return { ...message, source: 'message extra data' };
  const headers = d.request?.headers || {};
  const header = name => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1];
  const tp = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/i.exec(String(header('traceparent') || '').trim());
  if (tp && traceId(tp[1])) return { trace: traceId(tp[1]), span: spanId(tp[2]), source: 'traceparent header' };
  const amzn = String(header('x-amzn-trace-id') || '');
  const root = /(?:^|;)\s*Root=([^;]+)/.exec(amzn), parent = /(?:^|;)\s*Parent=([^;]+)/.exec(amzn);
  if (root && traceId(root[1])) return { trace: traceId(root[1]), span: parent ? spanId(parent[1]) : null, source: 'X-Amzn-Trace-Id header' };
  return null;
}

// ---- frames ---------------------------------------------------------------------------------

/**
 * In-project rule (ours, after Rollbar's): a frame is the application's own unless its file
 * is installed library or runtime code — under site-packages/, dist-packages/, a Python
 * lib/pythonX.Y/ directory, node_modules/, Cargo's registry, or Rust's /rustc/ sources — or
 * has no filename at all.
 */
const LIBRARY_PATH = /(^|[\\/])(site-packages|dist-packages|node_modules)[\\/]|[\\/]lib[\\/]python\d+(\.\d+)?[\\/]|[\\/]\.cargo[\\/]registry[\\/]|^\/rustc\//;

export function inProject(frame) {
  return Boolean(frame.filename) && !LIBRARY_PATH.test(frame.filename);
}

function codeLines(f) {
  const ctx = f.context || {};
  const pre = Array.isArray(ctx.pre) ? ctx.pre : [], post = Array.isArray(ctx.post) ? ctx.post : [];
  if (!f.code && !pre.length && !post.length) return null;
  const n = Number(f.lineno);
  const line = (text, no, cls) => el('div', { class: 'code-line ' + cls },
    el('span', { class: 'ln', 'aria-hidden': 'true' }, Number.isFinite(no) ? String(no) : ''), el('span', {}, text));
  return el('div', { class: 'code mono' },
    pre.map((t, i) => line(t, n - pre.length + i, 'ctx')),
    f.code ? line(f.code, n, 'hot') : null,
    post.map((t, i) => line(t, n + 1 + i, 'ctx')));
}

function frameItem(f) {
  const file = String(f.filename || '?');
  const cut = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1;
  const own = inProject(f);
  const locals = f.locals && typeof f.locals === 'object' && Object.keys(f.locals).length
    ? el('details', { class: 'locals' }, el('summary', {}, 'locals'), kv(f.locals)) : null;
  return el('li', { class: 'frame' + (own ? ' in-project' : ' library') },
    el('div', { class: 'frame-loc' },
      el('span', { class: 'mono' }, el('span', { class: 'dir' }, file.slice(0, cut)), el('strong', {}, file.slice(cut))),
      el('span', { class: 'mono' }, ':', el('span', { class: 'lineno' }, f.lineno ?? '?')),
      f.colno !== undefined ? el('span', { class: 'mono muted' }, ':' + f.colno) : null,
      ' in ', el('span', { class: 'mono method' }, f.method || '?'),
      own ? el('span', { class: 'badge project-badge' }, 'in project') : null),
    codeLines(f), locals);
}

function exceptionLine(exc) {
  if (!exc) return null;
  return el('div', { class: 'exception' },
    el('strong', { class: 'exc-class' }, exc.class || 'Exception'),
    exc.message ? [': ', el('span', { class: 'exc-message' }, exc.message)] : null,
    exc.description ? el('div', { class: 'muted' }, exc.description) : null);
}

/** One trace: frames oldest first, as Python prints "most recent call last". */
function traceBlock(t) {
  const frames = Array.isArray(t.frames) ? t.frames : [];
  return el('div', { class: 'trace-block' },
    frames.length
      ? el('ol', { class: 'frames' }, frames.map(frameItem))
      : el('p', { class: 'muted no-frames' }, 'The client sent no stack frames for this exception.'),
    exceptionLine(t.exception));
}

/** The body: a trace (or chain, root cause first as Python prints it), a message or a crash report. */
function bodySection(body) {
  const chain = Array.isArray(body?.trace_chain) ? body.trace_chain : body?.trace ? [body.trace] : [];
  if (chain.length) {
    const blocks = chain.slice().reverse().flatMap((t, i) => [
      i ? el('p', { class: 'chain-sep muted' }, 'During handling of the above exception, another exception occurred:') : null,
      traceBlock(t)]);
    const frames = chain.flatMap(t => t.frames || []);
    const libs = frames.filter(f => !inProject(f)).length;
    const section = el('section', { id: 'stack-trace', class: 'traceback', 'aria-label': 'Traceback' });
    const toggle = libs ? el('button', { type: 'button', id: 'toggle-library', 'aria-pressed': 'false',
      onclick: e => {
        const hide = e.target.getAttribute('aria-pressed') !== 'true';
        e.target.setAttribute('aria-pressed', String(hide));
        e.target.textContent = hide ? `Show ${libs} library frame${libs === 1 ? '' : 's'}` : 'Hide library frames';
        section.classList.toggle('hide-library', hide);
      } }, 'Hide library frames') : null;
    section.append(el('div', { class: 'row section-head' }, el('h3', {}, 'Traceback'),
      el('span', { class: 'muted' }, frames.length ? 'most recent call last' : ''), el('span', { class: 'grow' }), toggle),
      ...blocks.filter(Boolean));
    return section;
  }
  if (body?.message) {
    const { body: text, ...extra } = body.message;
    return el('section', { id: 'occurrence-message', class: 'traceback' }, el('h3', {}, 'Message'),
      el('pre', { class: 'message-body' }, String(text ?? '')),
      Object.keys(extra).length ? [el('h4', {}, 'Extra data'), kv(extra)] : null);
  }
  if (body?.crash_report) {
    return el('section', { id: 'occurrence-crash', class: 'traceback' }, el('h3', {}, 'Crash report'),
      el('pre', {}, String(body.crash_report.raw ?? JSON.stringify(body.crash_report, null, 2))));
  }
  return el('section', { class: 'traceback' }, el('h3', {}, 'Body'), el('p', { class: 'muted' }, 'This occurrence has no body.'));
}

// ---- occurrence detail -------------------------------------------------------------------------

/** Flat values for kv(): arrays joined (argv reads as a command line), objects as JSON. */
function flat(obj) {
  if (!obj || typeof obj !== 'object') return {};
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, Array.isArray(v) && v.every(x => typeof x !== 'object') ? v.join(' ') : v]));
}

function panel(title, id, ...content) {
  return el('section', { class: 'panel detail-panel', id }, el('h3', {}, title), ...content);
}

function requestPanel(req) {
  if (!req || typeof req !== 'object') return panel('Request', 'occurrence-request', el('p', { class: 'muted' }, 'No request data.'));
  const { headers, GET, POST, body, url, method, ...rest } = req;
  const params = { ...(GET || {}), ...(POST || {}) };
  return panel('Request', 'occurrence-request',
    el('div', { class: 'request-line mono' }, el('strong', {}, method || ''), ' ', url || ''),
    kv(flat(rest)),
    el('h4', {}, 'Headers'), kv(headers || {}),
    Object.keys(params).length ? [el('h4', {}, 'Parameters'), kv(params)] : null,
    body ? [el('h4', {}, 'Body'), el('pre', {}, typeof body === 'string' ? body : JSON.stringify(body, null, 2))] : null);
}

function traceLink(tc) {
  if (!tc) return el('span', { class: 'muted', id: 'item-trace-none' }, 'No trace context in this occurrence');
  return el('a', { id: 'item-trace-link', class: 'trace-link', href: links.trace(tc.trace, tc.span),
    title: `trace ${tc.trace}${tc.span ? ', span ' + tc.span : ''} (from ${tc.source})` },
  'View trace ', el('span', { class: 'mono' }, tc.trace.slice(0, 16) + '…'), ' →');
}

function occurrenceDetail(inst) {
  const d = inst.data || {};
  const tc = traceOf(d);
  const summary = { uuid: d.uuid, level: d.level, environment: d.environment, context: d.context,
    code_version: d.code_version, framework: d.framework, language: d.language, platform: d.platform,
    notifier: d.notifier ? `${d.notifier.name || ''} ${d.notifier.version || ''}`.trim() : undefined,
    trace: tc ? `${tc.trace}${tc.span ? ' / ' + tc.span : ''}` : undefined };
  return [
    el('div', { class: 'row detail-head' },
      el('h2', {}, `Occurrence ${inst.id}`),
      el('span', { class: 'muted', title: fmtTime(inst.timestamp) }, `${fmtTime(inst.timestamp)} · ${fmtAgo(inst.timestamp)}`),
      el('span', { class: 'grow' }), traceLink(tc)),
    bodySection(d.body),
    el('div', { class: 'detail-grid' },
      requestPanel(d.request),
      el('div', {},
        panel('Person', 'occurrence-person', kv(flat(d.person))),
        panel('Server', 'occurrence-server', kv(flat(d.server)))),
      panel('Custom data', 'occurrence-custom', kv(flat(d.custom))),
      panel('Occurrence', 'occurrence-summary', kv(summary))),
    el('details', { class: 'panel raw' }, el('summary', {}, 'Raw JSON'), el('pre', {}, JSON.stringify(inst, null, 2))),
  ];
}

// ---- occurrences list ---------------------------------------------------------------------------

function person(d) {
  const p = d.person;
  if (!p) return '–';
  return p.username || p.email || (p.id !== undefined ? String(p.id) : '–');
}

function occurrencesTable(list, selectedId, onselect) {
  const rows = list.map(inst => {
    const d = inst.data || {};
    const tc = traceOf(d);
    const url = d.request?.url;
    const pick = () => onselect(inst);
    return el('tr', { class: 'occurrence-row' + (inst.id === selectedId ? ' selected' : ''), tabindex: 0,
      'aria-selected': String(inst.id === selectedId), dataset: { id: inst.id },
      onclick: e => { if (!e.target.closest('a')) pick(); },
      onkeydown: e => { if ((e.key === 'Enter' || e.key === ' ') && !e.target.closest('a')) { e.preventDefault(); pick(); } } },
    el('td', { class: 'nowrap', title: fmtTime(inst.timestamp) }, fmtTime(inst.timestamp)),
    el('td', {}, d.environment || '–'),
    el('td', {}, person(d)),
    el('td', { class: 'url mono', title: url || '' }, d.request ? `${d.request.method || ''} ${url || ''}`.trim() : '–'),
    el('td', {}, tc ? el('a', { class: 'mono occ-trace-link', href: links.trace(tc.trace, tc.span) }, tc.trace.slice(0, 12) + '…') : el('span', { class: 'muted' }, '–')));
  });
  return el('div', { class: 'table-wrap occ-wrap' }, el('table', { id: 'occurrences', 'aria-label': 'Occurrences' },
    el('thead', {}, el('tr', {}, ['time', 'environment', 'person', 'request', 'trace'].map(h => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows)));
}

// ---- header ------------------------------------------------------------------------------------

function stat(label, value, title) {
  return el('div', { class: 'stat' }, el('div', { class: 'stat-label' }, label), el('div', { class: 'stat-value', title }, value));
}

function header(item, r) {
  const badge = el('span', {}, statusBadge(item.status, { id: 'item-status' }));
  const msg = el('span', { id: 'item-message', role: 'status' });
  const inRange = el('span', { id: 'item-in-range' }, '…');
  const chart = el('div', { id: 'item-chart' }, el('p', { class: 'muted' }, 'Loading occurrences…'));
  const q = { dataset: dataset(), q: JSON.stringify({ calculations: [{ op: 'COUNT' }], filters: [{ column: ITEM_KEY, op: '=', value: item.id }], breakdowns: ['environment'] }) };
  const box = el('section', { id: 'item-header', class: 'card', dataset: { id: item.id, counter: item.counter } },
    el('div', { class: 'row head-top' },
      levelBadge(item.level),
      el('h2', { class: 'item-title' }, el('span', { class: 'counter' }, '#' + item.counter), ' ', item.title),
      el('span', { class: 'grow' }), badge,
      statusActions(item, {
        onchange: next => { badge.replaceChildren(statusBadge(next.status, { id: 'item-status' })); msg.className = 'muted'; msg.textContent = `Now ${next.status}.`; },
        onerror: e => { msg.className = 'err-text'; msg.textContent = e.message; },
      }), msg),
    el('div', { class: 'stats' },
      stat('Occurrences', fmtNum(item.total_occurrences)),
      stat(r.label === 'custom' ? 'In range' : 'Last ' + r.label, inRange),
      stat('First seen', fmtAgo(item.first_occurrence_timestamp), fmtTime(item.first_occurrence_timestamp)),
      stat('Last seen', fmtAgo(item.last_occurrence_timestamp), fmtTime(item.last_occurrence_timestamp)),
      stat('Environment', item.environment || '–'),
      stat('Framework', item.framework || '–'),
      stat('Platform', item.platform || '–'),
      stat('Language', item.language || '–')),
    chart,
    el('div', { class: 'row links' }, el('a', { href: '/ui/errors' }, '← All items'),
      el('a', { href: links.query(q) }, 'Query these occurrences')));
  return { box, chart, inRange };
}

async function drawChart(item, into, inRange, gen) {
  const r = timeRange();
  const [counts, deploys] = await Promise.all([
    occurrenceCounts([item.id], 60).catch(() => null),
    deploysInRange(r).catch(() => []),
  ]);
  if (gen !== generation) return;
  if (!counts) {
    into.replaceChildren(el('p', { class: 'muted' }, `No occurrence events in dataset "${dataset()}" to chart.`));
    inRange.textContent = '–';
    return;
  }
  const c = counts.get(item.id) || { total: 0, points: [] };
  inRange.textContent = fmtNum(c.total);
  barChart(into, c.points, r, deploys);
}

/** The smallest 1/2/5×10^k at or above `v` (the chart's top). */
function niceMax(v) {
  if (!(v > 0)) return 1;
  const mag = Math.pow(10, Math.floor(Math.log10(v)));
  return [1, 2, 5, 10].map(m => m * mag).find(x => x >= v);
}

/**
 * Occurrences per bucket as bars (Rollbar's item histogram), deploys as dashed lines. SVG at
 * the container's pixel width, so text is not stretched; colours from the theme's CSS.
 */
function barChart(into, points, r, deploys) {
  const ns = 'http://www.w3.org/2000/svg';
  const node = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const W = Math.max(300, into.clientWidth || 800), H = 150, L = 40, R = 8, T = 8, B = 22;
  const top = niceMax(Math.max(0, ...points.map(p => p[1])));
  const g = points.length > 1 ? points[1][0] - points[0][0] : r.end - r.start;
  const X = t => L + (t - r.start) / (r.end - r.start) * (W - L - R);
  const Y = v => H - B - v / top * (H - T - B);
  const svg = node('svg', { class: 'occ-chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img',
    'aria-label': `occurrences per ${g} s over the range; ${points.reduce((a, p) => a + p[1], 0)} in all` });
  for (const v of [0, top / 2, top]) {
    svg.append(node('line', { class: 'grid', x1: L, x2: W - R, y1: Y(v) + 0.5, y2: Y(v) + 0.5 }),
      node('text', { class: 'axis', x: L - 6, y: Y(v) + 4, 'text-anchor': 'end' }, fmtNum(v)));
  }
  for (let i = 0; i <= 6; i++) {
    const t = r.start + (r.end - r.start) * i / 6;
    svg.append(node('text', { class: 'axis', x: X(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 6 ? 'end' : 'middle' },
      new Date(t * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false })));
  }
  for (const [t, v] of points) {
    if (!v) continue;
    const x0 = Math.max(L, X(t)), x1 = Math.min(W - R, X(t + g));
    const bar = node('rect', { class: 'bar', x: x0 + 0.5, y: Y(v), width: Math.max(1, x1 - x0 - 1), height: Y(0) - Y(v) });
    bar.append(node('title', {}, `${fmtTime(t)}: ${v} occurrence${v === 1 ? '' : 's'}`));
    svg.append(bar);
  }
  for (const d of deploys) {
    const x = X(d.start_time) + 0.5;
    const mark = node('g', { class: 'deploy-mark' });
    mark.append(node('line', { x1: x, x2: x, y1: T, y2: H - B }), node('text', { x: x + 3, y: T + 9 }, deployLabel(d)),
      node('title', {}, `deploy ${d.revision} to ${d.environment} at ${fmtTime(d.start_time)}`));
    svg.append(mark);
  }
  into.replaceChildren(svg);
}

// ---- page --------------------------------------------------------------------------------------

async function render() {
  const gen = ++generation;
  rangePicker(render);
  if (!(counter > 0)) { errorBox(`"${boot.id ?? ''}" is not an item counter.`); return; }
  let item;
  try { item = await findItem(counter); } catch (e) { if (gen === generation) errorBox(e); return; }
  if (gen !== generation) return;
  if (!item) {
    show(el('div', { class: 'empty', id: 'item-missing' }, `No item #${counter} in this project. `, el('a', { href: '/ui/errors' }, 'All items')));
    return;
  }
  document.title = `#${item.counter} ${item.title} · Waggle`;
  const r = timeRange();
  const head = header(item, r);
  const list = el('div', { id: 'occurrence-list' }, el('p', { class: 'muted' }, 'Loading…'));
  const detail = el('section', { id: 'occurrence-detail', class: 'card', 'aria-label': 'Selected occurrence' });
  show(head.box, el('div', { class: 'row section-head' }, el('h2', {}, 'Occurrences'), el('span', { class: 'grow' }), el('span', { id: 'occ-pager' })), list, detail);
  drawChart(item, head.chart, head.inRange, gen);
  const opage = Math.max(1, Number(getParam('opage')) || 1);
  let instances;
  try {
    instances = (await rollbar(`item/${item.id}/instances?page=${opage}`)).instances || [];
  } catch (e) { if (gen === generation) { errorBox(e, list); detail.hidden = true; } return; }
  if (gen !== generation) return;
  drawPager(opage, instances.length);
  if (!instances.length) {
    list.replaceChildren(el('div', { class: 'empty' }, opage > 1 ? 'No older occurrences.' : 'No stored occurrences for this item.'));
    detail.hidden = true;
    return;
  }
  const wanted = Number(getParam('occurrence'));
  const selected = instances.find(i => i.id === wanted) || instances[0];
  const select = (inst, push) => {
    list.querySelectorAll('tr.occurrence-row').forEach(tr => {
      const on = Number(tr.dataset.id) === inst.id;
      tr.classList.toggle('selected', on); tr.setAttribute('aria-selected', String(on));
    });
    detail.replaceChildren(...occurrenceDetail(inst));
    if (push) setParams({ occurrence: inst.id });
  };
  list.replaceChildren(occurrencesTable(instances, selected.id, inst => select(inst, true)));
  select(selected, false);
}

function drawPager(opage, n) {
  const go = p => { setParams({ opage: p === 1 ? null : p, occurrence: null }); render(); };
  document.getElementById('occ-pager')?.replaceChildren(el('span', { class: 'row pager' },
    el('button', { type: 'button', disabled: opage <= 1, onclick: () => go(opage - 1) }, '‹ Newer'),
    el('span', { class: 'muted' }, `page ${opage}`),
    el('button', { type: 'button', disabled: n < INSTANCES_PAGE, onclick: () => go(opage + 1) }, 'Older ›')));
}

onNavigate(render);
render();
