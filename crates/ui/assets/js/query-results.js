// A query result drawn the way Honeycomb draws it: one time chart per calculation (a line per
// group, HEATMAP as a heatmap summed over groups), deploy markers on every chart, and the
// results table under the charts. Clicking a point, cell or row offers that group's traces.

import { el, table, fmtMs, fmtNum, fmtTime, colorFor } from './core.js';
import { lineChart, heatmap } from './chart.js';
import { calcLabel, needsColumn, ZERO_WHEN_EMPTY } from './query-spec.js';
import { traceQL, groupConditions, tracesHref } from './query-traceql.js';

/** chart.js's plot padding (PAD), needed to place marker lines over the heatmap. */
const PLOT = { l: 52, r: 12, t: 10, b: 24 };
const HEATMAP_HEIGHT = 280;

/** Durations read better as durations; counts and rates stay numbers. */
const isDuration = c => needsColumn(c.op) && c.op !== 'COUNT_DISTINCT' && /(^|[._])duration_ms$|_ms$/.test(c.column || '');
const formatter = c => isDuration(c) ? fmtMs : fmtNum;

/** The result groups, in the server's (ordered, limited) order, with a name and colour each. */
function groupsOf(result, breakdowns) {
  return (result.data.results || []).map((r, i) => {
    const values = breakdowns.map(b => r.data[b] ?? null);
    const name = breakdowns.length ? values.map(v => v === null ? '(none)' : String(v)).join(' · ') : 'all events';
    return { key: JSON.stringify(values), values, name, color: colorFor(name, i), data: r.data };
  });
}

/** Bucket start times covering the range, aligned to the server's buckets. */
function bucketTimes(rows, step, range) {
  const seen = rows.map(r => r.t);
  const anchor = seen.length ? Math.min(...seen) : Math.floor(range.start / step) * step;
  const out = [];
  for (let t = anchor - Math.floor((anchor - range.start) / step) * step; t < range.end; t += step) out.push(t);
  return out;
}

/** One line chart's series: per group, the calculation's value at every bucket. */
function linesFor(calc, groups, rows, times, breakdowns) {
  const label = calcLabel(calc), empty = ZERO_WHEN_EMPTY.has(calc.op) ? 0 : null;
  return groups.map(g => {
    const at = new Map();
    for (const r of rows) if (r.key === g.key && r.data[label] !== undefined) at.set(r.t, r.data[label]);
    return { name: g.name, color: g.color, points: times.map(t => [t, at.has(t) ? at.get(t) : empty]) };
  }).filter(s => s.points.some(p => p[1] !== null) || !breakdowns.length);
}

/** HEATMAP columns summed over groups (the server's bucket bounds are global per query). */
function heatmapFor(calc, rows) {
  const label = calcLabel(calc);
  const byT = new Map();
  let lo = Infinity, hi = -Infinity;
  for (const r of rows) {
    const h = r.data[label];
    if (!h || h.min === null || h.min === undefined) continue;
    lo = Math.min(lo, h.min); hi = Math.max(hi, h.max);
    const cells = byT.get(r.t) || new Map();
    for (const b of h.buckets || []) {
      const c = cells.get(b.lower) || { lo: b.lower, hi: b.upper, count: 0 };
      c.count += b.count;
      cells.set(b.lower, c);
    }
    byT.set(r.t, cells);
  }
  const columns = [...byT].map(([t, cells]) => ({ t, buckets: [...cells.values()] }));
  return { columns, lo, hi };
}

/** Marker lines over the heatmap (chart.js draws markers only on line charts). */
function heatmapMarkers(chart, markers, x0, x1) {
  const w = chart.width - PLOT.l - PLOT.r;
  for (const m of markers) {
    if (m.t < x0 || m.t > x1) continue;
    const left = PLOT.l + (m.t - x0) / (x1 - x0) * w;
    chart.wrap.append(el('div', { class: 'q-marker', style: { left: left + 'px', top: PLOT.t + 'px', height: (HEATMAP_HEIGHT - PLOT.t - PLOT.b) + 'px' }, title: m.title },
      el('span', {}, m.label)));
  }
}

/**
 * Draws `result` into `chartBox` and `tableBox`. Returns {heatmap} (the last heatmap drawn,
 * for BubbleUp selection) or {} when there is none.
 * ctx: {spec, step, range, markers: [{t, label, title}], onpick({label, href}), onselect(region, calc)}.
 */
