// The compare view: two traces side by side, as the trace page with `?compare=<id>` (A is
// the page's trace, B the parameter; no page or server route of its own). Both waterfalls
// (trace-waterfall.js) run on one aligned row order (trace-diff.js): a span and its
// counterpart of the same (service, name) share a row and a hatched gap stands where only
// the other trace has a span; scrolling, zooming on a shared time scale and collapsing move
// both. Below them: the selected pair side by side, and per (service, span name) the count
// and total/average duration in A and B with the difference.
// URL: /ui/trace/<A>?compare=<B>[&span=<id>][&scale=own]; the "Compare with…" form is here too.

import { api, el, show, getParam, setParams, fmtMs, fmtNum, fmtTime, colorFor, links, table } from './core.js';
import { parseTrace, criticalPath, hexTraceId, parseTraceIdInput, traceLoadError } from './trace-model.js';
import { waterfall } from './trace-waterfall.js';
import { alignTraces, flattenPairs, compareStats, change } from './trace-diff.js';

const SIDES = ['A', 'B'];

/**
 * Renders trace `idA` beside trace `idB`. `current()` turns false once the page has moved
 * on (a later render). Returns the Back/Forward handler for the `span` parameter, or null.
 */
export async function renderCompare(idA, idB, { current }) {
  setHeading('Compare traces', `Compare ${short(idA)} with ${short(idB)} · Waggle`);
  show(el('p', { class: 'muted' }, 'Loading both traces…'));
  const got = await Promise.allSettled([idA, idB].map(id => api('/api/traces/' + encodeURIComponent(id))));
  if (!current() || document.getElementById('token-form')) return null;
  const failed = got.map((r, i) => (r.status === 'rejected' ? [i, r.reason] : null)).filter(Boolean);
  if (failed.length) {
    show(el('div', { id: 'compare-error' },
      failed.map(([i, e]) => el('div', { class: 'notice error', role: 'alert' }, `Trace ${SIDES[i]}: ${traceLoadError(i ? idB : idA, e)}`)),
      el('p', {}, el('a', { href: links.trace(idA) }, 'Back to trace A'), ' · ', el('a', { href: '/ui/traces' }, 'Search for traces'))));
    return null;
  }
  const models = got.map(r => parseTrace(r.value));
  const empty = models.findIndex(m => !m.spans.length);
  if (empty >= 0) {
    show(el('div', { class: 'empty' }, `Trace ${SIDES[empty]} has no spans. `, el('a', { href: links.trace(idA) }, 'Back to trace A'), '.'));
    return null;
  }
  const side = models.map((model, i) => ({
    letter: SIDES[i], id: i ? idB : idA, model, hex: hexTraceId(model.spans[0].traceId || (i ? idB : idA)),
    critical: criticalPath(model.roots), collapsed: new Set(), wf: null,
  }));
  const al = alignTraces(models[0], models[1]);
  const shut = p => (p.a && side[0].collapsed.has(p.a)) || (p.b && side[1].collapsed.has(p.b));
  const detail = el('section', { id: 'compare-detail', class: 'panel', 'aria-label': 'Selected span in A and B' });
  const panes = el('div', { class: 'cmp-panes', id: 'compare-panes' });
  let chosen = null; // {a, b}: the selected pair

  const pick = (s, sp) => {
    const other = side[s.letter === 'A' ? 1 : 0];
    const partner = al.partner.get(sp) || null;
    if (partner) other.wf.select(partner, { quiet: true, scroll: false }); else other.wf.deselect();
    chosen = s.letter === 'A' ? { a: sp, b: partner } : { a: partner, b: sp };
    pairDetail(detail, chosen, side);
    setParams({ span: sp.id }, false);
  };

  /** (Re)builds both waterfalls: on the shared scale unless `?scale=own`. */
  const build = () => {
    const own = getParam('scale') === 'own';
    const total = own ? undefined : Math.max(models[0].durationMs, models[1].durationMs);
    for (const [i, s] of side.entries()) {
      const other = side[1 - i];
      s.wf = waterfall(s.model, {
        critical: s.critical, id: `cmp-${s.letter.toLowerCase()}-`, label: `Spans of trace ${s.letter}`, total,
        collapsed: s.collapsed,
        rows: () => flattenPairs(al.roots, shut).map(p => (i ? p.b : p.a)),
        onselect: sp => pick(s, sp),
        rowClass: sp => (al.partner.has(sp) ? '' : 'solo'),
        oncollapse: (sp, isShut) => {
          const partner = al.partner.get(sp);
          if (partner) other.wf.setCollapsed(partner, isShut);
          other.wf.relayout();
        },
      });
    }
    panes.replaceChildren(...side.map(s => el('div', { class: 'cmp-pane', dataset: { side: s.letter } },
      el('div', { class: 'cmp-pane-head' }, abBadge(s.letter), el('span', { class: 'mono' }, short(s.hex)),
        el('span', { class: 'muted' }, `${fmtMs(s.model.durationMs)} · ${fmtNum(s.model.spans.length)} spans`)),
      s.wf.element)));
    // Aligned rows stay aligned: each body follows the other's scroll position.
    const [a, b] = side.map(s => s.wf.body);
    for (const [from, to] of [[a, b], [b, a]]) {
      from.addEventListener('scroll', () => { if (to.scrollTop !== from.scrollTop) to.scrollTop = from.scrollTop; }, { passive: true });
    }
    if (!own) {
      for (const [x, y] of [[side[0], side[1]], [side[1], side[0]]]) {
        x.wf.element.addEventListener('zoom', e => y.wf.zoomTo(e.detail.w0, e.detail.w1));
      }
    }
    for (const s of side) s.wf.element.addEventListener('zoom', e => { resetZoom.disabled = !e.detail.zoomed; });
  };
  const start = () => {
    side.forEach(s => { s.wf.start(); s.wf.setCritical(crit.checked); });
    resetZoom.disabled = true;
    if (chosen) {
      const s = chosen.a ? side[0] : side[1];
      s.wf.select(chosen.a || chosen.b);
    }
  };

  const scale = el('input', { type: 'checkbox', id: 'compare-same-scale', checked: getParam('scale') !== 'own' });
  scale.addEventListener('change', () => {
    setParams({ scale: scale.checked ? null : 'own' }, false);
    build(); start();
  });
  const crit = el('input', { type: 'checkbox', id: 'compare-critical', checked: true });
  crit.addEventListener('change', () => side.forEach(s => s.wf.setCritical(crit.checked)));
  const resetZoom = el('button', { type: 'button', id: 'compare-reset-zoom', disabled: true,
    onclick: () => side.forEach(s => s.wf.resetZoom()) }, 'Reset zoom');
  const tools = el('div', { class: 'row trace-tools cmp-tools' },
    el('label', { class: 'check', title: 'Off: each waterfall spans its own trace' }, scale, ' same time scale'),
    el('label', { class: 'check' }, crit, ' critical path'),
    el('span', { class: 'cmp-gap-key muted' }, el('i', { class: 'gap-swatch' }), 'only in the other trace'),
    el('span', { class: 'grow' }),
    el('button', { type: 'button', onclick: () => { side.forEach(s => s.wf.collapseAll()); side.forEach(s => s.wf.relayout()); } }, 'Collapse all'),
    el('button', { type: 'button', onclick: () => { side.forEach(s => s.wf.expandAll()); side.forEach(s => s.wf.relayout()); } }, 'Expand all'),
    resetZoom);

  build();
  show(heads(side, al), tools, panes, detail, diffTable(models, side));
  start();
  const fromUrl = () => {
    const id = (getParam('span') || '').toLowerCase();
    for (const s of side) {
      const sp = s.model.byId.get(id);
      if (sp) { s.wf.select(sp); return true; }
    }
    return false;
  };
  if (!fromUrl()) pairDetail(detail, null, side);
  return () => { fromUrl(); };
}

