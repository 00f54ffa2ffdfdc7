// Logs Insights tab: a query editor, StartQuery then GetQueryResults until the query
// finishes, a results table and — for `stats … by bin(…)` — a line chart of each stat.

import { logs, el, table, errorBox, timeRange, getParam, setParams, fmtNum, colorFor, links } from './core.js';
import { lineChart } from './chart.js';
import { traceIdOf } from './logs-trace.js';
import { fmtBytes, shortId } from './logs-rows.js';

export const DEFAULT_QUERY = 'fields @timestamp, @message | sort @timestamp desc | limit 20';
const EXAMPLES = [
  ['Recent events', DEFAULT_QUERY],
  ['Events per minute', 'stats count(*) by bin(1m)'],
  ['Errors per minute', 'filter @message like /ERROR/ | stats count(*) as errors by bin(1m)'],
  ['Busiest streams', 'stats count(*) as events by @logStream | sort events desc'],
];
const POLL_MS = 400;
const SERIES_MAX = 10;
const RUNNING = new Set(['Scheduled', 'Running']);

/** Renders the tab into `into` for `group`; returns a stop function (cancels a running query). */
export function insightsTab(into, group) {
  let run = 0, queryId = null;
  const editor = el('textarea', { id: 'insights-query', rows: 4, spellcheck: 'false', 'aria-label': 'Logs Insights query',
    onkeydown: e => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); start(); } } },
  getParam('query') || DEFAULT_QUERY);
  const button = el('button', { id: 'run-insights', class: 'primary', type: 'button', onclick: () => start() }, 'Run query');
  const status = el('span', { class: 'muted', id: 'insights-status', role: 'status' });
  const chart = el('div', { id: 'insights-chart', hidden: true });
  const results = el('div', { id: 'insights-results' },
    el('div', { class: 'empty' }, 'Run a query to see results. Ctrl+Enter runs it from the editor.'));
  const examples = el('div', { class: 'row insights-examples' }, el('span', { class: 'muted' }, 'Examples:'),
    EXAMPLES.map(([label, q]) => el('button', { type: 'button', class: 'link-button', onclick: () => { editor.value = q; editor.focus(); } }, label)));
  into.replaceChildren(el('section', { class: 'insights' },
    el('div', { class: 'panel' }, editor,
      el('div', { class: 'row' }, button, status, el('span', { class: 'grow' }),
        el('span', { class: 'muted' }, 'Querying ', el('strong', {}, group), ' over the selected time range')),
      examples),
    chart, results));

  async function start() {
    const mine = ++run;
    const queryString = editor.value.trim();
    if (!queryString) { editor.focus(); return; }
    setParams({ query: queryString === DEFAULT_QUERY ? null : queryString }, false);
    const r = timeRange();
    const t0 = performance.now();
    button.disabled = true;
    status.textContent = 'Running…';
    try {
      queryId = (await logs('StartQuery', { logGroupNames: [group], startTime: r.start, endTime: r.end, queryString })).queryId;
      let res = await logs('GetQueryResults', { queryId });
      while (RUNNING.has(res.status) && mine === run) {
        await new Promise(ok => setTimeout(ok, POLL_MS));
        res = await logs('GetQueryResults', { queryId });
      }
      if (mine !== run) return;
      queryId = null;
      if (res.status !== 'Complete') throw new Error(`The query ended with status ${res.status}.`);
      status.textContent = summary(res.statistics, performance.now() - t0, res.results.length);
      show(queryString, res.results, r);
    } catch (e) {
      if (mine !== run) return;
      status.textContent = '';
      chart.hidden = true;
      errorBox(e, results);
    } finally {
      if (mine === run) button.disabled = false;
    }
  }

  function show(queryString, rows, range) {
    const fields = fieldsOf(rows);
    const records = rows.map(row => Object.fromEntries(row.map(f => [f.field, f.value])));
    const plot = chartPlan(queryString, fields, records);
    chart.hidden = !plot;
    if (plot) drawChart(chart, plot, records, range);
    results.replaceChildren(resultsTable(fields, records));
  }

  if (getParam('query')) start();
  return () => {
    run++;
    if (queryId) logs('StopQuery', { queryId }).catch(() => {});
    queryId = null;
  };
}

function summary(st = {}, ms, n) {
  return `${fmtNum(n)} rows · ${fmtNum(st.recordsMatched ?? 0)} records matched of ${fmtNum(st.recordsScanned ?? 0)} scanned` +
    ` · ${fmtBytes(st.bytesScanned ?? 0)} scanned · ${(ms / 1000).toFixed(1)} s`;
}

