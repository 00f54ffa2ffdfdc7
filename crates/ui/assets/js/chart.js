// Small canvas charts (no library): time-series lines with markers, a heatmap with drag
// selection, sparklines, a scatter plot and paired bar distributions. Colours come from the
// CSS theme, so light and dark both work.

import { el, cssColor, fmtNum, fmtTime } from './core.js';

const PAD = { l: 52, r: 12, t: 10, b: 24 };

function setup(container, height) {
  const canvas = el('canvas', { role: 'img' });
  const tip = el('div', { class: 'tip' });
  const wrap = el('div', { class: 'chart' }, canvas, tip);
  container.replaceChildren(wrap);
  const width = Math.max(200, wrap.clientWidth || container.clientWidth || 600);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = width * dpr; canvas.height = height * dpr;
  canvas.style.height = height + 'px';
  const ctx = canvas.getContext('2d');
  ctx.scale(dpr, dpr);
  return { canvas, tip, wrap, ctx, width, height };
}

function niceTicks(lo, hi, n = 4) {
  if (!(hi > lo)) hi = lo + 1;
  const step0 = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(step0)));
  const step = [1, 2, 5, 10].map(m => m * mag).find(s => s >= step0) || step0;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
  // The top tick covers the maximum, so nothing is drawn above the plot.
  if (!out.length || out[out.length - 1] < hi - step * 1e-9) out.push((out.length ? out[out.length - 1] : lo) + step);
  return out;
}

function timeLabel(t, span) {
  const d = new Date(t * 1000);
  const p = n => String(n).padStart(2, '0');
  if (span > 2 * 86400) return `${d.getMonth() + 1}/${d.getDate()} ${p(d.getHours())}:00`;
  return `${p(d.getHours())}:${p(d.getMinutes())}${span < 600 ? ':' + p(d.getSeconds()) : ''}`;
}

function axes(c, x0, x1, y0, y1, { yFmt = fmtNum, ylog = false } = {}) {
  const { ctx, width, height } = c;
  const fg = cssColor('var(--muted)'), grid = cssColor('var(--border)');
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = fg; ctx.strokeStyle = grid; ctx.lineWidth = 1;
  const X = t => PAD.l + (t - x0) / (x1 - x0 || 1) * (width - PAD.l - PAD.r);
  const Y = ylog
    ? v => height - PAD.b - (Math.log10(Math.max(v, y0)) - Math.log10(y0)) / (Math.log10(y1) - Math.log10(y0) || 1) * (height - PAD.t - PAD.b)
    : v => height - PAD.b - (v - y0) / (y1 - y0 || 1) * (height - PAD.t - PAD.b);
  ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
  const yt = ylog ? logTicks(y0, y1) : niceTicks(y0, y1);
  for (const v of yt) {
    const y = Y(v);
    ctx.beginPath(); ctx.moveTo(PAD.l, y + .5); ctx.lineTo(width - PAD.r, y + .5); ctx.stroke();
    ctx.fillText(yFmt(v), PAD.l - 5, y);
  }
  ctx.textAlign = 'center'; ctx.textBaseline = 'top';
  const span = x1 - x0;
  const xt = niceTimeTicks(x0, x1, Math.max(2, Math.floor((width - PAD.l) / 110)));
  for (const t of xt) ctx.fillText(timeLabel(t, span), X(t), height - PAD.b + 5);
  return { X, Y };
}

function logTicks(lo, hi) {
  const out = [];
  for (let p = Math.floor(Math.log10(lo)); p <= Math.ceil(Math.log10(hi)); p++) {
    const v = Math.pow(10, p);
    if (v >= lo && v <= hi) out.push(v);
  }
  return out.length ? out : [lo, hi];
}

