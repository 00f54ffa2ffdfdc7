// Service map, X-Ray console style: GetServiceGraph over the page's range (optionally one
// X-Ray group's traces) drawn left→right by call depth. Nodes carry request rate, average
// response time and a health ring (ok / error / throttle / fault); edges carry call counts
// and average latency. A node or edge opens its statistics and a link to its traces.

import { xray, el, show, errorBox, table, rangePicker, timeRange, getParam, setParams,
  onNavigate, fmtMs, fmtNum, fmtPct, links } from './core.js';

const NS = 'http://www.w3.org/2000/svg';
const COL_W = 250, ROW_H = 150, R = 32, PAD_X = 110, PAD_Y = 70;
const HEALTH = [
  ['ok', 'OK', 'var(--ok)'],
  ['error', 'Error (4xx)', 'var(--warn)'],
  ['throttle', 'Throttle (429)', 'var(--c3)'],
  ['fault', 'Fault (5xx)', 'var(--err)'],
];

const DENSE_EDGES = 24; // beyond this, edge labels show only on hover/selection
const ZOOM_MIN = 0.3, ZOOM_MAX = 2;

let state = { graph: null, range: null, selected: null, zoom: null };

// ---- page -------------------------------------------------------------------------------

async function render() {
  rangePicker(render);
  const range = timeRange();
  const group = getParam('group', '');
  const select = el('select', { id: 'map-group', 'aria-label': 'X-Ray group', onchange: () => {
    setParams({ group: select.value || null });
    render();
  } }, el('option', { value: '' }, 'Default (all traces)'));
  const filter = el('span', { class: 'mono muted map-filter', id: 'map-filter' });
  const summary = el('span', { class: 'muted', id: 'map-summary' }, 'Loading…');
  const canvas = el('div', { class: 'map-canvas', id: 'map-canvas' }, el('p', { class: 'muted' }, 'Loading the service graph…'));
  const detail = el('aside', { class: 'panel map-detail', id: 'map-detail', 'aria-live': 'polite' });
  show(
    el('div', { class: 'row map-toolbar' },
      el('label', { for: 'map-group' }, 'Group'), select, filter, el('span', { class: 'grow' }),
      summary, zoomControls(), el('button', { type: 'button', id: 'map-refresh', onclick: render }, 'Refresh')),
    el('div', { class: 'map-layout' },
      el('div', { class: 'map-main' }, canvas, legend()), detail));
  loadGroups(select, filter, group);
  try {
    const body = { StartTime: range.start, EndTime: range.end };
    if (group) body.GroupName = group;
    const res = await xray('ServiceGraph', body);
    state = { ...state, graph: model(res.Services || [], range), range };
  } catch (e) {
    summary.textContent = '';
    errorBox(e, canvas);
    detail.replaceChildren(el('p', { class: 'muted' }, 'No graph to describe.'));
    return;
  }
  drawGraph(canvas, summary);
  restoreSelection(detail);
}

/** The group select: Default (no filter) plus every user group; shows the chosen filter. */
async function loadGroups(select, filter, current) {
  try {
    const res = await xray('Groups', {});
    for (const g of res.Groups || []) {
      if (g.GroupName === 'Default') continue;
      select.append(el('option', { value: g.GroupName, title: g.FilterExpression || '' }, g.GroupName));
    }
    const chosen = (res.Groups || []).find(g => g.GroupName === current);
    if (current && !chosen) select.append(el('option', { value: current }, `${current} (not found)`));
    select.value = current;
    filter.textContent = chosen?.FilterExpression || '';
    filter.title = chosen?.FilterExpression || '';
  } catch (e) {
    select.disabled = true;
    filter.textContent = 'groups unavailable: ' + e.message;
  }
}

function legend() {
  return el('div', { class: 'legend map-legend' },
    HEALTH.map(([, label, color]) => el('span', {}, el('i', { style: { background: color } }), label)),
    el('span', {}, el('i', { class: 'map-legend-inferred' }), 'Inferred (not traced) downstream'),
    el('span', {}, 'inside a node: average response time and requests per minute'));
}

// ---- model ------------------------------------------------------------------------------