export function drawResults(chartBox, tableBox, result, ctx) {
  const { spec, step, range, markers } = ctx;
  const breakdowns = spec.breakdowns || [];
  const calcs = spec.calculations?.length ? spec.calculations : [{ op: 'COUNT' }];
  const groups = groupsOf(result, breakdowns);
  const byKey = new Map(groups.map(g => [g.key, g]));
  const byName = new Map(groups.map(g => [g.name, g]));
  const rows = (result.data.series || []).map(s => ({ t: Date.parse(s.time) / 1000, data: s.data,
    key: JSON.stringify(breakdowns.map(b => s.data[b] ?? null)) })).filter(r => byKey.has(r.key));
  if (!groups.length) {
    chartBox.replaceChildren(el('div', { class: 'empty' }, 'No events matched this query in the time range.'));
    tableBox.replaceChildren();
    return {};
  }
  const times = bucketTimes(rows, step, range);
  const x0 = times[0], x1 = times[times.length - 1] + step;
  const out = {};
  chartBox.replaceChildren();
  for (const calc of calcs) {
    const plot = el('div', { class: 'q-plot' });
    chartBox.append(el('section', { class: 'q-chart', dataset: { calc: calcLabel(calc) } },
      el('h3', {}, calcLabel(calc), calc.op === 'HEATMAP' ? el('span', { class: 'muted q-hint' }, ' · drag to BubbleUp, click a cell for its traces') : null), plot));
    if (calc.op === 'HEATMAP') out.heatmap = drawHeatmap(plot, calc, rows, { ...ctx, x0, x1 }) || out.heatmap;
    else drawLines(plot, calc, linesFor(calc, groups, rows, times, breakdowns), { ...ctx, x0, x1, byName, breakdowns });
  }
  tableBox.replaceChildren(resultsTable(groups, calcs, breakdowns, spec, range));
  return out;
}

function drawLines(plot, calc, series, { x0, x1, markers, step, spec, byName, breakdowns, onpick }) {
  if (!series.length) { plot.append(el('div', { class: 'empty' }, 'No values for ' + calcLabel(calc) + ' in this range.')); return; }
  lineChart(plot, { series, markers, x0, x1, yFmt: formatter(calc), onclick: (t, name) => {
    const g = byName.get(name);
    if (!g) return;
    onpick({ label: `${name} · ${fmtTime(t)} – ${fmtTime(t + step)}`,
      href: tracesHref(traceQL(spec, groupConditions(breakdowns, g.values)), t, t + step) });
  } });
}

function drawHeatmap(plot, calc, rows, { x0, x1, step, markers, spec, onpick, onselect }) {
  const { columns, lo, hi } = heatmapFor(calc, rows);
  if (!columns.length) { plot.append(el('div', { class: 'empty' }, `No values of ${calc.column} to draw a heatmap.`)); return null; }
  const yFmt = formatter(calc);
  const chart = heatmap(plot, { columns, step, x0, x1, ylo: lo, yhi: hi, height: HEATMAP_HEIGHT, yFmt,
    onselect: region => onselect(region, calc),
    oncell: cell => onpick({ label: `${calc.column} ${yFmt(cell.lo)} – ${yFmt(cell.hi)} · ${fmtTime(cell.t0)} – ${fmtTime(cell.t1)}`,
      href: tracesHref(traceQL(spec, [{ column: calc.column, op: '>=', value: cell.lo }, { column: calc.column, op: '<', value: cell.hi }]), cell.t0, cell.t1) }) });
  heatmapMarkers(chart, markers, x0, x1);
  return chart;
}

function resultsTable(groups, calcs, breakdowns, spec, range) {
  const cols = [
    ...(breakdowns.length ? breakdowns : ['']).map((b, i) => ({
      label: b || 'group',
      value: g => i === 0 ? el('span', { class: 'q-group' }, el('i', { class: 'q-swatch', style: { background: g.color } }),
        breakdowns.length ? cell(g.values[0]) : g.name) : cell(g.values[i]),
    })),
    ...calcs.map(c => ({ label: calcLabel(c), num: true, value: g => calcCell(c, g.data[calcLabel(c)]) })),
    { label: 'traces', value: g => el('a', { class: 'q-traces', href: tracesHref(traceQL(spec, groupConditions(breakdowns, g.values)), range.start, range.end) }, 'traces →') },
  ];
  return table(cols, groups, { empty: 'No results.' });
}

const cell = v => v === null || v === undefined ? el('span', { class: 'muted' }, '(none)') : String(v);

function calcCell(calc, v) {
  if (calc.op === 'HEATMAP') {
    const n = (v?.buckets || []).reduce((a, b) => a + b.count, 0);
    return v?.min === null || v?.min === undefined ? '–' : `${fmtNum(n)} events, ${formatter(calc)(v.min)} – ${formatter(calc)(v.max)}`;
  }
  return formatter(calc)(v);
}
