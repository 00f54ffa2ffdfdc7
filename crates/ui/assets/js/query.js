// Query: Honeycomb's query builder. The whole query lives in the URL (`?dataset=…&q=<spec
// JSON>` plus the range params, and `sel=` for a BubbleUp region), so a link reproduces it and
// Back/Forward step through runs. Run → a chart per calculation, the results table, and on
// a HEATMAP a drag-selected region opens BubbleUp.

import { api, hcQuery, hcWindow, el, show, errorBox, rangePicker, timeRange, getParam, setParams,
  onNavigate, fmtAgo } from './core.js';
import { specFromUrl, autoGranularity, summarize, recentQueries, rememberQuery } from './query-spec.js';
import { builder } from './query-builder.js';
import { drawResults } from './query-results.js';
import { bubbleUp } from './query-bubbleup.js';

/** Per-dataset lookups are cached for the page's life: Back/Forward re-render quickly. */
const cache = { datasets: null, columns: new Map(), derived: new Map(), markers: new Map() };
let generation = 0;
let current = { heatmap: null };

/** Test hook: select a heatmap region as a drag would (opens BubbleUp). */
window.waggleQuery = {
  selectRegion(region) {
    if (!current.heatmap) throw new Error('no HEATMAP chart is shown');
    current.heatmap.select(region);
  },
};

async function render() {
  const gen = ++generation;
  current = { heatmap: null };
  rangePicker(render);
  let datasets;
  try {
    datasets = cache.datasets || (cache.datasets = (await api('/api/waggle/datasets')).datasets || []);
  } catch (e) { errorBox(e); return; }
  if (!datasets.length) {
    show(el('div', { class: 'empty' }, 'No datasets yet. Send events with any Honeycomb or OpenTelemetry client (or run ', el('code', {}, 'waggle demo'), ') and they appear here.'));
    return;
  }
  let dataset = getParam('dataset');
  if (!dataset) {
    dataset = datasets.slice().sort((a, b) => b.last_time_ns - a.last_time_ns)[0].name;
    setParams({ dataset }, false);
  }
  const { spec, warning } = specFromUrl();
  const [columns, derived, markers] = await Promise.all([
    lookup('columns', dataset, `/1/columns/${encodeURIComponent(dataset)}`),
    lookup('derived', dataset, `/1/derived_columns/${encodeURIComponent(dataset)}`),
    lookup('markers', dataset, `/1/markers/${encodeURIComponent(dataset)}`),
  ]);
  if (gen !== generation) return;
  const bld = builder({ spec, datasets, dataset, columns, derived,
    onrun: sp => run(dataset, sp),
    ondataset: ds => { setParams({ dataset: ds, sel: null }, true); render(); } });
  const chartBox = el('div', { id: 'query-chart', 'aria-live': 'polite', dataset: { state: 'loading' } }, el('p', { class: 'muted' }, 'Running…'));
  const tableBox = el('div', { id: 'query-results' });
  const pick = el('div', { id: 'trace-pick', class: 'q-pick', hidden: true });
  const bubble = el('section', { id: 'bubbleup', class: 'panel', hidden: true, 'aria-label': 'BubbleUp' });
  const sent = { ...spec, ...hcWindow(), granularity: spec.granularity || autoGranularity() };
  show(el('div', { class: 'q-layout' },
    el('div', { class: 'q-main' },
      bld.form,
      warning ? el('div', { class: 'notice', role: 'status' }, warning) : null,
      datasets.some(d => d.name === dataset) ? null : el('div', { class: 'notice', role: 'status' }, `Dataset "${dataset}" has no events yet.`),
      pick, chartBox, bubble,
      el('h2', {}, 'Results'), tableBox,
      el('details', { class: 'q-json' }, el('summary', {}, 'Query JSON'), el('pre', {}, JSON.stringify(sent, null, 2)))),
    el('aside', { class: 'q-side' }, el('h2', {}, 'Recent queries'), recentList())));
  const result = await hcQuery(dataset, sent).catch(e => e);
  if (gen !== generation) return;
  if (result instanceof Error) {
    chartBox.dataset.state = 'error';
    errorBox(result, chartBox);
    return;
  }
  const range = timeRange();
  const drawn = drawResults(chartBox, tableBox, result, {
    spec, step: sent.granularity, range, markers: markerLines(markers, range),
    onpick: p => showPick(pick, p),
    onselect: (region, calc) => {
      setParams({ sel: JSON.stringify(roundRegion(region)) }, false);
      bubbleUp(bubble, { dataset, spec, calc, region, actions: {
        groupBy: column => { bld.addBreakdown(column); run(dataset, bld.spec()); },
        filter: filters => { filters.forEach(f => bld.addFilter(f)); run(dataset, bld.spec()); },
      } });
    },
  });
  current.heatmap = drawn.heatmap || null;
  chartBox.dataset.state = 'done';
  restoreSelection(drawn.heatmap);
}