/** Counts of one EdgeStatistics/ServiceStatistics, with the average in ms. */
function counts(s) {
  const total = s?.TotalCount || 0;
  const error = s?.ErrorStatistics?.OtherCount || 0;
  const throttle = s?.ErrorStatistics?.ThrottleCount || 0;
  const fault = s?.FaultStatistics?.TotalCount || 0;
  return {
    total, error, throttle, fault,
    ok: s?.OkCount ?? Math.max(0, total - error - throttle - fault),
    avgMs: total ? (s.TotalResponseTime || 0) / total * 1000 : null,
  };
}

function addCounts(list) {
  const out = { total: 0, ok: 0, error: 0, throttle: 0, fault: 0, time: 0 };
  for (const c of list) {
    for (const k of ['total', 'ok', 'error', 'throttle', 'fault']) out[k] += c[k];
    out.time += (c.avgMs || 0) * c.total;
  }
  return { ...out, avgMs: out.total ? out.time / out.total : null };
}

/** Nodes and edges from `Services`; the nameless client node sums what it sent. */
function model(services, range) {
  const minutes = Math.max(1 / 60, (range.end - range.start) / 60);
  const nodes = services.map(s => {
    const client = s.Type === 'client' && !s.Name;
    const name = s.Name || (client ? 'client' : `#${s.ReferenceId}`);
    const type = s.Type || '';
    return {
      ref: s.ReferenceId, name, type, client,
      inferred: type === 'remote' || type.startsWith('AWS::'),
      key: `${name}\u0000${type}`,
      stats: client ? null : counts(s.SummaryStatistics),
      hist: s.ResponseTimeHistogram || [],
      out: [], in: [],
    };
  });
  const byRef = new Map(nodes.map(n => [n.ref, n]));
  const edges = [];
  for (const s of services) {
    const from = byRef.get(s.ReferenceId);
    for (const e of s.Edges || []) {
      const to = byRef.get(e.ReferenceId);
      if (!to) continue;
      const edge = { from, to, key: `${from.key}\u0001${to.key}`, stats: counts(e.SummaryStatistics), hist: e.ResponseTimeHistogram || [] };
      edges.push(edge);
      from.out.push(edge);
      to.in.push(edge);
    }
  }
  for (const n of nodes) if (n.client) n.stats = addCounts(n.out.map(e => e.stats));
  for (const x of [...nodes, ...edges]) x.stats.perMin = x.stats.total / minutes;
  return { nodes, edges };
}

// ---- layout -----------------------------------------------------------------------------

/** Layers by longest path from the roots (back edges of cycles ignored), then ordered
 * within each layer by the mean position of their callers to cut crossings. */
function layout(nodes) {
  const roots = nodes.filter(n => n.client || !n.in.some(e => e.from !== n));
  const back = backEdges(roots.length ? roots : nodes.slice(0, 1), nodes);
  const depth = new Map();
  const visit = n => {
    if (depth.has(n)) return depth.get(n);
    depth.set(n, 0); // guards against a cycle the back-edge pass missed
    const callers = n.in.filter(e => e.from !== n && !back.has(e));
    const d = callers.length ? 1 + Math.max(...callers.map(e => visit(e.from))) : 0;
    depth.set(n, d);
    return d;
  };
  nodes.forEach(visit);
  const layers = [];
  for (const n of nodes) (layers[depth.get(n)] ||= []).push(n);
  const order = new Map();
  layers.forEach(l => l.forEach((n, i) => order.set(n, i)));
  for (let sweep = 0; sweep < 3; sweep++) {
    for (const l of layers.slice(1)) {
      const bary = n => {
        const ps = n.in.filter(e => depth.get(e.from) < depth.get(n)).map(e => order.get(e.from));
        return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : order.get(n);
      };
      l.sort((a, b) => bary(a) - bary(b)).forEach((n, i) => order.set(n, i));
    }
  }
  const rows = Math.max(...layers.map(l => l.length));
  layers.forEach((l, d) => l.forEach((n, i) => {
    n.x = PAD_X + d * COL_W;
    n.y = PAD_Y + (i + (rows - l.length) / 2) * ROW_H;
    n.depth = d;
  }));
  return { width: PAD_X * 2 + (layers.length - 1) * COL_W, height: PAD_Y * 2 + (rows - 1) * ROW_H + 20 };
}