function niceTimeTicks(x0, x1, n) {
  const steps = [1, 5, 10, 15, 30, 60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  const step = steps.find(s => (x1 - x0) / s <= n) || 86400 * Math.ceil((x1 - x0) / n / 86400);
  const out = [];
  for (let t = Math.ceil(x0 / step) * step; t <= x1; t += step) out.push(t);
  return out;
}

/**
 * Lines over time. series: [{name, color, points: [[t_seconds, value|null], …]}];
 * markers: [{t, label}]; onclick(t, seriesName).
 */
export function lineChart(container, { series, markers = [], height = 220, x0, x1, yFmt, onclick }) {
  const c = setup(container, height);
  const pts = series.flatMap(s => s.points.filter(p => p[1] !== null && p[1] !== undefined));
  if (x0 === undefined) x0 = Math.min(...pts.map(p => p[0]));
  if (x1 === undefined) x1 = Math.max(...pts.map(p => p[0]));
  if (!(x1 > x0)) { x1 = (x0 || 0) + 60; }
  const ymax = Math.max(0, ...pts.map(p => p[1]));
  const ticks = niceTicks(0, ymax || 1);
  const { X, Y } = axes(c, x0, x1, 0, ticks[ticks.length - 1], { yFmt });
  const { ctx } = c;
  for (const m of markers) {
    const x = X(m.t);
    if (x < PAD.l || x > c.width - PAD.r) continue;
    ctx.strokeStyle = cssColor('var(--accent)'); ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(x, PAD.t); ctx.lineTo(x, c.height - PAD.b); ctx.stroke();
    ctx.setLineDash([]); ctx.fillStyle = cssColor('var(--accent)'); ctx.textAlign = 'left';
    ctx.fillText(m.label || 'marker', x + 3, PAD.t);
  }
  for (const s of series) {
    ctx.strokeStyle = cssColor(s.color); ctx.lineWidth = 1.6; ctx.beginPath();
    let pen = false;
    for (const [t, v] of s.points) {
      if (v === null || v === undefined) { pen = false; continue; }
      const x = X(t), y = Y(v);
      if (pen) ctx.lineTo(x, y); else { ctx.moveTo(x, y); pen = true; }
    }
    ctx.stroke();
    if (s.points.length < 3) {
      ctx.fillStyle = cssColor(s.color);
      for (const [t, v] of s.points) if (v !== null) { ctx.beginPath(); ctx.arc(X(t), Y(v), 3, 0, 7); ctx.fill(); }
    }
  }
  const nearest = ev => {
    const r = c.canvas.getBoundingClientRect();
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    let best = null;
    for (const s of series) for (const [t, v] of s.points) {
      if (v === null || v === undefined) continue;
      const d = Math.hypot(X(t) - mx, (Y(v) - my) / 3);
      if (!best || d < best.d) best = { d, t, v, s };
    }
    return best && { ...best, mx, my };
  };
  c.canvas.addEventListener('mousemove', ev => {
    const b = nearest(ev);
    if (!b) return;
    c.tip.style.display = 'block';
    c.tip.textContent = `${fmtTime(b.t)} · ${b.s.name}: ${(yFmt || fmtNum)(b.v)}`;
    c.tip.style.left = Math.min(b.mx + 12, c.width - 220) + 'px'; c.tip.style.top = (b.my + 12) + 'px';
  });
  c.canvas.addEventListener('mouseleave', () => { c.tip.style.display = 'none'; });
  if (onclick) {
    c.canvas.style.cursor = 'pointer';
    c.canvas.addEventListener('click', ev => { const b = nearest(ev); if (b) onclick(b.t, b.s.name); });
  }
  c.canvas.setAttribute('aria-label', `line chart of ${series.map(s => s.name).join(', ')}`);
  const legend = el('div', { class: 'legend' }, series.slice(0, 30).map(s =>
    el('span', {}, el('i', { style: { background: s.color } }), s.name)));
  c.wrap.append(legend);
  return c;
}

/**
 * A heatmap: columns [{t, buckets: [{lo, hi, count}]}], drawn as cells coloured by count.
 * Drag selects a region: onselect({t0, t1, lo, hi}). Clicking a cell: oncell({t0, t1, lo, hi}).
 */
export function heatmap(container, { columns, step, height = 260, x0, x1, ylo, yhi, yFmt, onselect, oncell }) {
  const c = setup(container, height);
  const all = columns.flatMap(col => col.buckets);
  if (ylo === undefined) ylo = Math.min(...all.map(b => b.lo));
  if (yhi === undefined) yhi = Math.max(...all.map(b => b.hi));
  if (!(yhi > ylo)) yhi = ylo + 1;
  if (x0 === undefined) x0 = Math.min(...columns.map(col => col.t));
  if (x1 === undefined) x1 = Math.max(...columns.map(col => col.t)) + step;
  const { X, Y } = axes(c, x0, x1, ylo, yhi, { yFmt });
  const max = Math.max(1, ...all.map(b => b.count));
  const { ctx } = c;
  const hot = cssColor('var(--c0)');
  for (const col of columns) for (const b of col.buckets) {
    if (!b.count) continue;
    const a = 0.15 + 0.85 * Math.sqrt(b.count / max);
    ctx.globalAlpha = a; ctx.fillStyle = hot;
    const xa = X(col.t), xb = X(col.t + step), ya = Y(b.hi), yb = Y(b.lo);
    ctx.fillRect(xa + .5, ya + .5, Math.max(1, xb - xa - 1), Math.max(1, yb - ya - 1));
  }
  ctx.globalAlpha = 1;
  const invX = x => x0 + (x - PAD.l) / (c.width - PAD.l - PAD.r) * (x1 - x0);
  const invY = y => ylo + (c.height - PAD.b - y) / (c.height - PAD.t - PAD.b) * (yhi - ylo);
  const sel = el('div', { style: { position: 'absolute', background: 'var(--sel)', border: '1px solid var(--link)', display: 'none', pointerEvents: 'none' } });
  c.wrap.append(sel);
  let start = null;
  const pos = ev => { const r = c.canvas.getBoundingClientRect(); return [ev.clientX - r.left, ev.clientY - r.top]; };
  c.canvas.style.cursor = 'crosshair';
  c.canvas.addEventListener('mousedown', ev => { start = pos(ev); ev.preventDefault(); });
  c.canvas.addEventListener('mousemove', ev => {
    const [x, y] = pos(ev);
    if (start) {
      Object.assign(sel.style, { display: 'block', left: Math.min(x, start[0]) + 'px', top: Math.min(y, start[1]) + 'px',
        width: Math.abs(x - start[0]) + 'px', height: Math.abs(y - start[1]) + 'px' });
    }
    const t = invX(x), v = invY(y);
    const col = columns.find(cc => t >= cc.t && t < cc.t + step);
    const b = col && col.buckets.find(bb => v >= bb.lo && v < bb.hi);
    c.tip.style.display = 'block';
    c.tip.textContent = `${fmtTime(t)} · ${(yFmt || fmtNum)(v)}${b ? ' · ' + b.count + ' events' : ''}`;
    c.tip.style.left = Math.min(x + 12, c.width - 220) + 'px'; c.tip.style.top = (y + 12) + 'px';
  });
  c.canvas.addEventListener('mouseleave', () => { c.tip.style.display = 'none'; });
  window.addEventListener('mouseup', ev => {
    if (!start) return;
    const [x, y] = pos(ev);
    const [sx, sy] = start;
    start = null;
    if (Math.abs(x - sx) < 4 && Math.abs(y - sy) < 4) {
      sel.style.display = 'none';
      const t = invX(x), v = invY(y);
      const col = columns.find(cc => t >= cc.t && t < cc.t + step);
      const b = col && col.buckets.find(bb => v >= bb.lo && v < bb.hi);
      if (b && oncell) oncell({ t0: col.t, t1: col.t + step, lo: b.lo, hi: b.hi });
      return;
    }
    const region = { t0: invX(Math.min(x, sx)), t1: invX(Math.max(x, sx)), lo: invY(Math.max(y, sy)), hi: invY(Math.min(y, sy)) };
    if (onselect) onselect(region);
  });
  /** Draws a selection programmatically (tests, URL state). */
  c.select = region => {
    Object.assign(sel.style, { display: 'block', left: X(region.t0) + 'px', top: Y(region.hi) + 'px',
      width: (X(region.t1) - X(region.t0)) + 'px', height: (Y(region.lo) - Y(region.hi)) + 'px' });
    if (onselect) onselect(region);
  };
  c.canvas.setAttribute('aria-label', 'heatmap; drag to select a region for BubbleUp');
  return c;
}

/** A sparkline of [[t, v]] into an SVG (cheap, crisp). */
export function sparkline(points, { color = 'var(--c0)', fill = true, x0, x1 } = {}) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('class', 'spark'); svg.setAttribute('viewBox', '0 0 100 30');
  svg.setAttribute('preserveAspectRatio', 'none');
  const vals = points.filter(p => p[1] !== null && p[1] !== undefined);
  if (!vals.length) return svg;
  if (x0 === undefined) x0 = vals[0][0];
  if (x1 === undefined) x1 = vals[vals.length - 1][0];
  const max = Math.max(...vals.map(p => p[1])) || 1;
  const X = t => (x1 > x0 ? (t - x0) / (x1 - x0) : 0.5) * 100, Y = v => 29 - v / max * 27;
  const d = vals.map((p, i) => `${i ? 'L' : 'M'}${X(p[0]).toFixed(2)},${Y(p[1]).toFixed(2)}`).join('');
  if (fill) {
    const area = document.createElementNS(ns, 'path');
    area.setAttribute('d', `${d}L${X(vals[vals.length - 1][0])},30L${X(vals[0][0])},30Z`);
    area.setAttribute('fill', color); area.setAttribute('opacity', '0.15');
    svg.append(area);
  }
  const line = document.createElementNS(ns, 'path');
  line.setAttribute('d', d); line.setAttribute('fill', 'none'); line.setAttribute('stroke', color);
  line.setAttribute('stroke-width', '1.5'); line.setAttribute('vector-effect', 'non-scaling-stroke');
  svg.append(line);
  return svg;
}

