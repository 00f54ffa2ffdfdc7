// Trace search: a form (service, span name, duration, attribute conditions) that writes
// TraceQL, a free TraceQL box for whole-trace predicates, Tempo's `/api/search` over the
// time range, and the hits as a duration-over-time scatter plot above a table.
// URL: service, name, minDuration, maxDuration (ms), durScope (span|trace), attrs, q, limit,
// sort, plus the range picker's range/start/end; Back returns to the previous search.
// Ticking two hits and pressing Compare opens them side by side (links.compare).

import { api, el, show, errorBox, getParam, setParams, onNavigate, rangePicker, timeRange,
  fmtMs, fmtTime, fmtNum, colorFor, links, table } from './core.js';
import { scatter } from './chart.js';

const OPS = ['=', '!=', '>', '>=', '<', '<=', '=~', '!~'];
const LIMITS = [20, 50, 100, 200, 500];
/** TraceQL intrinsics and scoped names that are written as they are (no leading dot). */
const BARE = /^(\.|span\.|resource\.|event\.|link\.|instrumentation\.|span:|trace:|resource:|event:|link:)|^(name|status|kind|duration|statusMessage|traceDuration|rootName|rootServiceName|nestedSetParent)$/;
const ENUMS = { status: ['error', 'ok', 'unset'], kind: ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] };

/** The form's state from the URL. */
function formFromUrl() {
  let attrs = [];
  try { attrs = JSON.parse(getParam('attrs') || '[]').filter(a => Array.isArray(a) && a.length === 3); } catch { attrs = []; }
  return {
    service: getParam('service', ''), name: getParam('name', ''),
    minDuration: getParam('minDuration', ''), maxDuration: getParam('maxDuration', ''),
    durScope: getParam('durScope') === 'trace' ? 'trace' : 'span', attrs,
    limit: LIMITS.includes(Number(getParam('limit'))) ? Number(getParam('limit')) : 100,
    sort: getParam('sort') === 'slowest' ? 'slowest' : 'newest',
  };
}

/** TraceQL from the form: one spanset filter with every condition and-ed. */
function buildTraceQL(f) {
  const c = [];
  if (f.service.trim()) c.push(`resource.service.name = ${quote(f.service.trim())}`);
  if (f.name.trim()) c.push(`name = ${quote(f.name.trim())}`);
  const d = f.durScope === 'trace' ? 'traceDuration' : 'duration';
  if (Number(f.minDuration) > 0) c.push(`${d} >= ${Number(f.minDuration)}ms`);
  if (Number(f.maxDuration) > 0) c.push(`${d} <= ${Number(f.maxDuration)}ms`);
  for (const [k, op, v] of f.attrs) {
    if (!k.trim()) continue;
    const key = BARE.test(k.trim()) ? k.trim() : '.' + k.trim();
    c.push(`${key} ${op} ${literal(key, op, v)}`);
  }
  return c.length ? `{ ${c.join(' && ')} }` : '{}';
}

function quote(s) { return JSON.stringify(String(s)); }

function literal(key, op, v) {
  const s = String(v).trim();
  if (op === '=~' || op === '!~') return quote(s);
  if (ENUMS[key] && ENUMS[key].includes(s)) return s;
  if (s === 'true' || s === 'false' || s === 'nil') return s;
  if (/^-?\d+(\.\d+)?$/.test(s)) return s;
  if (/^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/.test(s) && /duration/i.test(key)) return s;
  return quote(s);
}

async function render() {
  rangePicker(render);
  const f = formFromUrl();
  const results = el('div', { id: 'trace-results-area' }, el('p', { class: 'muted' }, 'Searching…'));
  const form = searchForm(f);
  show(form.element, results);
  search(form.query(), f, results);
}