/** Edges that close a cycle, found by depth-first search from the roots. */
function backEdges(roots, nodes) {
  const back = new Set(), onPath = new Set(), done = new Set();
  const dfs = n => {
    onPath.add(n);
    for (const e of n.out) {
      if (onPath.has(e.to)) back.add(e);
      else if (!done.has(e.to)) dfs(e.to);
    }
    onPath.delete(n);
    done.add(n);
  };
  roots.forEach(r => done.has(r) || dfs(r));
  nodes.forEach(n => done.has(n) || dfs(n));
  return back;
}

// ---- drawing ----------------------------------------------------------------------------

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function drawGraph(canvas, summary) {
  const { nodes, edges } = state.graph;
  const services = nodes.filter(n => !n.client);
  summary.textContent = `${services.length} service${services.length === 1 ? '' : 's'} · ${edges.length} edge${edges.length === 1 ? '' : 's'}`;
  if (!services.length) {
    canvas.replaceChildren(el('div', { class: 'empty' },
      'No traced requests in this range', getParam('group') ? ' for this group' : '', '. ',
      'Send X-Ray segments or OpenTelemetry spans, or widen the time range.'));
    return;
  }
  const size = layout(nodes);
  const box = placeLoops(nodes, edges, size);
  const map = svg('svg', {
    id: 'service-map', class: 'service-map' + (edges.length > DENSE_EDGES ? ' dense' : ''),
    viewBox: `${box.x} ${box.y} ${box.width} ${box.height}`, role: 'group', 'aria-label': 'Service map',
    onclick: e => { if (e.target === map) select(null); },
  },
  svg('defs', {},
    svg('marker', { id: 'map-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'map-arrow' })),
    svg('marker', { id: 'map-arrow-hl', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
      svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'map-arrow hl' }))),
  svg('g', { class: 'map-edges' }, edges.map(drawEdge)),
  svg('g', { class: 'map-nodes' }, nodes.map(drawNode)));
  map.dataset.width = box.width;
  map.dataset.height = box.height;
  canvas.replaceChildren(map);
  applyZoom();
}

// ---- zoom -------------------------------------------------------------------------------

/** The scale that shows the whole graph in the canvas. */
function fitScale(map) {
  const canvas = document.getElementById('map-canvas');
  const w = canvas.clientWidth - 20, h = Math.max(360, window.innerHeight - 260);
  return Math.min(w / map.dataset.width, h / map.dataset.height);
}

/** Sizes the SVG: the chosen zoom, else fitted but never so small that labels blur
 * (then the canvas scrolls). */
function applyZoom() {
  const map = document.getElementById('service-map');
  if (!map) return;
  const scale = state.zoom ?? Math.min(1, Math.max(0.8, fitScale(map)));
  map.setAttribute('width', Math.round(map.dataset.width * scale));
  map.setAttribute('height', Math.round(map.dataset.height * scale));
  const label = document.getElementById('map-zoom-level');
  if (label) label.textContent = Math.round(scale * 100) + '%';
}

function zoomBy(f) {
  const map = document.getElementById('service-map');
  if (!map) return;
  const now = map.getAttribute('width') / map.dataset.width;
  state.zoom = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, now * f));
  applyZoom();
}

function zoomControls() {
  return el('div', { class: 'map-zoom', role: 'group', 'aria-label': 'Zoom' },
    el('button', { type: 'button', 'aria-label': 'Zoom out', onclick: () => zoomBy(0.8) }, '−'),
    el('span', { id: 'map-zoom-level', class: 'muted mono' }, '100%'),
    el('button', { type: 'button', 'aria-label': 'Zoom in', onclick: () => zoomBy(1.25) }, '+'),
    el('button', { type: 'button', onclick: () => {
      const map = document.getElementById('service-map');
      if (map) { state.zoom = Math.min(ZOOM_MAX, fitScale(map)); applyZoom(); }
    } }, 'Fit'));
}

/** Cubic Bézier between two nodes: forward edges run right, others loop below; a service
 * calling itself gets a loop beside its node (placeLoops picks the side). The label sits at
 * (lx, ly) with `anchor`. */
