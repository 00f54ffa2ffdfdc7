// The trace page's model: Tempo v1 JSON (OTLP/JSON `batches`) → spans with a parent/child
// tree, times relative to the trace start, the flattened row order and the critical path.
// Pure functions, no DOM.

/** A trace id as 32 lowercase hex (W3C); X-Ray `1-xxxxxxxx-yyyy…` ids are converted. */
export function hexTraceId(id) {
  const s = String(id || '').trim().toLowerCase();
  const xr = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(s);
  if (xr) return xr[1] + xr[2];
  return s.replace(/-/g, '');
}

/** The X-Ray form of a 32-hex id (X-Ray log lines and headers spell it so). */
export function xrayTraceId(hex) {
  return /^[0-9a-f]{32}$/.test(hex) ? `1-${hex.slice(0, 8)}-${hex.slice(8)}` : null;
}

/** A trace id as typed or pasted (a hex or X-Ray id, or a trace page's address) → 32 or 16
 * hex digits, or null. */
export function parseTraceIdInput(text) {
  let s = String(text || '').trim();
  const url = /\/trace\/([^/?#\s]+)/.exec(s);
  if (url) { try { s = decodeURIComponent(url[1]); } catch { s = url[1]; } }
  const hex = hexTraceId(s);
  return /^([0-9a-f]{32}|[0-9a-f]{16})$/.test(hex) ? hex : null;
}

/** What to say when `/api/traces/<id>` failed. */
export function traceLoadError(id, e) {
  return e.status === 404 ? `Trace ${id} was not found: it may not have arrived yet, or be older than the retention.`
    : e.status === 400 ? `“${id}” is not a trace id (32 hex digits, or an X-Ray id 1-xxxxxxxx-…): ${e.message}` : e.message;
}

/** An OTLP/JSON AnyValue as a plain JS value. */
export function anyValue(v) {
  if (!v || typeof v !== 'object') return v ?? null;
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return (v.arrayValue.values || []).map(anyValue);
  if ('kvlistValue' in v) return attrs(v.kvlistValue.values);
  if ('bytesValue' in v) return v.bytesValue;
  return null;
}

/** OTLP/JSON attributes ([{key, value}]) as an object. */
export function attrs(list) {
  const out = {};
  for (const a of list || []) out[a.key] = anyValue(a.value);
  return out;
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS = ['unset', 'ok', 'error'];

function big(s) {
  try { return BigInt(s || 0); } catch { return 0n; }
}

/**
 * Parses a Tempo v1 trace. Returns {spans, byId, roots, t0Ms (epoch ms of the first start),
 * durationMs, services}; each span has start/end/duration in ms relative to the trace start.
 */
export function parseTrace(body) {
  const batches = body?.batches || body?.resourceSpans || body?.trace?.resourceSpans || [];
  const raw = [];
  let t0 = null;
  for (const b of batches) {
    const resource = attrs(b.resource?.attributes);
    const service = String(resource['service.name'] ?? 'unknown');
    for (const ss of b.scopeSpans || b.instrumentationLibrarySpans || []) {
      const scope = ss.scope || ss.instrumentationLibrary || null;
      for (const s of ss.spans || []) {
        const start = big(s.startTimeUnixNano), end = big(s.endTimeUnixNano);
        if (t0 === null || start < t0) t0 = start;
        raw.push({ s, start, end, resource, service, scope });
      }
    }
  }
  if (t0 === null) t0 = 0n;
  const spans = raw.map(({ s, start, end, resource, service, scope }, index) => {
    const startMs = Number(start - t0) / 1e6;
    const dur = end > start ? Number(end - start) / 1e6 : 0;
    const status = { code: STATUS[s.status?.code || 0] || 'unset', message: s.status?.message || '' };
    const a = attrs(s.attributes);
    return {
      index, id: s.spanId, parentId: s.parentSpanId || null, traceId: s.traceId,
      name: s.name || '(unnamed)', service, kind: KINDS[s.kind || 0] || String(s.kind),
      start: startMs, duration: dur, end: startMs + dur,
      attributes: a, resource, scope,
      events: (s.events || []).map(e => ({
        name: e.name, time: Number(big(e.timeUnixNano) - t0) / 1e6, attributes: attrs(e.attributes),
      })),
      links: (s.links || []).map(l => ({ traceId: l.traceId, spanId: l.spanId, attributes: attrs(l.attributes) })),
      status, error: isError(status, a),
      children: [], parent: null, depth: 0, logs: [], errors: [],
    };
  });
  const byId = new Map();
  for (const sp of spans) if (sp.id && !byId.has(sp.id)) byId.set(sp.id, sp);
  const roots = [];
  for (const sp of spans) {
    const p = sp.parentId && byId.get(sp.parentId);
    if (p && p !== sp) { sp.parent = p; p.children.push(sp); } else {
      sp.orphan = !!sp.parentId;
      roots.push(sp);
    }
  }
  const byStart = (a, b) => a.start - b.start || a.index - b.index;
  roots.sort(byStart);
  for (const sp of spans) if (sp.children.length > 1) sp.children.sort(byStart);
  const order = flatten(roots, new Set());
  order.forEach((sp, i) => { sp.order = i; });
  setDepths(roots);
  const durationMs = spans.reduce((m, s) => Math.max(m, s.end), 0);
  const services = [...new Set(spans.map(s => s.service))];
  return { spans, byId, roots, order, t0Ms: Number(t0 / 1000000n) + Number(t0 % 1000000n) / 1e6, durationMs, services };
}

function isError(status, a) {
  return status.code === 'error' || a.error === true || a['aws.xray.fault'] === true || a['aws.xray.error'] === true;
}

function setDepths(roots) {
  const stack = roots.map(r => [r, 0]);
  while (stack.length) {
    const [sp, d] = stack.pop();
    sp.depth = d;
    for (const c of sp.children) stack.push([c, d + 1]);
  }
}

/** Depth-first row order, skipping the children of `collapsed` spans (iterative: deep traces). */
export function flatten(roots, collapsed) {
  const out = [];
  const stack = roots.slice().reverse();
  while (stack.length) {
    const sp = stack.pop();
    out.push(sp);
    if (collapsed.has(sp) || !sp.children.length) continue;
    for (let i = sp.children.length - 1; i >= 0; i--) stack.push(sp.children[i]);
  }
  return out;
}

/**
 * The critical path: from the root that ends last, repeatedly the child that ends last
 * (the work the parent waited on at its end).
 */
export function criticalPath(roots) {
  const path = new Set();
  let cur = roots.reduce((best, r) => (!best || r.end > best.end ? r : best), null);
  while (cur) {
    path.add(cur);
    cur = cur.children.reduce((best, c) => (!best || c.end > best.end ? c : best), null);
  }
  return path;
}

/** The spans whose name, service, id or any attribute value contains `text` (lower case). */
export function searchSpans(spans, text) {
  const q = text.trim().toLowerCase();
  const hits = new Set();
  if (!q) return hits;
  for (const sp of spans) if (spanText(sp).includes(q)) hits.add(sp);
  return hits;
}

function spanText(sp) {
  if (sp.searchText === undefined) {
    const vals = [sp.name, sp.service, sp.id, sp.status.message];
    for (const [k, v] of Object.entries(sp.attributes)) vals.push(k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v));
    for (const e of sp.events) vals.push(e.name);
    sp.searchText = vals.join('\n').toLowerCase();
  }
  return sp.searchText;
}

/** The span a log line at `ms` (relative) most likely belongs to: the deepest one open then. */
export function spanAt(spans, ms, service) {
  let best = null;
  for (const sp of spans) {
    if (ms < sp.start || ms > sp.end + 0.5) continue;
    const better = !best || sp.depth > best.depth ||
      (sp.depth === best.depth && service && sp.service === service && best.service !== service);
    if (better) best = sp;
  }
  return best;
}

/** Fields X-Ray segments carry (crates/protocols/src/xray/FIELDS.md), parsed for display. */
export function xrayView(sp) {
  const a = sp.attributes;
  if (a['aws.xray.type'] === undefined) return null;
  const json = k => {
    if (typeof a[k] !== 'string') return a[k];
    try { return JSON.parse(a[k]); } catch { return a[k]; }
  };
  const pick = prefix => Object.fromEntries(Object.entries(a).filter(([k]) => k.startsWith(prefix))
    .map(([k, v]) => [k.slice(prefix.length), v]));
  return {
    type: a['aws.xray.type'], origin: a['aws.xray.origin'], namespace: a['aws.xray.namespace'],
    flags: ['error', 'fault', 'throttle'].filter(f => a['aws.xray.' + f] === true),
    inProgress: a['aws.xray.in_progress'] === true,
    annotations: pick('annotation.'),
    http: pick('http.'),
    metadata: json('aws.xray.metadata'),
    aws: json('aws.xray.aws'),
    service: json('aws.xray.service'),
    cause: json('aws.xray.cause'),
    sql: pick('sql.'),
    user: a['enduser.id'],
  };
}
