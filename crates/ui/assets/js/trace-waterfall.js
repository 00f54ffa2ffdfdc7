// The trace waterfall: one row per span in tree order, rendered virtually (only the rows in
// view are in the DOM, so 10,000 spans cost what 40 do), a time axis for the zoomed window,
// and a minimap of the whole trace (canvas) where a drag picks the window. The compare view
// (trace-compare.js) runs two of them side by side on aligned rows: `rows` then gives the
// row order, with gaps (null) where the other trace has a span this one lacks.

import { el, colorFor, cssColor, fmtMs } from './core.js';
import { flatten, searchSpans } from './trace-model.js';

const ROW_H = 26;
const OVERSCAN = 12;
const MINIMAP_H = 56;
const TICKS = 4;

/**
 * model: parseTrace() result; opts: {critical: Set, onselect(span)} and, for the compare
 * view, {id (prefix of the element ids), label, total (ms: a time scale shared with another
 * waterfall), rows(collapsed) → spans or null (a gap row), collapsed (a caller's Set),
 * oncollapse(span, collapsed), rowClass(span) → extra class names}.
 * Returns the controller: {element, body, select(span, {scroll, focus, quiet}), deselect(),
 * setSearch(text, onlyMatches), nextMatch(dir), setCritical(on), collapseAll(), expandAll(),
 * setCollapsed(span, collapsed), relayout(), zoomTo(a, b), resetZoom(), refresh()}.
 */