function edgeGeometry(a, b, e) {
  if (a === b) return loopGeometry(a, e?.loopAngle ?? LOOP_ANGLES[0], e ? edgeLabel(e) : '');
  let p0, p1, p2, p3;
  if (b.x > a.x) {
    const dx = (b.x - a.x) / 2;
    p0 = [a.x + R, a.y]; p3 = [b.x - R - 2, b.y];
    p1 = [p0[0] + dx, p0[1]]; p2 = [p3[0] - dx, p3[1]];
  } else {
    const drop = ROW_H * 0.6 + Math.abs(a.x - b.x) * 0.15;
    p0 = [a.x, a.y + R]; p3 = [b.x, b.y + R + 2];
    p1 = [p0[0], Math.max(p0[1], p3[1]) + drop]; p2 = [p3[0], Math.max(p0[1], p3[1]) + drop];
  }
  const mid = (i) => 0.125 * p0[i] + 0.375 * p1[i] + 0.375 * p2[i] + 0.125 * p3[i];
  return { d: `M${p0} C${p1} ${p2} ${p3}`, pts: [p0, p1, p2, p3], lx: mid(0), ly: mid(1) - 6, anchor: 'middle' };
}

// ---- self-loops -------------------------------------------------------------------------

// Where a loop may sit, in order of preference (radians, 0 = right, y down): above the node,
// leaning right, left, straight up, then the sides' upper halves. Below is the node's name;
// the left and right middles are where edges arrive and leave.
const LOOP_ANGLES = [-Math.PI / 3, -2 * Math.PI / 3, -Math.PI / 2, -Math.PI / 6, -5 * Math.PI / 6, Math.PI / 6, 5 * Math.PI / 6];
const LOOP_REACH = 60, LOOP_SPREAD = 0.42, LOOP_CTRL = 0.55;

function edgeLabel(e) { return `${fmtNum(e.stats.total)} calls · ${fmtMs(e.stats.avgMs)}`; }

/** Rough width of SVG text (no layout pass: the map is drawn once, off screen). */
function textWidth(text, px) { return String(text).length * px * 0.58; }

/** A teardrop leaving and re-entering the node around direction `angle`, its label beyond. */
function loopGeometry(n, angle, label) {
  const at = (r, t) => [n.x + r * Math.cos(t), n.y + r * Math.sin(t)];
  const p0 = at(R, angle - LOOP_SPREAD), p3 = at(R + 4, angle + LOOP_SPREAD);
  const p1 = at(R + LOOP_REACH, angle - LOOP_CTRL), p2 = at(R + LOOP_REACH, angle + LOOP_CTRL);
  const peak = 0.25 * R * Math.cos(LOOP_SPREAD) + 0.75 * (R + LOOP_REACH) * Math.cos(LOOP_CTRL);
  const [qx, qy] = at(peak + 9, angle);
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const anchor = cos > 0.35 ? 'start' : cos < -0.35 ? 'end' : 'middle';
  // Baseline: above the point when the loop points up, below when down, centred beside.
  const ly = sin < -0.5 ? qy - 1 : sin > 0.5 ? qy + 11 : qy + 4;
  const lx = anchor === 'start' ? qx + 2 : anchor === 'end' ? qx - 2 : qx;
  const w = textWidth(label, 11);
  const x0 = anchor === 'start' ? lx : anchor === 'end' ? lx - w : lx - w / 2;
  const fmt = p => p.map(v => v.toFixed(1)).join(',');
  return {
    d: `M${fmt(p0)} C${fmt(p1)} ${fmt(p2)} ${fmt(p3)}`, pts: [p0, p1, p2, p3], lx, ly, anchor,
    labelBox: { x0, x1: x0 + w, y0: ly - 10, y1: ly + 3 },
  };
}

function bezier([p0, p1, p2, p3], steps = 16) {
  const out = [];
  for (let k = 0; k <= steps; k++) {
    const t = k / steps, u = 1 - t;
    const f = (i) => u * u * u * p0[i] + 3 * u * u * t * p1[i] + 3 * u * t * t * p2[i] + t * t * t * p3[i];
    out.push([f(0), f(1)]);
  }
  return out;
}