/** The page heading and the tab's title (the shell's say "Trace"). */
export function setHeading(h1, title) {
  const h = document.querySelector('main > h1');
  if (h) h.textContent = h1;
  document.title = title;
}

function short(id) { return id.length > 12 ? id.slice(0, 8) + '…' + id.slice(-4) : id; }

function abBadge(letter) {
  return el('span', { class: 'ab ab-' + letter.toLowerCase(), title: 'Trace ' + letter }, letter);
}

function mainRoot(model) {
  return model.roots.reduce((b, r) => (!b || r.duration > b.duration ? r : b), null);
}

/** The two traces' summaries, what differs overall, and the view's own actions. */
function heads(side, al) {
  const stat = (label, value, cls) => el('div', { class: 'stat ' + (cls || '') }, el('span', { class: 'muted' }, label), el('strong', {}, value));
  const card = s => {
    const root = mainRoot(s.model);
    const errors = s.model.spans.filter(x => x.error).length;
    return el('section', { class: 'card cmp-head', id: 'compare-head-' + s.letter.toLowerCase(), 'aria-label': 'Trace ' + s.letter },
      el('div', { class: 'row' },
        abBadge(s.letter),
        el('h2', { class: 'trace-title' }, el('i', { class: 'svc-chip', style: { background: colorFor(root.service) } }), `${root.service}: ${root.name}`),
        el('span', { class: 'grow' }),
        el('a', { href: links.trace(s.id), class: 'cmp-open' }, 'Open trace')),
      el('div', { class: 'row stats' },
        stat('trace id', el('span', { class: 'mono', title: s.hex }, short(s.hex))),
        stat('start', fmtTime(s.model.t0Ms, true)),
        stat('duration', fmtMs(s.model.durationMs)),
        stat('spans', fmtNum(s.model.spans.length)),
        stat('services', String(s.model.services.length)),
        stat('span errors', String(errors), errors ? 'bad' : '')));
  };
  const [A, B] = side.map(s => s.model);
  const dDur = B.durationMs - A.durationMs;
  const errs = m => m.spans.filter(x => x.error).length;
  const delta = (label, a, b, fmt, ms) => {
    const d = b - a;
    const pct = ms && a && d ? ` (${d > 0 ? '+' : '−'}${Math.abs(d / a * 100).toFixed(Math.abs(d / a) < 0.1 ? 1 : 0)}%)` : '';
    const x = deltaEl(a, b, fmt, { ms });
    x.textContent += pct;
    return stat(label, x);
  };
  const onlyServices = (x, y) => x.services.filter(s => !y.services.includes(s));
  const onlyA = onlyServices(A, B), onlyB = onlyServices(B, A);
  return el('div', { class: 'cmp-top', id: 'compare-summary' },
    el('div', { class: 'cmp-heads' }, side.map(card)),
    el('div', { class: 'row stats cmp-delta', id: 'compare-delta', 'aria-label': 'B compared with A' },
      el('strong', { class: 'cmp-delta-title' }, 'B − A'),
      delta('duration', A.durationMs, B.durationMs, fmtMs, true),
      delta('spans', A.spans.length, B.spans.length, fmtNum, false),
      delta('span errors', errs(A), errs(B), fmtNum, false),
      stat('matched spans', fmtNum(al.matched)),
      stat('only in A', fmtNum(al.onlyA), al.onlyA ? 'only-a' : ''),
      stat('only in B', fmtNum(al.onlyB), al.onlyB ? 'only-b' : ''),
      onlyA.length || onlyB.length ? stat('services in one only',
        [onlyA.length ? 'A: ' + onlyA.join(', ') : '', onlyB.length ? 'B: ' + onlyB.join(', ') : ''].filter(Boolean).join(' · ')) : null,
      el('span', { class: 'grow' }),
      el('span', { class: 'muted', title: 'The span trees are aligned by service and span name' }, dDur === 0 ? 'same duration' : dDur > 0 ? 'B took longer' : 'B was faster')),
    el('div', { class: 'row cmp-actions' },
      el('a', { class: 'button', id: 'compare-swap', href: links.compare(side[1].id, side[0].id) }, 'Swap A ⇄ B'),
      el('a', { href: links.trace(side[0].id), id: 'compare-close' }, 'Close the comparison'),
      el('span', { class: 'grow' }),
      compareForm({
        label: 'Compare A with…', model: A, exclude: [side[0].hex, side[1].hex],
        onpick: id => { location.href = links.compare(side[0].id, id); },
      })));
}

