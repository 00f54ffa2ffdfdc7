// Honeycomb filters → a TraceQL spanset filter `{ … }`, so a clicked group, point or heatmap
// cell opens the traces page on the spans behind it. Field names follow how Waggle's TraceQL
// reads its columns (crates/query/src/traceql/mod.rs): `name`, `duration` (= duration_ms),
// `resource.service.name`, and `.key` for every other column.

import { links } from './core.js';

/** Intrinsics whose column has its own TraceQL name. */
const INTRINSIC = { name: 'name', duration_ms: 'duration', 'service.name': 'resource.service.name', 'trace.trace_id': 'trace:id' };

function field(column) {
  if (INTRINSIC[column]) return INTRINSIC[column];
  // Unquoted attribute names stop at blanks and `{}()=~!<>&|^,` (Tempo's isAttributeRune).
  return /^[^\s{}()=~!<>&|^,"]+$/.test(column) ? '.' + column : '."' + column.replace(/["\\]/g, '\\$&') + '"';
}

/** duration_ms values are durations in TraceQL; µs keeps sub-millisecond bounds exact enough. */
function literal(column, v) {
  if (v === null || v === undefined) return 'nil';
  if (column === 'duration_ms' && typeof v === 'number') return Math.round(v * 1000) + 'us';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(String(v));
}

const reEscape = s => String(s).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One Honeycomb filter as a TraceQL condition. */
export function condition({ column, op, value }) {
  const f = field(column), lit = v => literal(column, v);
  const re = (neg, pattern) => `${f} ${neg ? '!~' : '=~'} ${JSON.stringify(pattern)}`;
  switch (op) {
    case 'exists': return `${f} != nil`;
    case 'does-not-exist': return `${f} = nil`;
    case 'starts-with': return re(false, reEscape(value) + '.*');
    case 'does-not-start-with': return re(true, reEscape(value) + '.*');
    case 'ends-with': return re(false, '.*' + reEscape(value));
    case 'does-not-end-with': return re(true, '.*' + reEscape(value));
    case 'contains': return re(false, '.*' + reEscape(value) + '.*');
    case 'does-not-contain': return re(true, '.*' + reEscape(value) + '.*');
    case 'in': return '(' + [].concat(value).map(v => `${f} = ${lit(v)}`).join(' || ') + ')';
    case 'not-in': return '(' + [].concat(value).map(v => `${f} != ${lit(v)}`).join(' && ') + ')';
    default: return value === null ? `${f} = nil` : `${f} ${op} ${lit(value)}`;
  }
}

/**
 * `{ (WHERE) && group && extra }`: the spec's filters (AND/OR as the spec says), then the
 * extra conditions (a group's values, a cell's value range), all ANDed.
 */
export function traceQL(spec, extra = []) {
  const parts = [];
  const where = (spec.filters || []).map(condition);
  if (where.length) parts.push(spec.filter_combination === 'OR' && where.length > 1 ? '(' + where.join(' || ') + ')' : where.join(' && '));
  parts.push(...extra.map(condition));
  return parts.length ? `{ ${parts.join(' && ')} }` : '{ }';
}

/** Equality conditions for one result group: breakdown column = that group's value. */
export function groupConditions(breakdowns, values) {
  return breakdowns.map((b, i) => ({ column: b, op: '=', value: values[i] ?? null }));
}

/** The traces page for a TraceQL query over [start, end] epoch seconds. */
export function tracesHref(q, start, end) {
  return links.traces({ q, start: Math.floor(start), end: Math.ceil(end) });
}