/** Points [{t, v, color, data}] over time; onclick(point). Log scale when `ylog`. */
export function scatter(container, { points, height = 220, yFmt, ylog = true, onclick, x0, x1 }) {
  const c = setup(container, height);
  if (!points.length) return c;
  if (x0 === undefined) x0 = Math.min(...points.map(p => p.t));
  if (x1 === undefined) x1 = Math.max(...points.map(p => p.t));
  if (!(x1 > x0)) { x0 -= 30; x1 += 30; }
  let lo = Math.min(...points.map(p => p.v)), hi = Math.max(...points.map(p => p.v));
  if (ylog) { lo = Math.pow(10, Math.floor(Math.log10(Math.max(lo, 1e-3)))); hi = Math.pow(10, Math.ceil(Math.log10(Math.max(hi, lo * 10)))); }
  else { lo = 0; hi = niceTicks(0, hi || 1).pop(); }
  const { X, Y } = axes(c, x0, x1, lo, hi, { yFmt, ylog });
  const { ctx } = c;
  for (const p of points) {
    ctx.fillStyle = cssColor(p.color || 'var(--c0)'); ctx.globalAlpha = 0.75;
    ctx.beginPath(); ctx.arc(X(p.t), Y(p.v), 3.5, 0, 7); ctx.fill();
  }
  ctx.globalAlpha = 1;
  const nearest = ev => {
    const r = c.canvas.getBoundingClientRect();
    const mx = ev.clientX - r.left, my = ev.clientY - r.top;
    let best = null;
    for (const p of points) { const d = Math.hypot(X(p.t) - mx, Y(p.v) - my); if (!best || d < best.d) best = { d, p, mx, my }; }
    return best && best.d < 12 ? best : null;
  };
  c.canvas.addEventListener('mousemove', ev => {
    const b = nearest(ev);
    c.canvas.style.cursor = b ? 'pointer' : 'default';
    if (!b) { c.tip.style.display = 'none'; return; }
    c.tip.style.display = 'block';
    c.tip.textContent = b.p.label || `${fmtTime(b.p.t)} · ${(yFmt || fmtNum)(b.p.v)}`;
    c.tip.style.left = Math.min(b.mx + 12, c.width - 260) + 'px'; c.tip.style.top = (b.my + 12) + 'px';
  });
  c.canvas.addEventListener('mouseleave', () => { c.tip.style.display = 'none'; });
  if (onclick) c.canvas.addEventListener('click', ev => { const b = nearest(ev); if (b) onclick(b.p); });
  c.canvas.setAttribute('aria-label', `scatter plot of ${points.length} points`);
  return c;
}