const hits = (a, b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
const inside = ([x, y], b) => x > b.x0 && x < b.x1 && y > b.y0 && y < b.y1;

/**
 * Picks each self-loop's side: the first of LOOP_ANGLES whose loop and label cross the
 * fewest nodes, node names, other edges and their labels (and loops placed before it).
 * Returns the drawing's box, grown to hold loops at the edges of the layout.
 */
function placeLoops(nodes, edges, size) {
  const box = { x0: 0, y0: 0, x1: size.width, y1: size.height };
  const loops = edges.filter(e => e.from === e.to);
  if (!loops.length) return { x: 0, y: 0, width: size.width, height: size.height };
  const solid = []; // boxes a loop's label and line should keep off
  for (const n of nodes) {
    solid.push({ x0: n.x - R - 7, x1: n.x + R + 7, y0: n.y - R - 7, y1: n.y + R + 7, node: n });
    const w = Math.max(textWidth(n.client ? 'Clients' : shortName(n.name), 12.5), n.client ? 0 : textWidth(shortName(n.type || 'service', 30), 11));
    solid.push({ x0: n.x - w / 2, x1: n.x + w / 2, y0: n.y + R + 6, y1: n.y + R + 36 });
  }
  const lines = [];
  for (const e of edges) {
    if (e.from === e.to) continue;
    const g = edgeGeometry(e.from, e.to);
    const w = textWidth(edgeLabel(e), 11);
    solid.push({ x0: g.lx - w / 2, x1: g.lx + w / 2, y0: g.ly - 10, y1: g.ly + 3 });
    lines.push(...bezier(g.pts, 24));
  }
  for (const e of loops) {
    const label = edgeLabel(e);
    let best = null;
    LOOP_ANGLES.forEach((angle, i) => {
      const g = loopGeometry(e.from, angle, label);
      const curve = bezier(g.pts).slice(2, -2); // the ends touch their own node
      let cost = i * 0.01;
      for (const b of solid) {
        if (b.node === e.from) continue; // its own node: the loop starts there, the label is clear of it
        if (hits(g.labelBox, b)) cost += 3;
        cost += curve.filter(p => inside(p, b)).length;
      }
      cost += lines.filter(p => inside(p, g.labelBox)).length;
      if (!best || cost < best.cost) best = { cost, angle, g, curve };
    });
    e.loopAngle = best.angle;
    solid.push(best.g.labelBox);
    lines.push(...best.curve);
    for (const [x, y] of best.curve) {
      box.x0 = Math.min(box.x0, x - 8); box.x1 = Math.max(box.x1, x + 8);
      box.y0 = Math.min(box.y0, y - 8); box.y1 = Math.max(box.y1, y + 8);
    }
    const l = best.g.labelBox;
    box.x0 = Math.min(box.x0, l.x0 - 6); box.x1 = Math.max(box.x1, l.x1 + 6);
    box.y0 = Math.min(box.y0, l.y0 - 6); box.y1 = Math.max(box.y1, l.y1 + 6);
  }
  return { x: Math.floor(box.x0), y: Math.floor(box.y0), width: Math.ceil(box.x1 - box.x0), height: Math.ceil(box.y1 - box.y0) };
}

function drawEdge(e) {
  const g = edgeGeometry(e.from, e.to, e);
  const s = e.stats;
  const width = Math.min(5, 1.2 + Math.log10(1 + s.total) * 0.8);
  const bad = s.total ? (s.fault + s.error + s.throttle) / s.total : 0;
  const label = edgeLabel(e);
  const self = e.from === e.to;
  const node = svg('g', {
    class: 'map-edge' + (s.fault ? ' faulty' : '') + (self ? ' self-loop' : ''), tabindex: 0, role: 'button',
    'data-from': e.from.name, 'data-to': e.to.name,
    'aria-label': `${e.from.name} to ${self ? 'itself' : e.to.name}: ${label}, ${fmtPct(bad)} errors and faults`,
    onclick: ev => { ev.stopPropagation(); select(e); },
    onkeydown: ev => activateKey(ev, e),
    onmouseenter: () => highlight(e), onmouseleave: () => highlight(null),
    onfocus: () => highlight(e), onblur: () => highlight(null),
  },
  svg('path', { d: g.d, class: 'hit' }),
  svg('path', { d: g.d, class: 'line', 'stroke-width': width.toFixed(2) }),
  svg('text', { x: g.lx.toFixed(1), y: g.ly.toFixed(1), class: 'edge-label', 'text-anchor': g.anchor }, label),
  svg('title', {}, `${e.from.name} → ${e.to.name}\n${label}`));
  e.el = node;
  return node;
}

/** A ring of arcs, one per health class, proportional to its count. */
function healthRing(s) {
  const C = 2 * Math.PI * R;
  const parts = HEALTH.map(([k, , color]) => [s[k] || 0, color]).filter(([n]) => n > 0);
  const total = parts.reduce((a, [n]) => a + n, 0);
  if (!total) return [svg('circle', { r: R, class: 'ring-empty' })];
  let offset = 0;
  return parts.map(([n, color]) => {
    const len = n / total * C;
    const arc = svg('circle', { r: R, class: 'ring', stroke: color,
      'stroke-dasharray': `${len} ${C - len}`, 'stroke-dashoffset': -offset, transform: 'rotate(-90)' });
    offset += len;
    return arc;
  });
}

/** Requests per minute, short enough for the inside of a node. */
function fmtRate(n) { return n >= 10 ? fmtNum(Math.round(n)) : n >= 1 ? n.toFixed(1) : fmtNum(n); }

function shortName(name, max = 26) { return name.length > max ? name.slice(0, max - 1) + '…' : name; }

function drawNode(n) {
  const s = n.stats;
  const body = n.client
    ? [svg('circle', { r: R * 0.72, class: 'client-dot' }), svg('path', { class: 'client-glyph',
      d: 'M0,-12 a6,6 0 1,0 0.01,0 M-11,12 a11,9 0 0,1 22,0 z' })]
    : [svg('circle', { r: R - 5, class: 'core' + (n.inferred ? ' inferred' : '') }),
      ...healthRing(s),
      svg('text', { y: -2, class: 'node-latency', 'text-anchor': 'middle' }, fmtMs(s.avgMs)),
      svg('text', { y: 11, class: 'node-rate', 'text-anchor': 'middle' }, `${fmtRate(s.perMin)}/min`)];
  const type = n.client ? 'Clients' : n.type || 'service';
  const g = svg('g', {
    class: 'map-node' + (n.client ? ' client' : '') + (n.inferred ? ' inferred' : ''),
    transform: `translate(${n.x},${n.y})`, tabindex: 0, role: 'button',
    'data-service': n.name, 'data-type': n.type,
    'aria-label': n.client ? `Clients: ${fmtNum(s.total)} requests`
      : `${n.name} (${type}): ${fmtNum(s.perMin)} requests per minute, average ${fmtMs(s.avgMs)}, ${fmtPct(s.total ? s.fault / s.total : 0)} faults`,
    onclick: ev => { ev.stopPropagation(); select(n); },
    onkeydown: ev => activateKey(ev, n),
    onmouseenter: () => highlight(n), onmouseleave: () => highlight(null),
    onfocus: () => highlight(n), onblur: () => highlight(null),
  },
  svg('circle', { r: R + 7, class: 'halo' }),
  body,
  svg('text', { y: R + 18, class: 'node-name', 'text-anchor': 'middle' }, n.client ? 'Clients' : shortName(n.name)),
  n.client ? null : svg('text', { y: R + 32, class: 'node-type', 'text-anchor': 'middle' }, shortName(type, 30)),
  svg('title', {}, n.client ? 'Clients (callers of root services)' : `${n.name}\n${type}`));
  n.el = g;
  return g;
}

function activateKey(ev, target) {
  if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(target); }
  if (ev.key === 'Escape') select(null);
}