function searchForm(f) {
  const input = (name, attrs = {}) => el('input', { name, id: 'tf-' + name, value: f[name], autocomplete: 'off', ...attrs });
  const service = input('service', { list: 'tf-services', placeholder: 'any service' });
  const name = input('name', { list: 'tf-names', placeholder: 'any span name' });
  const min = input('minDuration', { type: 'number', min: 0, step: 'any', placeholder: 'ms', class: 'dur' });
  const max = input('maxDuration', { type: 'number', min: 0, step: 'any', placeholder: 'ms', class: 'dur' });
  const scope = el('select', { name: 'durScope', 'aria-label': 'Duration of', id: 'tf-durScope' },
    el('option', { value: 'span', selected: f.durScope === 'span' }, 'of a span'),
    el('option', { value: 'trace', selected: f.durScope === 'trace' }, 'of the trace'));
  const attrList = el('div', { class: 'tf-attrs', id: 'trace-attrs' });
  const limit = el('select', { name: 'limit', 'aria-label': 'Most traces', id: 'tf-limit' },
    LIMITS.map(n => el('option', { value: n, selected: n === f.limit }, `${n} traces`)));
  const q = el('textarea', { id: 'trace-query', name: 'q', rows: 2, spellcheck: 'false', 'aria-label': 'TraceQL query',
    placeholder: '{ resource.service.name = "api" && duration > 100ms } && { status = error }' });
  const custom = el('span', { class: 'badge muted', hidden: true, id: 'trace-query-custom' }, 'edited');
  const state = () => ({
    service: service.value, name: name.value, minDuration: min.value, maxDuration: max.value, durScope: scope.value,
    attrs: [...attrList.querySelectorAll('.tf-attr')].map(r => [r.querySelector('.k').value, r.querySelector('.op').value, r.querySelector('.v').value]),
    limit: Number(limit.value), sort: f.sort,
  });
  // The box follows the fields until the user types in it; then it is theirs.
  let edited = false;
  const sync = () => { if (!edited) q.value = buildTraceQL(state()); };
  const urlQ = getParam('q');
  q.value = urlQ || buildTraceQL(f);
  edited = !!urlQ && urlQ !== buildTraceQL(f);
  custom.hidden = !edited;
  q.addEventListener('input', () => { edited = q.value.trim() !== buildTraceQL(state()); custom.hidden = !edited; });
  q.addEventListener('keydown', e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); } });
  const addAttr = (a = ['', '=', '']) => {
    const row = el('div', { class: 'tf-attr row' },
      el('input', { class: 'k mono', list: 'tf-tags', value: a[0], placeholder: 'attribute', 'aria-label': 'Attribute', autocomplete: 'off' }),
      el('select', { class: 'op', 'aria-label': 'Operator' }, OPS.map(o => el('option', { value: o, selected: o === a[1] }, o))),
      el('input', { class: 'v mono', value: a[2], placeholder: 'value', 'aria-label': 'Value', autocomplete: 'off' }),
      el('button', { type: 'button', class: 'rm', 'aria-label': 'Remove condition', title: 'Remove condition',
        onclick: () => { row.remove(); sync(); } }, '×'));
    attrList.append(row);
    return row;
  };
  f.attrs.forEach(a => addAttr(a));
  const form = el('form', { id: 'trace-form', class: 'panel', onsubmit: e => {
    e.preventDefault();
    const s = state();
    const text = q.value.trim() || '{}';
    setParams({
      service: s.service.trim(), name: s.name.trim(), minDuration: s.minDuration, maxDuration: s.maxDuration,
      durScope: s.durScope === 'trace' ? 'trace' : null, attrs: s.attrs.filter(a => a[0].trim()).length ? s.attrs.filter(a => a[0].trim()) : null,
      limit: s.limit === 100 ? null : String(s.limit), q: text === buildTraceQL(s) ? null : text,
    });
    render();
  } },
  el('div', { class: 'tf-grid' },
    field('Service', service), field('Span name', name),
    field('Duration', el('div', { class: 'row tf-dur' }, min, el('span', { class: 'muted' }, 'to'), max, scope)),
    field('Show', limit)),
  el('div', { class: 'tf-attrs-wrap' },
    el('label', {}, 'Attribute conditions'), attrList,
    el('button', { type: 'button', id: 'trace-add-attr', onclick: () => addAttr().querySelector('.k').focus() }, '+ condition')),
  el('div', { class: 'tf-q' },
    el('label', { for: 'trace-query' }, 'TraceQL ', custom,
      el('span', { class: 'muted' }, ' — built from the fields; edit it for whole-trace predicates such as { a } && { b }. Ctrl+Enter searches.')),
    q),
  el('div', { class: 'row' },
    el('button', { type: 'submit', class: 'primary', id: 'trace-search-btn' }, 'Search'),
    el('button', { type: 'button', onclick: () => { edited = false; custom.hidden = true; sync(); } }, 'Rebuild from fields'),
    el('a', { href: '/ui/traces' }, 'Clear')),
  el('datalist', { id: 'tf-services' }), el('datalist', { id: 'tf-names' }), el('datalist', { id: 'tf-tags' }));
  form.addEventListener('input', e => { if (e.target !== q) sync(); });
  form.addEventListener('change', e => { if (e.target !== q) sync(); });
  fillList(form.querySelector('#tf-services'), '/api/search/tag/service.name/values', r => r.tagValues);
  fillList(form.querySelector('#tf-names'), '/api/search/tag/name/values', r => r.tagValues);
  fillList(form.querySelector('#tf-tags'), '/api/search/tags', r => r.tagNames);
  return { element: form, query: () => q.value.trim() || '{}' };
}

