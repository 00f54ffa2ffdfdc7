// The trace id of a log message, found client-side with the server's own rules
// (crates/protocols/src/cloudwatch_logs/translate.rs): FilterLogEvents answers carry only the
// message, so the page re-reads it the way the ingest path linked it. First match wins: the
// JSON fields TRACE_ID_KEYS (W3C, X-Ray, `Root=…` or `trace@entity` values), then a W3C
// traceparent anywhere in the text, then an X-Ray `Root=1-…` anywhere in the text.

const TRACE_ID_KEYS = ['trace_id', 'traceId', 'otelTraceID', 'AWS-XRAY-TRACE-ID', 'xray_trace_id', 'traceparent'];
/** translate.rs JSON_MESSAGE_BYTES_MAX: longer messages are text, not structure. */
const JSON_MESSAGE_MAX = 256 * 1024;
/** model::ids ID_TEXT_LEN_MAX. */
const ID_TEXT_MAX = 64;

const HEX = /^[0-9a-f]+$/i;
const hex = (s, len) => s.length === len && HEX.test(s);
const nonZero = h => /[1-9a-f]/i.test(h);

/** The message as a JSON object, or null (same bounds as the server). */
export function jsonObject(message) {
  const t = String(message).trim();
  if (t.length > JSON_MESSAGE_MAX || !t.startsWith('{') || !t.endsWith('}')) return null;
  try {
    const v = JSON.parse(t);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch { return null; }
}

/** TraceId::parse: 32 hex (optional 0x), 16 hex (zero-extended), a UUID, or X-Ray 1-8-24;
 * answers the 32-digit lowercase hex every trace API accepts, or null. */
export function parseTraceId(text) {
  let t = String(text).trim();
  if (!t || t.length > ID_TEXT_MAX) return null;
  if (t.startsWith('0x')) t = t.slice(2);
  let h = null;
  if (t.startsWith('1-')) {
    const parts = t.slice(2).split('-');
    if (parts.length === 2 && hex(parts[0], 8) && hex(parts[1], 24)) h = parts[0] + parts[1];
  } else if (t.length === 36 && t[8] === '-') {
    const compact = t.replace(/-/g, '');
    if (hex(compact, 32)) h = compact;
  } else if (hex(t, 16)) h = '0'.repeat(16) + t;
  else if (hex(t, 32)) h = t;
  return h && nonZero(h) ? h.toLowerCase() : null;
}

/** A W3C traceparent `vv-<32>-<16>-<2>` between word boundaries, version not ff. */
function findTraceparent(text) {
  const re = /(?<![A-Za-z0-9])([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?![A-Za-z0-9])/gi;
  for (const m of text.matchAll(re)) {
    if (m[1].toLowerCase() === 'ff') continue;
    const id = parseTraceId(m[2]);
    if (id) return id;
  }
  return null;
}

/** X-Ray `Root=1-<8 hex>-<24 hex>` (X-Amzn-Trace-Id, _X_AMZN_TRACE_ID). */
function findXrayRoot(text) {
  for (const m of text.matchAll(/Root=(1-[0-9a-f]{8}-[0-9a-f]{24})/gi)) {
    const id = parseTraceId(m[1]);
    if (id) return id;
  }
  return null;
}

/** translate::parse_trace_value: a trace id field's value in any form clients write. */
function traceFromValue(s) {
  s = s.trim();
  if (s.includes('Root=')) return findXrayRoot(s);
  const tp = findTraceparent(s);
  if (tp) return tp;
  const at = s.indexOf('@');
  if (at >= 0) return parseTraceId(s.slice(0, at));
  return parseTraceId(s);
}

/** The trace id (32 lowercase hex) a message links to, or null. */
export function traceIdOf(message, json = jsonObject(message)) {
  if (json) {
    for (const k of TRACE_ID_KEYS) {
      if (typeof json[k] !== 'string') continue;
      const id = traceFromValue(json[k]);
      if (id) return id;
    }
  }
  const text = String(message);
  return findTraceparent(text) || findXrayRoot(text);
}