/** Dims everything but `target` and its neighbours (a node's edges, an edge's ends). */
function highlight(target) {
  const map = document.getElementById('service-map');
  if (!map) return;
  map.querySelectorAll('.hl').forEach(x => x.classList.remove('hl'));
  map.classList.toggle('dim', !!target);
  if (!target) return;
  const lit = target.from ? [target, target.from, target.to]
    : [target, ...target.out, ...target.in, ...target.out.map(e => e.to), ...target.in.map(e => e.from)];
  lit.forEach(x => x.el?.classList.add('hl'));
}

// ---- selection and the side panel -------------------------------------------------------

function select(target) {
  state.selected = target ? target.key : null;
  document.querySelectorAll('#service-map .sel').forEach(x => x.classList.remove('sel'));
  target?.el?.classList.add('sel');
  const detail = document.getElementById('map-detail');
  if (!detail) return;
  const parts = !target ? overview() : target.from ? edgeDetail(target) : nodeDetail(target);
  detail.replaceChildren(...parts.flat(Infinity).filter(x => x !== null && x !== undefined));
}

/** After a reload, the same node or edge stays selected when it still exists. */
function restoreSelection(detail) {
  const { nodes, edges } = state.graph;
  const again = [...nodes, ...edges].find(x => x.key === state.selected);
  if (again) select(again);
  else { state.selected = null; detail.replaceChildren(...overview()); }
}