function signed(d, fmt) {
  if (!d) return '0';
  return (d > 0 ? '+' : '−') + fmt(Math.abs(d));
}

/** A B − A difference, marked when it is worth a look (trace-diff.js `change`). */
function deltaEl(a, b, fmt, { ms = true, mark = true } = {}) {
  const cls = b === a ? 'same' : mark ? change(a, b, { ms }) : '';
  return el('span', { class: 'delta ' + cls }, signed(b - a, fmt));
}

/** The selected span beside its counterpart: timing, status, and the attributes that differ. */
function pairDetail(into, pair, side) {
  if (!pair) {
    into.replaceChildren(el('p', { class: 'muted' }, 'Select a span in either waterfall (click, or Tab to it and press Enter) to see it beside its counterpart.'));
    return;
  }
  const { a, b } = pair;
  const one = a || b;
  const val = (sp, f) => (sp ? f(sp) : '–');
  const row = (label, f, diff) => el('tr', {},
    el('th', { scope: 'row' }, label),
    el('td', {}, val(a, f)), el('td', {}, val(b, f)),
    el('td', { class: 'num' }, a && b && diff ? diff(a, b) : ''));
  const dms = (x, y, k, mark) => deltaEl(x[k], y[k], fmtMs, { mark });
  const attrs = a && b ? differingAttributes(a, b) : [];
  into.replaceChildren(
    el('div', { class: 'row' },
      el('i', { class: 'svc-chip', style: { background: colorFor(one.service) } }),
      el('strong', {}, one.service), el('span', { class: 'sd-name' }, one.name),
      el('span', { class: 'grow' }),
      a && b ? el('span', { class: 'badge' }, 'in both') : el('span', { class: 'badge ' + (a ? 'only-a' : 'only-b') }, a ? 'only in A' : 'only in B')),
    el('div', { class: 'cmp-detail-body' },
    el('table', { class: 'cmp-pair' },
      el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, abBadge('A')), el('th', {}, abBadge('B')), el('th', { class: 'num' }, 'B − A'))),
      el('tbody', {},
        row('duration', sp => fmtMs(sp.duration), (x, y) => dms(x, y, 'duration', true)),
        row('starts at', sp => '+' + fmtMs(sp.start), (x, y) => dms(x, y, 'start', false)),
        row('status', sp => el('span', { class: 'badge ' + (sp.error ? 'error' : 'muted') }, sp.error ? 'error' : sp.status.code)),
        row('kind', sp => sp.kind),
        row('children', sp => String(sp.children.length)),
        row('span', sp => el('a', { class: 'mono', href: links.trace(sp === a ? side[0].id : side[1].id, sp.id) }, sp.id)))),
    a && b ? el('div', {},
      el('h3', {}, attrs.length ? `Attributes that differ (${attrs.length})` : 'Attributes'),
      attrs.length ? el('table', { class: 'cmp-pair cmp-attrs' },
        el('thead', {}, el('tr', {}, el('th', {}, 'attribute'), el('th', {}, abBadge('A')), el('th', {}, abBadge('B')))),
        el('tbody', {}, attrs.slice(0, 50).map(([k, x, y]) => el('tr', {},
          el('th', { scope: 'row', class: 'mono' }, k), el('td', { class: 'mono' }, x), el('td', { class: 'mono' }, y)))))
        : el('p', { class: 'muted' }, 'The same in both.')) : null));
}

