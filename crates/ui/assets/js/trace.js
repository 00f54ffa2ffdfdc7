// Trace view: the waterfall of one trace (`/api/traces/<id>`, Tempo's OTLP JSON) with its
// minimap, critical path and in-trace search, the selected span's detail, and the trace's
// log events and error occurrences (trace-related.js) shown on the spans they belong to.
// With `?compare=<id>` the page is the compare view of this trace and that one
// (trace-compare.js); "Compare with…" in the summary gets there.

import { api, boot, el, show, errorBox, getParam, setParams, onNavigate, fmtMs, fmtNum, fmtTime, colorFor, links } from './core.js';
import { parseTrace, criticalPath, hexTraceId, xrayTraceId, spanAt, traceLoadError } from './trace-model.js';
import { waterfall } from './trace-waterfall.js';
import { spanDetail } from './trace-detail.js';
import { relatedEvents } from './trace-related.js';
import { renderCompare, compareForm, setHeading } from './trace-compare.js';

const SHELL = { h1: document.querySelector('main > h1')?.textContent || 'Trace', title: document.title };
// Each render supersedes the one before (a slow fetch must not draw over a newer view);
// `shown` is the compare parameter it drew and `back` its Back/Forward handler.
let generation = 0, shown = null, back = null;

function compareParam() { return (getParam('compare') || '').trim() || null; }

async function render() {
  const gen = ++generation;
  const current = () => gen === generation;
  back = null;
  shown = compareParam();
  const id = (boot.id || '').trim();
  if (!id) { show(el('div', { class: 'empty' }, 'No trace id. ', el('a', { href: '/ui/traces' }, 'Search for traces'), '.')); return; }
  if (shown) {
    const handler = await renderCompare(id, shown, { current });
    if (current()) back = handler;
    return;
  }
  setHeading(SHELL.h1, SHELL.title);
  let body;
  try {
    body = await api('/api/traces/' + encodeURIComponent(id));
  } catch (e) {
    if (!current()) return;
    show(el('div', { class: 'notice error', role: 'alert', id: 'trace-error' }, traceLoadError(id, e)),
    el('p', {}, el('a', { href: '/ui/traces' }, 'Search for traces')));
    return;
  }
  if (!current()) return;
  const t0 = performance.now();
  const model = parseTrace(body);
  if (!model.spans.length) { show(el('div', { class: 'empty' }, 'This trace has no spans.')); return; }
  const hex = hexTraceId(model.spans[0].traceId || id);
  const critical = criticalPath(model.roots);
  const detail = el('aside', { id: 'span-detail', class: 'panel', 'aria-label': 'Span detail' });
  const select = sp => {
    spanDetail(detail, sp, model, pid => wf.select(model.byId.get(pid)));
    setParams({ span: sp.id }, false);
  };
  const wf = waterfall(model, { critical, onselect: select });
  const stats = el('div', {});
  const summary = el('div', { class: 'trace-summary', id: 'trace-summary' }, titleRow(model, hex), stats);
  const notes = el('div', { id: 'trace-notes' });
  drawSummary(stats, model, hex, critical, null);
  show(summary, toolbar(wf), notes, el('div', { class: 'trace-layout' }, wf.element, detail));
  wf.start();
  const chosen = model.byId.get(spanParam());
  if (chosen) wf.select(chosen); else spanDetail(detail, null, model);
  requestAnimationFrame(() => requestAnimationFrame(() => {
    // Two frames: the first callback runs before the first paint, the second after it.
    window.waggleTraceRenderMs = performance.now() - t0;
    wf.element.dataset.renderMs = window.waggleTraceRenderMs.toFixed(0);
  }));
  back = () => {
    const sp = model.byId.get(spanParam());
    if (sp) wf.select(sp);
  };
  related(model, hex, wf, stats, critical, notes, () => {
    const sel = model.byId.get(spanParam());
    if (sel) spanDetail(detail, sel, model, pid => wf.select(model.byId.get(pid)));
  });
}

function spanParam() { return (getParam('span') || '').toLowerCase(); }

function mainRoot(model) {
  return model.roots.reduce((b, r) => (!b || r.duration > b.duration ? r : b), null);
}

/** The trace's name, its links, and "Compare with…" (built once: typing is not redrawn away). */
function titleRow(model, hex) {
  const root = mainRoot(model);
  return el('div', { class: 'row trace-title-row' },
    el('h2', { class: 'trace-title' }, el('i', { class: 'svc-chip', style: { background: colorFor(root.service) } }),
      `${root.service}: ${root.name}`),
    el('span', { class: 'grow' }),
    el('a', { href: links.traces({ service: root.service, name: root.name }) }, 'Similar traces'),
    el('a', { href: links.query({ dataset: root.service, q: JSON.stringify({ calculations: [{ op: 'COUNT' }],
      filters: [{ column: 'trace.trace_id', op: '=', value: hex }], breakdowns: ['service.name', 'name'] }) }) }, 'Query its events'),
    compareForm({
      model, exclude: [hex],
      onpick: other => { setParams({ compare: other, span: null, scale: null }); render(); },
    }));
}

