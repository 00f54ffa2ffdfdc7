// Log events and error occurrences of one trace. Tempo's trace answer holds spans only, so
// they come from the other APIs: a Honeycomb query per dataset filtered on `trace.trace_id`
// (every signal is stored with the W3C id, whatever form the client sent) finds the error
// occurrences (Rollbar: `rollbar.counter`) and log events, and CloudWatch Logs
// `FilterLogEvents` on the log groups those rows name gives each log line its exact time
// (Honeycomb queries return groups, not raw rows, so they carry no timestamp).

import { api, hcQuery, logs } from './core.js';
import { xrayTraceId } from './trace-model.js';

const DATASETS_MAX = 24;
/** Seconds searched around the trace: error reports and log shipping can trail the spans. */
const SLACK_S = 600;
/** Columns worth grouping by, when the dataset has them. */
const WANTED = ['meta.signal_type', 'trace.span_id', 'custom.span_id', 'rollbar.counter', 'rollbar.occurrence_id',
  'level', 'exception.type', 'exception.message', 'message', 'body', 'name', 'service.name',
  'cloudwatch.log_group', 'cloudwatch.log_stream'];

/**
 * {logs: [{time (epoch ms)|null, message, group, stream, spanId, dataset, level}],
 *  errors: [{counter, title, level, spanId, dataset, type}], notes: [text]}
 */
export async function relatedEvents(traceHex, startMs, endMs) {
  const notes = [];
  let datasets = [];
  try { datasets = (await api('/api/waggle/datasets')).datasets || []; } catch (e) {
    return { logs: [], errors: [], notes: ['datasets: ' + e.message] };
  }
  const window = { start_time: Math.floor(startMs / 1000) - SLACK_S, end_time: Math.ceil(endMs / 1000) + SLACK_S };
  const perDataset = await Promise.all(datasets.slice(0, DATASETS_MAX).map(d =>
    datasetRows(d.name, traceHex, window).catch(e => { notes.push(`${d.name}: ${e.message}`); return []; })));
  const rows = perDataset.flat();
  const errors = rows.filter(isErrorRow).map(errorOf);
  const logRows = rows.filter(r => !isErrorRow(r));
  const groups = [...new Set(logRows.map(r => r['cloudwatch.log_group']).filter(Boolean))];
  const exact = await Promise.all(groups.map(g => groupLines(g, traceHex, startMs, endMs).catch(e => {
    notes.push(`log group ${g}: ${e.message}`); return null;
  })));
  const found = new Set(groups.filter((g, i) => exact[i]));
  const lines = [
    ...exact.filter(Boolean).flat(),
    ...logRows.filter(r => !found.has(r['cloudwatch.log_group'])).map(logOf),
  ];
  lines.sort((a, b) => (a.time ?? Infinity) - (b.time ?? Infinity));
  return { logs: lines, errors, notes };
}

async function datasetRows(dataset, traceHex, window) {
  const cols = await api(`/1/columns/${encodeURIComponent(dataset)}`);
  const have = new Set((cols || []).map(c => c.key_name));
  if (!have.has('trace.trace_id')) return [];
  const filters = [{ column: 'trace.trace_id', op: '=', value: traceHex }];
  // Spans are in the waterfall already; only other signals are wanted here.
  if (have.has('meta.signal_type')) filters.push({ column: 'meta.signal_type', op: '!=', value: 'trace' });
  const res = await hcQuery(dataset, {
    ...window, calculations: [{ op: 'COUNT' }], filters, filter_combination: 'AND',
    breakdowns: WANTED.filter(c => have.has(c)), limit: 1000,
  });
  return (res.data?.results || []).map(r => ({ ...r.data, dataset }));
}

function isErrorRow(r) {
  return r['rollbar.counter'] !== undefined && r['rollbar.counter'] !== null || r['meta.signal_type'] === 'error';
}

function errorOf(r) {
  const type = r['exception.type'];
  const msg = r['exception.message'] || r.message;
  return {
    counter: r['rollbar.counter'] ?? null, occurrence: r['rollbar.occurrence_id'] ?? null,
    title: [type, msg].filter(Boolean).join(': ') || r.name || 'error occurrence',
    level: r.level || 'error', type: type || null, spanId: r['trace.span_id'] || r['custom.span_id'] || null,
    dataset: r.dataset, count: r.COUNT || 1,
  };
}

function logOf(r) {
  return {
    time: null, message: r.body ?? r.message ?? r.name ?? '', group: r['cloudwatch.log_group'] || null,
    stream: r['cloudwatch.log_stream'] || null, spanId: r['trace.span_id'] || null,
    dataset: r.dataset, level: r.level || null, count: r.COUNT || 1,
  };
}

/** One log group's lines that mention the trace id in either spelling. */
async function groupLines(group, traceHex, startMs, endMs) {
  const xr = xrayTraceId(traceHex);
  const pattern = xr ? `?"${traceHex}" ?"${xr}"` : `"${traceHex}"`;
  const out = [];
  let nextToken;
  for (let page = 0; page < 5; page++) {
    const r = await logs('FilterLogEvents', {
      logGroupName: group, filterPattern: pattern, limit: 1000, nextToken,
      startTime: Math.floor(startMs) - SLACK_S * 1000, endTime: Math.ceil(endMs) + SLACK_S * 1000,
    });
    for (const e of r.events || []) {
      out.push({ time: e.timestamp, message: e.message, group, stream: e.logStreamName, spanId: spanIdIn(e.message), count: 1 });
    }
    nextToken = r.nextToken;
    if (!nextToken) break;
  }
  return out;
}

/** A span id a structured log line names (`"span_id": "…"`, `span_id=…`, `spanId`). */
function spanIdIn(message) {
  const m = /\b(?:span_?id|spanId|trace\.span_id)["']?\s*[:=]\s*["']?([0-9a-f]{16})\b/i.exec(message || '');
  return m ? m[1].toLowerCase() : null;
}
