// BubbleUp: a heatmap region against the rest of the query's events. Every column the server
// ranks (POST /api/waggle/bubbleup/{dataset}, honeycomb_query.rs) is shown with its value
// distribution inside and outside the selection, most different first.

import { api, el, errorBox, hcWindow, fmtNum, fmtMs, fmtTime, ApiError } from './core.js';
import { pairedBars } from './chart.js';
import { traceQL, tracesHref } from './query-traceql.js';

const FIRST_SHOWN = 24;
let inflight = null;

/**
 * Fills `panel` (#bubbleup) for `region` {t0, t1, lo, hi} of the HEATMAP `calc`.
 * actions: {groupBy(column), filter([filters])} — they edit the query and run it.
 */
export async function bubbleUp(panel, { dataset, spec, calc, region, actions }) {
  inflight?.abort();
  const ctl = inflight = new AbortController();
  const fmt = /_ms$/.test(calc.column) ? fmtMs : fmtNum;
  const range = [{ column: calc.column, op: '>=', value: region.lo }, { column: calc.column, op: '<', value: region.hi }];
  const body = el('div', { class: 'bu-body' }, el('p', { class: 'muted' }, 'Comparing the selection with the rest…'));
  panel.hidden = false;
  panel.dataset.state = 'loading';
  panel.replaceChildren(
    el('div', { class: 'bu-head' },
      el('h2', {}, 'BubbleUp'),
      el('span', { class: 'muted' }, `${calc.column} ${fmt(region.lo)} – ${fmt(region.hi)} · ${fmtTime(region.t0)} – ${fmtTime(region.t1)}`),
      el('span', { class: 'grow' }),
      el('a', { href: tracesHref(traceQL(spec, range), region.t0, region.t1), id: 'bubbleup-traces' }, 'Traces in the selection →'),
      el('button', { type: 'button', 'aria-label': 'Close BubbleUp', onclick: () => { inflight?.abort(); panel.hidden = true; } }, 'Close')),
    body);
  const request = {
    query: { filters: spec.filters || [], filter_combination: spec.filter_combination || 'AND', ...hcWindow() },
    selection: { start_time: Math.floor(region.t0), end_time: Math.ceil(region.t1), column: calc.column, low: region.lo, high: region.hi },
    top_values: 10,
  };
  let r;
  try {
    r = await api(`/api/waggle/bubbleup/${encodeURIComponent(dataset)}`, { method: 'POST', body: request, signal: ctl.signal });
  } catch (e) {
    if (ctl.signal.aborted || e.name === 'AbortError') return;
    panel.dataset.state = 'error';
    errorBox(e instanceof ApiError ? e : new Error('BubbleUp failed: ' + e.message), body);
    return;
  }
  if (ctl.signal.aborted) return;
  panel.dataset.state = 'done';
  body.replaceChildren(...summary(r), ...columnsGrid(r, actions));
}

function summary(r) {
  const out = [el('p', { class: 'bu-counts' },
    el('span', { class: 'bu-key sel' }), `${fmtNum(r.selection_count)} events in the selection`, '  ',
    el('span', { class: 'bu-key base' }), `${fmtNum(r.baseline_count)} baseline events (the rest of the query)`)];
  if (r.sampled) {
    out.push(el('p', { class: 'muted' }, `Distributions are from a sample: ${r.sampled.selection_percent.toFixed(0)}% of the selection, ${r.sampled.baseline_percent.toFixed(0)}% of the baseline.`));
  }
  return out;
}

function columnsGrid(r, actions) {
  const cols = (r.columns || []).filter(c => c.values?.length);
  if (!r.selection_count) return [el('div', { class: 'empty' }, 'No events in the selected region. Drag over coloured cells.')];
  if (!cols.length) return [el('div', { class: 'empty' }, 'No column differs between the selection and the baseline.')];
  const grid = el('div', { class: 'bu-grid' }, cols.slice(0, FIRST_SHOWN).map(c => columnCard(c, actions)));
  const more = cols.length > FIRST_SHOWN ? el('button', { type: 'button', onclick: e => {
    grid.append(...cols.slice(FIRST_SHOWN).map(c => columnCard(c, actions)));
    e.target.remove();
  } }, `Show ${cols.length - FIRST_SHOWN} more columns`) : null;
  return [grid, more];
}

/** The value most over-represented in the selection: the filter BubbleUp suggests. */
function standout(c) {
  return c.values.reduce((best, v) => (v.selection_pct - v.baseline_pct > (best ? best.selection_pct - best.baseline_pct : 0) ? v : best), null);
}

function valueLabel(c, v) {
  if (v.value === null || v.value === undefined) return '(missing)';
  const fmt = /_ms$/.test(c.column) ? fmtMs : fmtNum;
  if (c.bucketed && v.low !== undefined) return `${fmt(v.low)}–${fmt(v.high)}`;
  return v.value;
}

function filtersFor(c, v) {
  if (v.value === null || v.value === undefined) return [{ column: c.column, op: 'does-not-exist' }];
  if (c.bucketed && v.low !== undefined) return [{ column: c.column, op: '>=', value: v.low }, { column: c.column, op: '<', value: v.high }];
  return [{ column: c.column, op: '=', value: v.value }];
}

function columnCard(c, actions) {
  const bars = c.values.slice()
    .sort((a, b) => Math.max(b.selection_pct, b.baseline_pct) - Math.max(a.selection_pct, a.baseline_pct))
    .map(v => ({ label: valueLabel(c, v), a: v.selection_pct / 100, b: v.baseline_pct / 100 }));
  const top = standout(c);
  return el('article', { class: 'bubbleup-col', dataset: { column: c.column } },
    el('div', { class: 'bu-col-head' },
      el('h3', { class: 'mono', title: c.column }, c.column),
      el('span', { class: 'badge', title: 'largest difference in share of events, percentage points' }, `Δ ${c.score.toFixed(1)} pts`)),
    pairedBars(bars, { width: 420, labelA: 'selection', labelB: 'baseline' }),
    el('div', { class: 'bu-actions' },
      el('button', { type: 'button', onclick: () => actions.groupBy(c.column) }, 'Group by'),
      top ? el('button', { type: 'button', title: 'Add this as a WHERE filter and run', onclick: () => actions.filter(filtersFor(c, top)) },
        `Where = ${valueLabel(c, top)}`) : null));
}