function drawSummary(into, model, hex, critical, rel) {
  const errors = model.spans.filter(s => s.error).length;
  const depth = model.spans.reduce((m, s) => Math.max(m, s.depth), 0) + 1;
  const xr = xrayTraceId(hex);
  const stat = (label, value, cls) => el('div', { class: 'stat ' + (cls || '') }, el('span', { class: 'muted' }, label), el('strong', {}, value));
  into.replaceChildren(
    el('div', { class: 'row stats' },
      stat('trace id', el('span', { class: 'mono', title: xr ? 'X-Ray: ' + xr : '' }, hex)),
      stat('start', fmtTime(model.t0Ms, true)),
      stat('duration', fmtMs(model.durationMs)),
      stat('spans', fmtNum(model.spans.length)),
      stat('depth', String(depth)),
      stat('services', String(model.services.length)),
      stat('critical path', `${critical.size} spans`),
      stat('span errors', String(errors), errors ? 'bad' : ''),
      stat('error occurrences', rel ? String(rel.errors.length) : '…', rel && rel.errors.length ? 'bad' : ''),
      stat('log events', rel ? String(rel.logs.length) : '…')),
    el('div', { class: 'legend' }, model.services.map(s => el('span', {}, el('i', { style: { background: colorFor(s) } }), s))));
}

function toolbar(wf) {
  const count = el('span', { class: 'muted', id: 'trace-search-count', 'aria-live': 'polite' });
  const search = el('input', { id: 'trace-search', type: 'search', placeholder: 'Find spans: name, service, attribute value…',
    'aria-label': 'Search spans in this trace', autocomplete: 'off' });
  const only = el('input', { type: 'checkbox', id: 'trace-search-only' });
  const rerun = () => {
    const n = wf.setSearch(search.value, only.checked);
    count.textContent = search.value.trim() ? `${fmtNum(n)} match${n === 1 ? '' : 'es'}` : '';
  };
  let timer = null;
  search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(rerun, 120); });
  search.addEventListener('keydown', e => {
    if (e.key !== 'Enter') return;
    e.preventDefault();
    clearTimeout(timer); rerun();
    const k = wf.nextMatch(e.shiftKey ? -1 : 1);
    if (k) count.textContent = `${k} of ${count.textContent.replace(/^\d+ of /, '')}`;
  });
  only.addEventListener('change', rerun);
  const crit = el('input', { type: 'checkbox', id: 'trace-critical', checked: true });
  crit.addEventListener('change', () => wf.setCritical(crit.checked));
  const reset = el('button', { type: 'button', id: 'trace-reset-zoom', disabled: true, onclick: () => wf.resetZoom() }, 'Reset zoom');
  wf.element.addEventListener('zoom', e => { reset.disabled = !e.detail.zoomed; });
  return el('div', { class: 'row trace-tools' },
    search,
    el('button', { type: 'button', title: 'Previous match (Shift+Enter)', 'aria-label': 'Previous match', onclick: () => { rerun(); wf.nextMatch(-1); } }, '↑'),
    el('button', { type: 'button', title: 'Next match (Enter)', 'aria-label': 'Next match', onclick: () => { rerun(); wf.nextMatch(1); } }, '↓'),
    el('label', { class: 'check' }, only, ' only matches'), count,
    el('span', { class: 'grow' }),
    el('label', { class: 'check' }, crit, ' critical path'),
    el('button', { type: 'button', onclick: () => wf.collapseAll() }, 'Collapse all'),
    el('button', { type: 'button', onclick: () => wf.expandAll() }, 'Expand all'),
    reset);
}

/** Fetches the trace's logs and errors, pins each to a span and redraws the rows. */
async function related(model, hex, wf, summary, critical, notes, redrawDetail) {
  const rel = await relatedEvents(hex, model.t0Ms, model.t0Ms + model.durationMs);
  const main = mainRoot(model);
  for (const l of rel.logs) {
    if (l.time !== null) l.rel = l.time - model.t0Ms;
    const sp = (l.spanId && model.byId.get(l.spanId)) || (l.rel !== undefined && spanAt(model.spans, l.rel)) || main;
    sp.logs.push(l);
  }
  for (const e of rel.errors) {
    const sp = (e.spanId && model.byId.get(e.spanId)) ||
      model.spans.find(s => s.error && e.type && s.events.some(ev => ev.attributes['exception.type'] === e.type)) ||
      model.spans.find(s => s.error) || main;
    sp.errors.push(e);
  }
  drawSummary(summary, model, hex, critical, rel);
  if (rel.notes.length) {
    notes.replaceChildren(el('details', { class: 'notice' }, el('summary', {}, 'Some logs or errors could not be read'),
      el('ul', {}, rel.notes.map(n => el('li', {}, n)))));
  }
  wf.refresh();
  redrawDetail();
}

onNavigate(() => {
  // Into or out of a comparison (or to another one): a new view; else the span parameter.
  if (compareParam() !== shown) render().catch(e => errorBox(e));
  else back?.();
});
render().catch(e => errorBox(e));