/** Every field of the results, in first-seen order (`@ptr` is an internal pointer). */
function fieldsOf(rows) {
  const seen = new Set();
  for (const row of rows) for (const f of row) if (f.field !== '@ptr') seen.add(f.field);
  return [...seen];
}

const isNum = v => v !== undefined && v !== '' && !Number.isNaN(Number(v));

function resultsTable(fields, records) {
  if (!records.length) return el('div', { class: 'empty' }, 'No results in this time range.');
  const hasMsg = fields.includes('@message');
  const numeric = new Set(fields.filter(f => records.every(r => r[f] === undefined || isNum(r[f]))));
  const columns = fields.map(f => ({
    label: f, num: numeric.has(f),
    value: r => r[f] === undefined ? '' : numeric.has(f) ? fmtNum(Number(r[f])) : el('span', { class: 'mono cell-text' }, r[f]),
  }));
  if (hasMsg && records.some(r => traceIdOf(r['@message'] || ''))) {
    columns.push({ label: 'trace', value: r => {
      const id = traceIdOf(r['@message'] || '');
      return id ? el('a', { class: 'log-trace-link mono', href: links.trace(id), title: 'Open trace ' + id }, shortId(id)) : '';
    } });
  }
  return table(columns, records);
}

/** The last `stats` command's `by` names (alias or expression text), or null. */
function statsGroups(queryString) {
  const stats = queryString.split('|').map(s => s.trim()).filter(s => /^stats\b/i.test(s)).pop();
  if (!stats) return null;
  const by = stats.match(/\bby\b([\s\S]*)$/i);
  if (!by) return [];
  return splitTop(by[1]).map(part => {
    const alias = part.match(/\bas\s+([\w@.$]+)\s*$/i);
    return { name: alias ? alias[1] : part.replace(/\s+/g, ''), bin: /^bin\s*\(/i.test(part) };
  });
}

/** Splits on commas outside parentheses. */
function splitTop(text) {
  const out = [];
  let depth = 0, cur = '';
  for (const c of text) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** What to plot: the bin field over time, one line per stat (× other group values). */
function chartPlan(queryString, fields, records) {
  const groups = statsGroups(queryString);
  if (!groups || !records.length) return null;
  const squash = s => s.replace(/\s+/g, '');
  const binGroup = groups.find(g => g.bin);
  const bin = binGroup && fields.find(f => squash(f) === binGroup.name);
  if (!bin) return null;
  const groupNames = new Set(groups.map(g => g.name));
  const others = fields.filter(f => f !== bin && groupNames.has(squash(f)));
  const stats = fields.filter(f => f !== bin && !others.includes(f) && records.every(r => r[f] === undefined || isNum(r[f])));
  return stats.length ? { bin, others, stats } : null;
}

/** Insights prints bins as UTC `YYYY-MM-DD HH:MM:SS.mmm`. */
const binSeconds = v => Date.parse(String(v).replace(' ', 'T') + 'Z') / 1000;

function drawChart(into, { bin, others, stats }, records, range) {
  const byName = new Map();
  for (const r of records) {
    const t = binSeconds(r[bin]);
    if (Number.isNaN(t)) continue;
    const suffix = others.map(o => r[o] ?? '—').join(' · ');
    for (const s of stats) {
      if (!isNum(r[s])) continue;
      const name = suffix ? `${s} · ${suffix}` : s;
      if (!byName.has(name)) byName.set(name, []);
      byName.get(name).push([t, Number(r[s])]);
    }
  }
  const series = [...byName].slice(0, SERIES_MAX).map(([name, points], i) => ({
    name, color: colorFor(name, i), points: points.sort((a, b) => a[0] - b[0]),
  }));
  if (!series.length) { into.hidden = true; return; }
  into.replaceChildren();
  const box = el('div', { class: 'panel' });
  into.append(box);
  // Bins start on round times, so the first one may begin before the range does.
  const ts = series.flatMap(s => s.points.map(p => p[0]));
  lineChart(box, { series, x0: Math.min(range.start, ...ts), x1: Math.max(range.end, ...ts) });
  if (byName.size > SERIES_MAX) box.append(el('p', { class: 'muted' }, `Showing ${SERIES_MAX} of ${byName.size} series.`));
}