/**
 * Two distributions of one column side by side (BubbleUp): bars [{label, a, b}] where a and
 * b are the fractions inside and outside the selection.
 */
export function pairedBars(bars, { width = 260, labelA = 'selection', labelB = 'baseline' } = {}) {
  const max = Math.max(0.0001, ...bars.flatMap(b => [b.a, b.b]));
  const rows = bars.slice(0, 8).map(b => el('div', { style: { display: 'grid', gridTemplateColumns: '90px 1fr', gap: '6px', alignItems: 'center', fontSize: '11.5px' } },
    el('span', { class: 'mono', title: b.label, style: { overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' } }, b.label),
    el('span', {},
      el('div', { title: `${labelA}: ${(b.a * 100).toFixed(1)}%`, style: { height: '6px', width: (b.a / max * 100) + '%', background: 'var(--c1)', borderRadius: '2px', marginBottom: '1px' } }),
      el('div', { title: `${labelB}: ${(b.b * 100).toFixed(1)}%`, style: { height: '6px', width: (b.b / max * 100) + '%', background: 'var(--c0)', borderRadius: '2px' } }))));
  return el('div', { style: { width: width + 'px', maxWidth: '100%' } }, rows,
    el('div', { class: 'legend' }, el('span', {}, el('i', { style: { background: 'var(--c1)' } }), labelA),
      el('span', {}, el('i', { style: { background: 'var(--c0)' } }), labelB)));
}
