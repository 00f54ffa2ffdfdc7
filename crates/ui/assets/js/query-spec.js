// The query page's model: Honeycomb's query-spec vocabulary (crates/query/src/spec.rs), the
// spec kept in the URL, labels, granularity choices and the recent-queries history.

import { getParam, timeRange } from './core.js';

/** Calculation ops in the order Honeycomb's VISUALIZE menu lists them. */
export const CALC_OPS = ['COUNT', 'CONCURRENCY', 'COUNT_DISTINCT', 'SUM', 'AVG', 'MAX', 'MIN', 'HEATMAP',
  'P001', 'P01', 'P05', 'P10', 'P20', 'P25', 'P50', 'P75', 'P80', 'P90', 'P95', 'P99', 'P999',
  'RATE_AVG', 'RATE_SUM', 'RATE_MAX'];
export const FILTER_OPS = ['=', '!=', '>', '>=', '<', '<=', 'starts-with', 'does-not-start-with',
  'ends-with', 'does-not-end-with', 'contains', 'does-not-contain', 'exists', 'does-not-exist', 'in', 'not-in'];
export const HAVING_OPS = ['=', '!=', '>', '>=', '<', '<='];
/** Ops that take no value (and so hide the value box). */
export const NO_VALUE_OPS = new Set(['exists', 'does-not-exist']);
/** Ops whose value is a comma-separated list. */
export const LIST_OPS = new Set(['in', 'not-in']);

/** COUNT and CONCURRENCY take no column; every other op does (spec.rs `needs_column`). */
export const needsColumn = op => op !== 'COUNT' && op !== 'CONCURRENCY';

/** Result key of a calculation, as the server labels it (`COUNT`, `P99(duration_ms)`). */
export const calcLabel = c => needsColumn(c.op) ? `${c.op}(${c.column || ''})` : c.op;

/** Ops whose empty time buckets mean zero (the others have no value there: a gap). */
export const ZERO_WHEN_EMPTY = new Set(['COUNT', 'CONCURRENCY', 'COUNT_DISTINCT', 'SUM', 'RATE_SUM']);

const DEFAULT_SPEC = { calculations: [{ op: 'COUNT' }] };

/** The spec in `?q=` (without its time window, which the range params carry). */
export function specFromUrl() {
  const text = getParam('q');
  if (!text) return { spec: structuredClone(DEFAULT_SPEC) };
  try {
    const spec = JSON.parse(text);
    if (!spec || typeof spec !== 'object' || Array.isArray(spec)) throw new Error('not an object');
    for (const k of ['time_range', 'start_time', 'end_time']) delete spec[k];
    return { spec };
  } catch (e) {
    return { spec: structuredClone(DEFAULT_SPEC), warning: `The query in the URL is not valid JSON (${e.message}); showing COUNT instead.` };
  }
}

/** Drops empty parts so the URL and the saved history stay short. */
export function compact(spec) {
  const out = {};
  for (const [k, v] of Object.entries(spec)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v) && !v.length) continue;
    out[k] = v;
  }
  if (!out.filters || out.filters.length < 2) delete out.filter_combination;
  return out;
}

/** Nice bucket widths (seconds) for the granularity menu and the automatic choice. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** Widths the server accepts for this range: range/1000 ≤ g ≤ range (spec.rs). */
export function granularityChoices() {
  const r = timeRange(), span = r.end - r.start;
  return STEPS.filter(s => s <= span && s * 1000 >= span);
}

/** The automatic width: the smallest nice step giving at most ~100 buckets. */
export function autoGranularity() {
  const r = timeRange(), span = r.end - r.start;
  return STEPS.find(s => span / s <= 100) || Math.ceil(span / 100);
}

export function fmtStep(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return s / 60 + ' min';
  if (s < 86400) return s / 3600 + ' h';
  return s / 86400 + ' d';
}

/** One line describing a spec, for the history list. */
export function summarize(spec) {
  const calcs = (spec.calculations?.length ? spec.calculations : DEFAULT_SPEC.calculations).map(calcLabel).join(', ');
  const where = (spec.filters || []).map(f => `${f.column} ${f.op}${NO_VALUE_OPS.has(f.op) ? '' : ' ' + JSON.stringify(f.value)}`)
    .join(spec.filter_combination === 'OR' ? ' OR ' : ' AND ');
  const by = (spec.breakdowns || []).join(', ');
  return [calcs, where && 'where ' + where, by && 'by ' + by].filter(Boolean).join(' · ');
}

// ---- recent queries ----------------------------------------------------------------------

const RECENT_KEY = 'waggle.query.recent';
const RECENT_MAX = 10;

export function recentQueries() {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(list) ? list.filter(r => r && r.dataset && r.q) : [];
  } catch { return []; }
}

/** Newest first, one entry per distinct query. */
export function rememberQuery(dataset, q) {
  const list = recentQueries().filter(r => !(r.dataset === dataset && r.q === q));
  list.unshift({ dataset, q, at: Date.now() });
  try { localStorage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX))); } catch { /* storage full or disabled: history is a convenience */ }
}
