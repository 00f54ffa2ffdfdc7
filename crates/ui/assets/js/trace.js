// Trace view: the waterfall of one trace (`/api/traces/<id>`, Tempo's OTLP JSON) with its
// minimap, critical path and in-trace search, the selected span's detail, and the trace's
// log events and error occurrences (trace-related.js) shown on the spans they belong to.

import { api, boot, el, show, errorBox, getParam, setParams, onNavigate, fmtMs, fmtNum, fmtTime, colorFor, links } from './core.js';
import { parseTrace, criticalPath, hexTraceId, xrayTraceId, spanAt } from './trace-model.js';
import { waterfall } from './trace-waterfall.js';
import { spanDetail } from './trace-detail.js';
import { relatedEvents } from './trace-related.js';

async function render() {
  const id = (boot.id || '').trim();
  if (!id) { show(el('div', { class: 'empty' }, 'No trace id. ', el('a', { href: '/ui/traces' }, 'Search for traces'), '.')); return; }
  let body;
  try {
    body = await api('/api/traces/' + encodeURIComponent(id));
  } catch (e) {
    show(el('div', { class: 'notice error', role: 'alert', id: 'trace-error' },
      e.status === 404 ? `Trace ${id} was not found: it may not have arrived yet, or be older than the retention.`
        : e.status === 400 ? `“${id}” is not a trace id (32 hex digits, or an X-Ray id 1-xxxxxxxx-…): ${e.message}` : e.message),
    el('p', {}, el('a', { href: '/ui/traces' }, 'Search for traces')));
    return;
  }
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
  const summary = el('div', { class: 'trace-summary', id: 'trace-summary' });
  const notes = el('div', { id: 'trace-notes' });
  drawSummary(summary, model, hex, critical, null);
  show(summary, toolbar(wf), notes, el('div', { class: 'trace-layout' }, wf.element, detail));
  wf.start();
  const chosen = model.byId.get(spanParam());
  if (chosen) wf.select(chosen); else spanDetail(detail, null, model);
  requestAnimationFrame(() => requestAnimationFrame(() => {
    // Two frames: the first callback runs before the first paint, the second after it.
    window.waggleTraceRenderMs = performance.now() - t0;
    wf.element.dataset.renderMs = window.waggleTraceRenderMs.toFixed(0);
  }));
  onNavigate(() => {
    const sp = model.byId.get(spanParam());
    if (sp) wf.select(sp);
  });
  related(model, hex, wf, summary, critical, notes, () => {
    const sel = model.byId.get(spanParam());
    if (sel) spanDetail(detail, sel, model, pid => wf.select(model.byId.get(pid)));
  });
}

function spanParam() { return (getParam('span') || '').toLowerCase(); }

function drawSummary(into, model, hex, critical, rel) {
  const root = model.roots.reduce((b, r) => (!b || r.duration > b.duration ? r : b), null);
  const errors = model.spans.filter(s => s.error).length;
  const depth = model.spans.reduce((m, s) => Math.max(m, s.depth), 0) + 1;
  const xr = xrayTraceId(hex);
  const stat = (label, value, cls) => el('div', { class: 'stat ' + (cls || '') }, el('span', { class: 'muted' }, label), el('strong', {}, value));
  into.replaceChildren(
    el('div', { class: 'row' },
      el('h2', { class: 'trace-title' }, el('i', { class: 'svc-chip', style: { background: colorFor(root.service) } }),
        `${root.service}: ${root.name}`),
      el('span', { class: 'grow' }),
      el('a', { href: links.traces({ service: root.service, name: root.name }) }, 'Similar traces'),
      el('a', { href: links.query({ dataset: root.service, q: JSON.stringify({ calculations: [{ op: 'COUNT' }],
        filters: [{ column: 'trace.trace_id', op: '=', value: hex }], breakdowns: ['service.name', 'name'] }) }) }, 'Query its events')),
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
  const main = model.roots.reduce((b, r) => (!b || r.duration > b.duration ? r : b), null);
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

render().catch(e => errorBox(e));