function field(label, control) {
  return el('div', { class: 'tf-field' }, el('label', { for: control.id || undefined }, label), control);
}

/** Fills a datalist; suggestions are a convenience, so a failure leaves it empty. */
async function fillList(list, path, pick) {
  try {
    const values = pick(await api(path)) || [];
    list.replaceChildren(...values.slice(0, 500).map(v => el('option', { value: typeof v === 'object' ? v.value : v })));
  } catch { /* no suggestions */ }
}

async function search(q, f, into) {
  const r = timeRange();
  const params = new URLSearchParams({ q, start: String(r.start), end: String(r.end), limit: String(f.limit) });
  let res;
  try {
    res = await api('/api/search?' + params);
  } catch (e) {
    into.replaceChildren(el('div', { class: 'notice error', role: 'alert', id: 'trace-search-error' }, e.message));
    return;
  }
  const traces = (res.traces || []).map(t => ({
    id: t.traceID, service: t.rootServiceName || '(unknown)', name: t.rootTraceName || '(unknown)',
    start: Number(BigInt(t.startTimeUnixNano || 0) / 1000000n) / 1000, duration: Number(t.durationMs || 0),
    matched: t.spanSet?.matched ?? null, spans: t.spanSet?.spans || [],
  }));
  into.replaceChildren(resultsView(traces, f, into, q, []));
}