function overview() {
  const services = state.graph.nodes.filter(n => !n.client);
  return [
    el('h3', {}, 'Services'),
    el('p', { class: 'muted' }, 'Select a node or an edge (click, or Tab then Enter) for its statistics and traces.'),
    table([
      { label: 'service', value: n => el('span', { class: 'map-swatch-name' }, n.name, n.type ? el('span', { class: 'muted' }, ' ', n.type) : null) },
      { label: 'req/min', num: true, value: n => fmtRate(n.stats.perMin) },
      { label: 'avg', num: true, value: n => fmtMs(n.stats.avgMs) },
      { label: 'faults', num: true, value: n => fmtPct(n.stats.total ? n.stats.fault / n.stats.total : 0) },
    ], services, { onclick: n => { select(n); n.el?.focus(); }, empty: 'No services in this range.' }),
  ];
}

function statBlock(s) {
  const pct = n => s.total ? fmtPct(n / s.total) : '–';
  return el('div', { class: 'map-stats' },
    stat('Requests', fmtNum(s.total), `${fmtRate(s.perMin)}/min`),
    stat('Avg response', fmtMs(s.avgMs)),
    HEALTH.map(([k, label, color]) => stat(label, pct(s[k]), fmtNum(s[k]), color)));
}

function stat(label, value, sub, color) {
  return el('div', { class: 'map-stat' },
    el('div', { class: 'muted' }, color ? el('i', { style: { background: color } }) : null, label),
    el('strong', {}, value), sub ? el('span', { class: 'muted' }, ' ', sub) : null);
}

function nodeDetail(n) {
  const { start, end } = state.range;
  const traces = n.client ? null
    : n.inferred ? links.traces({ q: inferredQuery(null, n), start, end })
      : links.traces({ service: n.name, start, end });
  return [
    el('div', { class: 'row' }, el('h3', { class: 'grow' }, n.client ? 'Clients' : n.name),
      el('button', { type: 'button', class: 'map-close', 'aria-label': 'Close details', onclick: () => select(null) }, '×')),
    el('div', { class: 'row' }, el('span', { class: 'badge' }, n.client ? 'client' : n.type || 'service'),
      n.inferred ? el('span', { class: 'badge muted' }, 'inferred from outgoing calls') : null),
    statBlock(n.stats),
    n.hist.length ? [el('h4', {}, 'Response time distribution'), histogram(n.hist)] : null,
    traces ? el('p', {}, el('a', { href: traces, id: 'map-traces-link', class: 'map-action' }, `View traces of ${n.name} →`)) : null,
    neighbourList('Calls', n.out, e => e.to),
    neighbourList('Called by', n.in, e => e.from),
  ];
}

