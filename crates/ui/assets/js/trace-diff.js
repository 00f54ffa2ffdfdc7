// Two traces compared (the compare view, trace-compare.js): their span trees aligned by
// (service, span name) and, per (service, span name), counts and durations in A and B.
// Pure functions on parseTrace() models, no DOM.

/** The key spans are aligned and summed by. */
export function spanKey(sp) { return sp.service + '\u0000' + sp.name; }

// Cells of one longest-common-subsequence table (our choice: two sibling lists of 200 spans;
// wider fan-outs pair the k-th span of a name in A with the k-th in B instead).
const LCS_CELLS_MAX = 40000;

/**
 * Siblings of A and B paired in display order: [[a, b]], [a, null] (only in A) or
 * [null, b] (only in B). Both lists are in start order.
 */
export function matchSiblings(as, bs) {
  if (!bs.length) return as.map(a => [a, null]);
  if (!as.length) return bs.map(b => [null, b]);
  return as.length * bs.length <= LCS_CELLS_MAX ? lcsPairs(as, bs) : occurrencePairs(as, bs);
}

/** Order-preserving: the longest run of equal keys common to both, the rest interleaved. */
function lcsPairs(as, bs) {
  const n = as.length, m = bs.length, w = m + 1;
  const ka = as.map(spanKey), kb = bs.map(spanKey);
  // L[i*w+j]: the common length of as[i..] and bs[j..] (at most min(n, m) ≤ 200).
  const L = new Uint16Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      L[i * w + j] = ka[i] === kb[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
    }
  }
  const out = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (ka[i] === kb[j]) out.push([as[i++], bs[j++]]);
    else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) out.push([as[i++], null]);
    else out.push([null, bs[j++]]);
  }
  while (i < n) out.push([as[i++], null]);
  while (j < m) out.push([null, bs[j++]]);
  return out;
}

/** Wide fan-outs: the k-th A span of a key with the k-th B span; B's leftovers by start. */
function occurrencePairs(as, bs) {
  const queues = new Map();
  for (const b of bs) {
    const k = spanKey(b);
    if (!queues.has(k)) queues.set(k, { list: [], next: 0 });
    queues.get(k).list.push(b);
  }
  const used = new Set();
  const paired = as.map(a => {
    const q = queues.get(spanKey(a));
    const b = q && q.next < q.list.length ? q.list[q.next++] : null;
    if (b) used.add(b);
    return [a, b];
  });
  const rest = bs.filter(b => !used.has(b));
  const out = [];
  let i = 0, j = 0;
  while (i < paired.length || j < rest.length) {
    if (j >= rest.length || (i < paired.length && paired[i][0].start <= rest[j].start)) out.push(paired[i++]);
    else out.push([null, rest[j++]]);
  }
  return out;
}

/**
 * The two trees aligned: pair nodes {a, b, children} (a or b null where only one trace has
 * the span), and `partner`: each span → its counterpart in the other trace.
 */
export function alignTraces(A, B) {
  const partner = new Map();
  const node = ([a, b]) => {
    if (a && b) { partner.set(a, b); partner.set(b, a); }
    return { a, b, children: [] };
  };
  const roots = matchSiblings(A.roots, B.roots).map(node);
  const stack = roots.slice();
  while (stack.length) {
    const p = stack.pop();
    p.children = matchSiblings(p.a ? p.a.children : [], p.b ? p.b.children : []).map(node);
    for (const c of p.children) stack.push(c);
  }
  let matched = 0, onlyA = 0, onlyB = 0;
  for (const p of flattenPairs(roots, () => false)) {
    if (p.a && p.b) matched++; else if (p.a) onlyA++; else onlyB++;
  }
  return { roots, partner, matched, onlyA, onlyB };
}

/** Depth-first pair order, skipping the children of pairs `collapsed(pair)` says are shut. */
export function flattenPairs(roots, collapsed) {
  const out = [];
  const stack = roots.slice().reverse();
  while (stack.length) {
    const p = stack.pop();
    out.push(p);
    if (!p.children.length || collapsed(p)) continue;
    for (let i = p.children.length - 1; i >= 0; i--) stack.push(p.children[i]);
  }
  return out;
}

/** Per (service, span name): count, total and average duration (ms), errors. */
export function spanStats(model) {
  const out = new Map();
  for (const sp of model.spans) {
    const k = spanKey(sp);
    let s = out.get(k);
    if (!s) out.set(k, s = { service: sp.service, name: sp.name, count: 0, total: 0, errors: 0 });
    s.count++;
    s.total += sp.duration;
    if (sp.error) s.errors++;
  }
  for (const s of out.values()) s.avg = s.total / s.count;
  return out;
}

/**
 * The summary table's rows: {key, service, name, a, b (spanStats entries or null), dCount,
 * dTotal, dAvg (B − A; null when one side lacks the key)}, largest total difference first.
 */
export function compareStats(A, B) {
  const sa = spanStats(A), sb = spanStats(B);
  const rows = [];
  for (const k of new Set([...sa.keys(), ...sb.keys()])) {
    const a = sa.get(k) || null, b = sb.get(k) || null;
    const one = a || b;
    rows.push({
      key: k, service: one.service, name: one.name, a, b,
      dCount: (b ? b.count : 0) - (a ? a.count : 0),
      dTotal: (b ? b.total : 0) - (a ? a.total : 0),
      dAvg: a && b ? b.avg - a.avg : null,
    });
  }
  rows.sort((x, y) => Math.abs(y.dTotal) - Math.abs(x.dTotal) || x.service.localeCompare(y.service) || x.name.localeCompare(y.name));
  return rows;
}

/**
 * Whether a difference is worth highlighting: 'worse' (B takes longer / has more), 'better',
 * or '' (our choice: at least 10 % of the larger value and, for times, 0.1 ms).
 */
export function change(a, b, { ms = true } = {}) {
  const d = b - a;
  const big = Math.max(Math.abs(a), Math.abs(b));
  if (!big || Math.abs(d) < big * 0.1 || (ms && Math.abs(d) < 0.1)) return '';
  return d > 0 ? 'worse' : 'better';
}