/** `picked`: the ticked trace ids in the order they were ticked (A first), kept across re-sorts. */
function resultsView(traces, f, into, q, picked) {
  const r = timeRange();
  const sorted = traces.slice().sort(f.sort === 'slowest' ? (a, b) => b.duration - a.duration : (a, b) => b.start - a.start);
  const plot = el('div', { id: 'trace-scatter', class: 'chart-box' });
  const sort = el('select', { 'aria-label': 'Sort', id: 'trace-sort', onchange: e => {
    setParams({ sort: e.target.value === 'newest' ? null : e.target.value }, false);
    into.replaceChildren(resultsView(traces, { ...f, sort: e.target.value }, into, q, picked));
  } }, el('option', { value: 'newest', selected: f.sort === 'newest' }, 'newest first'),
  el('option', { value: 'slowest', selected: f.sort === 'slowest' }, 'slowest first'));
  const services = [...new Set(traces.map(t => t.service))];
  const compare = el('button', { type: 'button', id: 'trace-compare', class: 'primary', disabled: true,
    onclick: () => { if (picked.length === 2) location.href = links.compare(picked[0], picked[1]); } }, 'Compare');
  const hint = el('span', { class: 'muted', id: 'trace-compare-hint', 'aria-live': 'polite' });
  const boxes = new Map();
  const refresh = () => {
    compare.disabled = picked.length !== 2;
    compare.textContent = picked.length === 2 ? 'Compare A and B' : 'Compare';
    hint.textContent = picked.length === 2 ? '' : picked.length === 1 ? 'tick one more trace to compare' : traces.length > 1 ? 'tick two traces to compare them' : '';
    for (const [id, { box, tag }] of boxes) {
      const i = picked.indexOf(id);
      box.checked = i >= 0;
      // Two at most: the rest wait until one is unticked.
      box.disabled = i < 0 && picked.length >= 2;
      tag.textContent = i >= 0 ? 'AB'[i] : '';
      tag.className = i >= 0 ? 'ab ab-' + 'ab'[i] : 'ab-none';
    }
  };
  const tick = t => {
    const box = el('input', { type: 'checkbox', class: 'trace-pick', 'aria-label': `Compare trace ${t.id}`, dataset: { traceId: t.id },
      onclick: e => e.stopPropagation(),
      onkeydown: e => { if (e.key === 'Enter') e.stopPropagation(); },
      onchange: e => {
        const i = picked.indexOf(t.id);
        if (e.target.checked && i < 0) picked.push(t.id);
        if (!e.target.checked && i >= 0) picked.splice(i, 1);
        refresh();
      } });
    const tag = el('span', { class: 'ab-none', 'aria-hidden': 'true' });
    boxes.set(t.id, { box, tag });
    return el('label', { class: 'pick', title: 'Tick two traces, then Compare', onclick: e => e.stopPropagation() }, box, tag);
  };
  const rows = table([
    { label: el('span', { class: 'sr-only' }, 'compare'), value: tick },
    { label: 'trace', value: t => el('a', { href: links.trace(t.id), class: 'mono' }, t.id.slice(0, 16) + '…') },
    { label: 'root service', value: t => el('span', { class: 'svc' }, el('i', { class: 'svc-chip', style: { background: colorFor(t.service) } }), t.service) },
    { label: 'root span', value: t => t.name },
    { label: 'start', value: t => fmtTime(t.start) },
    { label: 'duration', num: true, value: t => durText(t.duration) },
    { label: 'matched spans', num: true, value: t => t.matched === null ? '–' : matchedCell(t) },
  ], sorted, { onclick: t => { location.href = links.trace(t.id); }, rowClass: () => 'trace-row', empty: emptyText(q) });
  const view = el('section', {},
    el('div', { class: 'row results-head' },
      el('h2', {}, `${fmtNum(traces.length)} trace${traces.length === 1 ? '' : 's'}`),
      el('span', { class: 'muted' }, traces.length >= f.limit ? `(the newest ${f.limit}; raise the limit or narrow the range for more)` : `${fmtTime(r.start)} – ${fmtTime(r.end)}`),
      el('span', { class: 'grow' }), hint, compare, sort),
    traces.length ? el('div', { class: 'panel' }, plot,
      el('div', { class: 'legend' }, services.map(s => el('span', {}, el('i', { style: { background: colorFor(s) } }), s)),
        el('span', { class: 'muted' }, 'duration (log scale) over start time; click a point to open its trace'))) : null,
    el('div', { id: 'trace-results' }, rows));
  refresh();
  if (traces.length) {
    // The plot measures its container, so it is drawn once the view is in the document.
    requestAnimationFrame(() => scatter(plot, {
      points: traces.map(t => ({ t: t.start, v: Math.max(t.duration, 0.5), color: colorFor(t.service), data: t,
        label: `${t.service}: ${t.name} · ${durText(t.duration)} · ${fmtTime(t.start)}` })),
      height: 200, yFmt: fmtMs, onclick: p => { location.href = links.trace(p.data.id); },
    }));
  }
  return view;
}

/** Tempo rounds `durationMs` to whole milliseconds. */
function durText(ms) { return ms < 1 ? '< 1 ms' : fmtMs(ms); }

function matchedCell(t) {
  const names = [...new Set(t.spans.map(s => s.name).filter(Boolean))];
  return el('span', { title: names.length ? 'e.g. ' + names.slice(0, 5).join(', ') : '' }, fmtNum(t.matched));
}

function emptyText(q) {
  return `No traces in this time range match ${q}. Widen the range or loosen the conditions.`;
}

onNavigate(render);
render().catch(e => errorBox(e));