function edgeDetail(e) {
  const { start, end } = state.range;
  const self = e.from === e.to;
  const q = e.from.client ? null : e.to.inferred ? inferredQuery(e.from, e.to) : self ? selfQuery(e.from) : edgeQuery(e.from, e.to);
  const href = e.from.client ? links.traces({ service: e.to.name, start, end }) : links.traces({ q, start, end });
  return [
    el('div', { class: 'row' }, el('h3', { class: 'grow' }, `${e.from.client ? 'Clients' : e.from.name} → ${e.to.name}`),
      el('button', { type: 'button', class: 'map-close', 'aria-label': 'Close details', onclick: () => select(null) }, '×')),
    el('p', { class: 'muted' }, self ? 'Calls this service made to itself, as it answered them.' : 'Calls along this edge, as the callee answered them.'),
    statBlock(e.stats),
    e.hist.length ? [el('h4', {}, 'Response time distribution'), histogram(e.hist)] : null,
    el('p', {}, el('a', { href, id: 'map-traces-link', class: 'map-action' }, 'View traces of these calls →')),
    q ? el('pre', { class: 'map-query' }, q) : null,
    el('div', { class: 'row' },
      e.from.client || self ? null : el('button', { type: 'button', onclick: () => select(e.from) }, `Open ${shortName(e.from.name, 20)}`),
      el('button', { type: 'button', onclick: () => select(e.to) }, `Open ${shortName(e.to.name, 20)}`)),
  ];
}

function neighbourList(title, list, other) {
  if (!list.length) return null;
  return [el('h4', {}, title), el('ul', { class: 'map-neighbours' }, list.map(e => el('li', {},
    el('button', { type: 'button', class: 'linkish', onclick: () => select(e) },
      other(e).client ? 'Clients' : other(e).name),
    el('span', { class: 'muted' }, ` ${fmtNum(e.stats.total)} calls · ${fmtMs(e.stats.avgMs)}`))))];
}

/** TraceQL string literal. */
function lit(s) { return '"' + String(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'; }

/** Parent service → child service spans. */
function edgeQuery(a, b) {
  return `{ resource.service.name = ${lit(a.name)} } > { resource.service.name = ${lit(b.name)} }`;
}

/** A service calling itself: its requests (server or consumer spans) made by its own spans. */
function selfQuery(n) {
  return `{ resource.service.name = ${lit(n.name)} } > { resource.service.name = ${lit(n.name)} && (kind = server || kind = consumer) }`;
}

/** An inferred node is no service of its own: it is the outgoing (client) spans whose
 * peer attributes name it, the same attributes the graph took the name from. */
function inferredQuery(caller, n) {
  const peer = ['peer.service', 'server.address', 'net.peer.name', 'http.host']
    .map(a => `span.${a} = ${lit(n.name)}`).join(' || ');
  const who = caller ? `resource.service.name = ${lit(caller.name)} && ` : '';
  return `{ ${who}kind = client && (${peer} || span.http.url =~ ${lit('.*//' + n.name + '[:/].*')}) }`;
}

/** Response-time histogram: the server's buckets regrouped into equal steps of a log
 * time axis, so sparse fine buckets still read as a distribution. */
function histogram(hist) {
  const W = 300, H = 90, B = 16, BINS = 40;
  const pts = hist.filter(h => h.Count > 0 && h.Value > 0);
  if (!pts.length) return el('p', { class: 'muted' }, 'no timings');
  const lo = Math.log10(Math.min(...pts.map(h => h.Value)));
  const hi = Math.max(lo + 0.5, Math.log10(Math.max(...pts.map(h => h.Value))));
  const bins = new Array(BINS).fill(0);
  for (const h of pts) bins[Math.min(BINS - 1, Math.floor((Math.log10(h.Value) - lo) / (hi - lo) * BINS))] += h.Count;
  const max = Math.max(...bins), bw = W / BINS;
  const edge = i => 10 ** (lo + (hi - lo) * i / BINS) * 1000;
  return svg('svg', { class: 'map-hist', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Response time distribution' },
    bins.map((c, i) => {
      if (!c) return null;
      const h = Math.max(1.5, c / max * (H - B - 4));
      return svg('rect', { x: i * bw + 0.5, width: bw - 1, y: H - B - h, height: h },
        svg('title', {}, `${fmtMs(edge(i))} – ${fmtMs(edge(i + 1))}: ${fmtNum(c)}`));
    }),
    svg('line', { x1: 0, x2: W, y1: H - B + 0.5, y2: H - B + 0.5, class: 'axis' }),
    svg('text', { x: 0, y: H - 3 }, fmtMs(edge(0))),
    svg('text', { x: W / 2, y: H - 3, 'text-anchor': 'middle' }, fmtMs(edge(BINS / 2))),
    svg('text', { x: W, y: H - 3, 'text-anchor': 'end' }, fmtMs(edge(BINS))));
}

onNavigate(render);
render();