function differingAttributes(a, b) {
  const show = v => (v === undefined ? '–' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const keys = [...new Set([...Object.keys(a.attributes), ...Object.keys(b.attributes)])].sort();
  return keys.map(k => [k, show(a.attributes[k]), show(b.attributes[k])]).filter(([, x, y]) => x !== y);
}

/** Per (service, span name): count, total and average in A and B, the difference marked. */
function diffTable(models, side) {
  const rows = compareStats(models[0], models[1]);
  const d = (x, y, fmt, ms) => (x === null || y === null ? '–' : deltaEl(x, y, fmt, { ms }));
  const num = (s, k, fmt) => (s ? fmt(s[k]) : '–');
  const pick = r => {
    // The first aligned row of this (service, name), in whichever trace has it.
    for (const s of side) {
      const sp = s.model.order.find(x => x.service === r.service && x.name === r.name);
      if (sp) { s.wf.select(sp, { focus: true }); s.wf.body.scrollIntoView({ block: 'nearest' }); return; }
    }
  };
  return el('section', { id: 'compare-table', 'aria-label': 'Spans by service and name in A and B' },
    el('h2', {}, 'Spans by service and name'),
    el('p', { class: 'muted small' }, 'B − A. Red: B has more or takes longer; green: fewer or faster (differences under 10 % are not marked). ',
      'Total is the spans\u2019 summed duration (children overlap their parents). A row selects the first such span above.'),
    table([
      { label: '', value: r => (r.a && r.b ? '' : el('span', { class: 'badge ' + (r.a ? 'only-a' : 'only-b') }, r.a ? 'only in A' : 'only in B')) },
      { label: 'service', value: r => el('span', { class: 'svc' }, el('i', { class: 'svc-chip', style: { background: colorFor(r.service) } }), r.service) },
      { label: 'span name', value: r => r.name },
      { label: 'count A', num: true, value: r => num(r.a, 'count', fmtNum) },
      { label: 'count B', num: true, value: r => num(r.b, 'count', fmtNum) },
      { label: 'Δ count', num: true, value: r => d(r.a ? r.a.count : 0, r.b ? r.b.count : 0, fmtNum, false) },
      { label: 'total A', num: true, value: r => num(r.a, 'total', fmtMs) },
      { label: 'total B', num: true, value: r => num(r.b, 'total', fmtMs) },
      { label: 'Δ total', num: true, value: r => d(r.a ? r.a.total : 0, r.b ? r.b.total : 0, fmtMs, true) },
      { label: 'avg A', num: true, value: r => num(r.a, 'avg', fmtMs) },
      { label: 'avg B', num: true, value: r => num(r.b, 'avg', fmtMs) },
      { label: 'Δ avg', num: true, value: r => (r.a && r.b ? el('span', {}, d(r.a.avg, r.b.avg, fmtMs, true),
        r.a.avg && r.dAvg ? el('span', { class: 'muted small' }, ` ${r.dAvg > 0 ? '+' : '−'}${Math.abs(r.dAvg / r.a.avg * 100).toFixed(0)}%`) : null) : '–') },
    ], rows, {
      onclick: pick, empty: 'Neither trace has spans.',
      rowClass: r => 'cmp-row' + (r.a && r.b ? '' : r.a ? ' only-a' : ' only-b'),
    }));
}

/**
 * "Compare with…": a trace id (hex, X-Ray, or a trace page's address) → onpick(hex). On
 * first focus it suggests recent traces with the same root service and span as `model`'s.
 */
export function compareForm({ label = 'Compare with…', model, exclude = [], onpick }) {
  const msg = el('span', { class: 'err-text small', id: 'compare-with-msg', 'aria-live': 'polite' });
  const input = el('input', { id: 'compare-with', type: 'text', class: 'mono', list: 'compare-suggestions', autocomplete: 'off',
    spellcheck: 'false', placeholder: 'another trace id', 'aria-describedby': 'compare-with-msg' });
  const list = el('datalist', { id: 'compare-suggestions' });
  input.addEventListener('input', () => { msg.textContent = ''; input.removeAttribute('aria-invalid'); });
  if (model) input.addEventListener('focus', () => suggest(list, model, exclude), { once: true });
  return el('form', { class: 'row compare-form', id: 'compare-form', onsubmit: e => {
    e.preventDefault();
    const id = parseTraceIdInput(input.value);
    if (!id) {
      input.setAttribute('aria-invalid', 'true');
      msg.textContent = 'A trace id is 32 hex digits (or an X-Ray id 1-xxxxxxxx-…).';
      input.focus();
      return;
    }
    onpick(id);
  } },
  el('label', { for: 'compare-with' }, label), input,
  el('button', { type: 'submit', id: 'compare-go' }, 'Compare'), msg, list);
}

/** Suggestions are a convenience: a failure leaves the list empty. */
async function suggest(list, model, exclude) {
  const root = mainRoot(model);
  const t0 = Math.floor(model.t0Ms / 1000);
  const q = `{ resource.service.name = ${JSON.stringify(root.service)} && name = ${JSON.stringify(root.name)} }`;
  const params = new URLSearchParams({ q, start: String(t0 - 86400), end: String(Math.max(t0 + 3600, Math.ceil(Date.now() / 1000) + 60)), limit: '20' });
  try {
    const res = await api('/api/search?' + params);
    list.replaceChildren(...(res.traces || []).filter(t => !exclude.includes(hexTraceId(t.traceID))).map(t => el('option', {
      value: t.traceID,
      label: `${fmtMs(Number(t.durationMs || 0))} · ${fmtTime(Number(BigInt(t.startTimeUnixNano || 0) / 1000000n), true)}`,
    })));
  } catch { /* no suggestions */ }
}