export function waterfall(model, { critical, onselect, id = '', label = 'Spans of the trace', total: scale,
  rows: alignedRows, collapsed = new Set(), oncollapse, rowClass } = {}) {
  const total = Math.max(scale ?? model.durationMs, model.durationMs, 0.001);
  const st = {
    collapsed, rows: [], index: new Map(), selected: null, focus: null,
    w0: 0, w1: total, hits: new Set(), searching: false, only: false, showCritical: true,
  };
  const axis = el('div', { class: 'wf-axis', 'aria-hidden': 'true' });
  const head = el('div', { class: 'wf-head' }, el('div', { class: 'wf-label-head' }, 'Service · operation'), axis);
  const spacer = el('div', { class: 'wf-spacer' });
  const body = el('div', { id: id + 'waterfall', class: 'wf-body', role: 'tree', 'aria-label': label,
    'aria-multiselectable': 'false' }, spacer);
  const mm = minimap(model, total, (a, b) => zoom(a, b), id);
  const element = el('section', { class: 'wf', 'aria-label': 'Waterfall' }, mm.element, head, body);

  function zoom(a, b) {
    const w0 = Math.max(0, Math.min(a, b));
    let w1 = Math.min(total, Math.max(a, b));
    if (w1 - w0 < total / 10000) w1 = Math.min(total, w0 + total / 10000);
    if (w0 === st.w0 && w1 === st.w1) return;
    st.w0 = w0; st.w1 = w1;
    mm.show(st.w0, st.w1);
    drawAxis();
    paint();
    element.dispatchEvent(new CustomEvent('zoom', { detail: { zoomed: st.w0 > 0 || st.w1 < total, w0: st.w0, w1: st.w1 } }));
  }

  function drawAxis() {
    // Fewer steps when narrow (a compare pane), so the labels do not run into each other.
    const w = axis.clientWidth;
    const n = w && w < TICKS * 90 ? Math.max(1, Math.floor(w / 90)) : TICKS;
    const ticks = [];
    for (let k = 0; k <= n; k++) {
      const t = st.w0 + (st.w1 - st.w0) * k / n;
      ticks.push(el('span', { class: 'tick', style: { left: (k * 100 / n) + '%' } }, fmtMs(t)));
    }
    axis.replaceChildren(...ticks);
    element.style.setProperty('--wf-grid', (100 / n) + '%');
  }

  function layout() {
    const keep = !alignedRows && st.only && st.hits.size ? withAncestors(st.hits) : null;
    st.rows = alignedRows ? alignedRows(st.collapsed)
      : keep ? flatten(model.roots, new Set()).filter(sp => keep.has(sp)) : flatten(model.roots, st.collapsed);
    st.index = new Map();
    st.rows.forEach((sp, i) => { if (sp) st.index.set(sp, i); });
    spacer.style.height = (st.rows.length * ROW_H) + 'px';
    // Small traces get a short body; large ones scroll inside the viewport's height.
    body.style.height = (st.rows.length * ROW_H + 2) + 'px';
    if (!st.index.has(st.focus)) st.focus = near(0, 1);
  }

  /** The span at row `i` or, past a gap, the nearest one in direction `dir` (then back). */
  function near(i, dir) {
    const n = st.rows.length;
    i = Math.max(0, Math.min(n - 1, i));
    for (let k = i; k >= 0 && k < n; k += dir) if (st.rows[k]) return st.rows[k];
    for (let k = i; k >= 0 && k < n; k -= dir) if (st.rows[k]) return st.rows[k];
    return null;
  }

  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; paint(); });
  }

  /** Builds the rows in view (and a margin), keeping keyboard focus on the focused span. */
  function paint() {
    const hadFocus = body.contains(document.activeElement) && document.activeElement !== body;
    const viewH = body.clientHeight || 600;
    const first = Math.max(0, Math.floor(body.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(st.rows.length, Math.ceil((body.scrollTop + viewH) / ROW_H) + OVERSCAN);
    const out = [];
    for (let i = first; i < last; i++) out.push(st.rows[i] ? row(st.rows[i], i) : gap(i));
    spacer.replaceChildren(...out);
    if (hadFocus) rowEl(st.focus)?.focus({ preventScroll: true });
  }

  function rowEl(sp) {
    return sp ? spacer.querySelector(`.span-row[data-order="${sp.order}"]`) : null;
  }

  /** Where the other trace of a comparison has a span and this one has none. */
  function gap(i) {
    return el('div', { class: 'span-row gap', 'aria-hidden': 'true', style: { top: (i * ROW_H) + 'px' } },
      el('div', { class: 'wf-label' }), el('div', { class: 'wf-time' }));
  }

  function row(sp, i) {
    const span = st.w1 - st.w0;
    const left = (sp.start - st.w0) / span * 100;
    const width = sp.duration / span * 100;
    const cls = ['span-row', sp === st.selected && 'selected', sp.error && 'is-error',
      st.searching && (st.hits.has(sp) ? 'match' : 'dim'), st.showCritical && critical.has(sp) && 'critical', rowClass?.(sp)]
      .filter(Boolean).join(' ');
    const open = sp.children.length && !st.collapsed.has(sp);
    const caret = sp.children.length
      ? el('button', { class: 'caret', type: 'button', tabindex: -1, 'aria-label': (open ? 'Collapse ' : 'Expand ') + sp.name,
        title: `${sp.children.length} child span${sp.children.length > 1 ? 's' : ''}`,
        onclick: ev => { ev.stopPropagation(); toggle(sp); } }, open ? '▾' : '▸')
      : el('span', { class: 'caret-none' });
    // Deep trees stop indenting at 14 levels so names stay readable (aria-level keeps the depth).
    const indent = Math.min(sp.depth, 14) * 12;
    // Clipped to the zoom window; a span wholly outside it shows no bar.
    const l = Math.max(0, left), r = Math.min(100, left + width);
    const inView = r >= 0 && l <= 100;
    const labelRight = r > 72;
    return el('div', {
      class: cls, role: 'treeitem', tabindex: sp === st.focus ? 0 : -1,
      'aria-level': sp.depth + 1, 'aria-selected': String(sp === st.selected),
      'aria-expanded': sp.children.length ? String(!!open) : undefined,
      dataset: { spanId: sp.id, order: sp.order }, style: { top: (i * ROW_H) + 'px' },
    },
    el('div', { class: 'wf-label', style: { paddingLeft: (6 + indent) + 'px' }, title: `${sp.service} · ${sp.name}` },
      caret,
      el('i', { class: 'svc-chip', style: { background: colorFor(sp.service) } }),
      el('span', { class: 'svc' }, sp.service),
      el('span', { class: 'op' }, sp.name),
      sp.collapsedCount && !open ? el('span', { class: 'badge muted' }, sp.collapsedCount) : null,
      sp.errors.length ? el('span', { class: 'badge error span-errors', title: `${sp.errors.length} error occurrence(s)` }, '⚠ ' + sp.errors.length) : null,
      sp.logs.length ? el('span', { class: 'badge span-logs', title: `${sp.logs.length} log event(s)` }, '≡ ' + sp.logs.length) : null),
    el('div', { class: 'wf-time' },
      inView ? el('div', { class: 'bar', style: { left: l + '%', width: `max(${r - l}%, 2px)`, background: colorFor(sp.service) } }) : null,
      sp.logs.filter(g => g.rel >= st.w0 && g.rel <= st.w1).slice(0, 20).map(g => el('i', { class: 'log-tick',
        title: g.message, style: { left: ((g.rel - st.w0) / span * 100) + '%' } })),
      el('span', { class: 'dur' + (labelRight ? ' before' : ''),
        style: labelRight ? { right: (100 - Math.max(0, Math.min(100, l))) + '%' } : { left: `calc(${Math.max(0, r)}% + 4px)` } },
      fmtMs(sp.duration))));
  }

  /** Collapses or opens one span; `notify` tells the caller (a comparison mirrors it). */
  function setCollapsed(sp, shut, notify = true) {
    if (!sp.children.length || st.collapsed.has(sp) === shut) return;
    if (shut) { st.collapsed.add(sp); sp.collapsedCount = descendants(sp); } else st.collapsed.delete(sp);
    if (notify) oncollapse?.(sp, shut);
  }

  function toggle(sp, open) {
    if (!sp.children.length) return;
    setCollapsed(sp, !(open ?? st.collapsed.has(sp)));
    layout();
    paint();
  }

  function ensureVisible(sp) {
    for (let p = sp.parent; p; p = p.parent) setCollapsed(p, false);
    layout();
  }

  function scrollTo(sp) {
    const i = st.index.get(sp);
    if (i === undefined) return;
    const top = i * ROW_H, viewH = body.clientHeight;
    if (top < body.scrollTop) body.scrollTop = top;
    else if (top + ROW_H > body.scrollTop + viewH) body.scrollTop = top - viewH + ROW_H * 2;
  }

  function select(sp, { scroll = true, focus = false, quiet = false } = {}) {
    if (!sp) return;
    if (!st.index.has(sp)) ensureVisible(sp);
    st.selected = sp; st.focus = sp;
    if (scroll) scrollTo(sp);
    paint();
    if (focus) rowEl(sp)?.focus({ preventScroll: true });
    if (!quiet) onselect?.(sp);
  }

  function moveFocus(sp) {
    if (!sp) return;
    st.focus = sp;
    scrollTo(sp);
    paint();
    rowEl(sp)?.focus({ preventScroll: true });
  }

  body.addEventListener('scroll', schedule, { passive: true });
  body.addEventListener('click', ev => {
    const r = ev.target.closest('.span-row:not(.gap)');
    if (r) select(model.order[Number(r.dataset.order)], { scroll: false, focus: true });
  });
  body.addEventListener('keydown', ev => {
    const sp = st.focus;
    if (!sp) return;
    const i = st.index.get(sp) ?? 0;
    const page = Math.max(1, Math.floor(body.clientHeight / ROW_H) - 1);
    const go = {
      ArrowDown: () => moveFocus(near(i + 1, 1)),
      ArrowUp: () => moveFocus(near(i - 1, -1)),
      PageDown: () => moveFocus(near(i + page, 1)),
      PageUp: () => moveFocus(near(i - page, -1)),
      Home: () => moveFocus(near(0, 1)),
      End: () => moveFocus(near(st.rows.length - 1, -1)),
      Enter: () => select(sp, { focus: true }),
      ' ': () => select(sp, { focus: true }),
      ArrowLeft: () => (sp.children.length && !st.collapsed.has(sp) ? (toggle(sp, false), moveFocus(sp)) : moveFocus(sp.parent)),
      ArrowRight: () => (st.collapsed.has(sp) ? (toggle(sp, true), moveFocus(sp)) : moveFocus(st.index.has(sp.children[0]) ? sp.children[0] : null)),
    }[ev.key];
    if (!go) return;
    ev.preventDefault();
    go();
  });
  new ResizeObserver(() => { mm.draw(); drawAxis(); schedule(); }).observe(body);

  layout();
  drawAxis();

  let order = [];
  return {
    element,
    body,
    /** Draws the first rows (after the element is in the document, so heights are known). */
    start() { mm.draw(); mm.show(st.w0, st.w1); paint(); },
    select,
    deselect() { st.selected = null; paint(); },
    refresh() { paint(); },
    relayout() { layout(); paint(); },
    setCollapsed(sp, shut) { setCollapsed(sp, shut, false); },
    zoomTo: zoom,
    setSearch(text, only) {
      st.hits = searchSpans(model.spans, text);
      st.searching = text.trim() !== '';
      st.only = only;
      order = [...st.hits].sort((a, b) => a.order - b.order);
      layout();
      paint();
      return st.hits.size;
    },
    /** Selects the next (dir 1) or previous (-1) search match after the selected span. */
    nextMatch(dir) {
      if (!order.length) return null;
      const cur = st.selected ? st.selected.order : -1;
      const next = dir > 0 ? order.find(s => s.order > cur) || order[0]
        : [...order].reverse().find(s => s.order < cur) || order[order.length - 1];
      select(next);
      return order.indexOf(next) + 1;
    },
    setCritical(on) { st.showCritical = on; paint(); },
    collapseAll() {
      for (const sp of model.spans) if (sp.children.length && sp.parent) setCollapsed(sp, true, false);
      layout(); body.scrollTop = 0; paint();
    },
    expandAll() { for (const sp of [...st.collapsed]) setCollapsed(sp, false, false); layout(); paint(); },
    resetZoom() { zoom(0, total); },
  };
}

function withAncestors(spans) {
  const keep = new Set();
  for (const sp of spans) for (let p = sp; p && !keep.has(p); p = p.parent) keep.add(p);
  return keep;
}

function descendants(sp) {
  let n = 0;
  const stack = [...sp.children];
  while (stack.length) { const c = stack.pop(); n++; stack.push(...c.children); }
  return n;
}

/** The whole trace in miniature; dragging picks the time window, a click moves it. */
function minimap(model, total, onzoom, id = '') {
  const canvas = el('canvas', { role: 'img', 'aria-label': 'Trace overview; drag to zoom the time window' });
  const win = el('div', { class: 'mm-window' });
  const sel = el('div', { class: 'mm-sel', hidden: true });
  const element = el('div', { id: id + 'trace-minimap', class: 'minimap', title: 'Drag to zoom; click to move the window' }, canvas, win, sel);
  let cur = [0, total];

  function draw() {
    const w = Math.max(100, element.clientWidth), h = MINIMAP_H;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = w * dpr; canvas.height = h * dpr; canvas.style.height = h + 'px';
    const ctx = canvas.getContext('2d');
    ctx.scale(dpr, dpr);
    const colors = new Map(model.services.map(s => [s, cssColor(colorFor(s))]));
    const n = model.order.length || 1, rh = Math.max(1, h / n);
    for (let i = 0; i < model.order.length; i++) {
      const sp = model.order[i];
      ctx.fillStyle = colors.get(sp.service);
      ctx.fillRect(sp.start / total * w, i / n * h, Math.max(1, sp.duration / total * w), rh);
    }
  }

  function show(a, b) {
    cur = [a, b];
    const zoomed = a > 0 || b < total;
    win.hidden = !zoomed;
    Object.assign(win.style, { left: (a / total * 100) + '%', width: ((b - a) / total * 100) + '%' });
  }

  const at = ev => {
    const r = canvas.getBoundingClientRect();
    return Math.max(0, Math.min(1, (ev.clientX - r.left) / r.width)) * total;
  };
  let anchor = null, anchorX = 0;
  canvas.addEventListener('pointerdown', ev => {
    anchor = at(ev); anchorX = ev.clientX;
    canvas.setPointerCapture(ev.pointerId);
    ev.preventDefault();
  });
  canvas.addEventListener('pointermove', ev => {
    if (anchor === null) return;
    const t = at(ev);
    sel.hidden = Math.abs(ev.clientX - anchorX) < 3;
    Object.assign(sel.style, { left: (Math.min(t, anchor) / total * 100) + '%', width: (Math.abs(t - anchor) / total * 100) + '%' });
  });
  canvas.addEventListener('pointerup', ev => {
    if (anchor === null) return;
    const t = at(ev);
    sel.hidden = true;
    if (Math.abs(ev.clientX - anchorX) >= 3) onzoom(anchor, t);
    else {
      // A click centres the current window on the point (or a tenth of the trace when whole).
      const width = cur[1] - cur[0] < total ? cur[1] - cur[0] : total / 10;
      const a = Math.max(0, Math.min(total - width, t - width / 2));
      onzoom(a, a + width);
    }
    anchor = null;
  });
  return { element, draw, show };
}