/** A lookup that degrades to an empty list: the builder still works without autocomplete. */
async function lookup(kind, dataset, path) {
  if (cache[kind].has(dataset)) return cache[kind].get(dataset);
  try {
    const list = await api(path);
    const out = Array.isArray(list) ? list : [];
    cache[kind].set(dataset, out);
    return out;
  } catch { return []; }
}

/** Run: the query goes into the URL as a new history entry, then the page renders from it. */
function run(dataset, spec) {
  const q = JSON.stringify(spec);
  rememberQuery(dataset, q);
  setParams({ dataset, q, sel: null }, true);
  render();
}

function markerLines(markers, range) {
  return markers.filter(m => m.start_time >= range.start && m.start_time <= range.end).map(m => ({
    t: m.start_time, label: m.message || m.type || 'marker',
    title: [m.type, m.message, m.url].filter(Boolean).join(' · '),
  }));
}

/** A BubbleUp region from `?sel=` is reselected once the heatmap is drawn again. */
function restoreSelection(chart) {
  const text = getParam('sel');
  if (!chart || !text) return;
  try {
    const r = JSON.parse(text);
    if ([r.t0, r.t1, r.lo, r.hi].every(Number.isFinite)) chart.select(r);
  } catch { setParams({ sel: null }, false); }
}

const roundRegion = r => ({ t0: Math.floor(r.t0), t1: Math.ceil(r.t1), lo: +r.lo.toPrecision(6), hi: +r.hi.toPrecision(6) });

function showPick(box, { label, href }) {
  box.hidden = false;
  box.replaceChildren(
    el('span', { class: 'muted' }, 'Selected'), el('strong', { class: 'mono' }, label),
    el('span', { class: 'grow' }),
    el('a', { id: 'trace-link', class: 'q-pick-link', href }, 'Show matching traces →'),
    el('button', { type: 'button', 'aria-label': 'Dismiss', onclick: () => { box.hidden = true; } }, '×'));
  box.querySelector('a').focus({ preventScroll: true });
}

function recentList() {
  const list = recentQueries();
  if (!list.length) return el('ol', { id: 'recent-queries', class: 'q-recent' }, el('li', { class: 'muted' }, 'Queries you run appear here.'));
  return el('ol', { id: 'recent-queries', class: 'q-recent' }, list.map(r => {
    let text;
    try { text = summarize(JSON.parse(r.q)); } catch { text = r.q; }
    const params = new URLSearchParams(location.search);
    params.set('dataset', r.dataset); params.set('q', r.q); params.delete('sel');
    return el('li', {}, el('a', { href: '/ui/query?' + params, onclick: e => {
      e.preventDefault();
      setParams({ dataset: r.dataset, q: r.q, sel: null }, true);
      render();
    } }, el('span', { class: 'q-recent-q mono' }, text), el('span', { class: 'muted q-recent-meta' }, `${r.dataset} · ${fmtAgo(r.at / 1000)}`)));
  }));
}

onNavigate(render);
render();
