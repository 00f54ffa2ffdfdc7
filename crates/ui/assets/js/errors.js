// Errors, Rollbar style: the project's items (level, title, environment, occurrences, an
// occurrence sparkline over the range, first/last seen, status and its actions), filtered by
// status, level and environment in the URL, with the project's deploys on a strip above.
//
// Items, PATCH and deploys come from Rollbar's read/write API; occurrence counts over time come
// from the stored `Error` events (one per occurrence, dataset = the project's name) through a
// Honeycomb query broken down by `rollbar.item_id`, the column translate.rs writes.
//
// item.js imports the shared pieces (status actions, deploys, counts) from here, so the page
// itself only starts when this is the page's own module.

import { boot, rollbar, hcQuery, hcWindow, granularity, timeRange, rangePicker, getParam, setParams,
  onNavigate, el, show, errorBox, fmtNum, fmtTime, fmtAgo, links, colorFor } from './core.js';
import { sparkline } from './chart.js';

/** The stored events' column naming an occurrence's item (translate.rs `fields::ITEM_ID`). */
export const ITEM_KEY = 'rollbar.item_id';
export const LEVELS = ['critical', 'error', 'warning', 'info', 'debug'];
const STATUSES = ['active', 'resolved', 'muted', 'all'];
/** `GET /api/1/items` pages are 100 items (api.rs ITEMS_PAGE_SIZE). */
const ITEMS_PAGE = 100;
/** `GET /api/1/deploys` pages are 20 deploys, newest first (api.rs DEPLOYS_PAGE_SIZE). */
const DEPLOYS_PAGE = 20;
/** Deploy pages read for one range (our bound: 200 deploys). */
const DEPLOY_PAGES_MAX = 10;
const SORTS = {
  last_seen: ['last seen', (a, b) => b.last_occurrence_timestamp - a.last_occurrence_timestamp],
  first_seen: ['first seen', (a, b) => b.first_occurrence_timestamp - a.first_occurrence_timestamp],
  occurrences: ['total occurrences', (a, b) => b.total_occurrences - a.total_occurrences],
  in_range: ['occurrences in range', (a, b) => b.last_occurrence_timestamp - a.last_occurrence_timestamp],
  counter: ['newest item', (a, b) => b.counter - a.counter],
};

/** The project's dataset: the project's name (`default` in local mode). */
export function dataset() { return getParam('project') || 'default'; }

export function levelBadge(level) {
  return el('span', { class: 'badge level ' + level, title: 'level' }, level);
}

export function statusBadge(status, attrs = {}) {
  return el('span', { ...attrs, class: 'badge item-status ' + status }, status);
}

/** PATCH `item/<id>` with a new status; returns the item as the API now shows it. */
export function setStatus(item, status) {
  return rollbar(`item/${item.id}`, { method: 'PATCH', body: { status } });
}

/** The two actions that leave the current status (Rollbar's: resolve/mute, or reactivate). */
const ACTIONS = {
  active: [['resolve-item', 'Resolve', 'resolved'], ['mute-item', 'Mute', 'muted']],
  resolved: [['reactivate-item', 'Reactivate', 'active'], ['mute-item', 'Mute', 'muted']],
  muted: [['reactivate-item', 'Unmute', 'active'], ['resolve-item', 'Resolve', 'resolved']],
};

/**
 * Status buttons for an item that redraw themselves after a change; `onchange(item)` gets
 * the patched item and `onerror(err)` a refused change.
 */
export function statusActions(item, { onchange, onerror }) {
  const box = el('span', { class: 'status-actions' });
  const draw = (it, focus) => {
    box.replaceChildren(...(ACTIONS[it.status] || ACTIONS.active).map(([cls, label, to]) =>
      el('button', { type: 'button', class: cls, title: `${label} #${it.counter}`,
        'aria-label': `${label} item #${it.counter}`,
        onclick: async () => {
          box.querySelectorAll('button').forEach(b => { b.disabled = true; });
          try {
            const next = await setStatus(it, to);
            draw(next, true);
            onchange(next);
          } catch (e) {
            draw(it, true);
            onerror(e);
          }
        } }, label)));
    // Keyboard users keep their place: the clicked button is gone, the next one takes focus.
    if (focus) box.querySelector('button')?.focus();
  };
  draw(item, false);
  return box;
}

// ---- occurrence counts ------------------------------------------------------------------------

/** Bucket starts covering the range at `g` seconds. */
function grid(r, g) {
  const out = [];
  for (let t = Math.floor(r.start / g) * g; t < r.end; t += g) out.push(t);
  return out;
}

/**
 * Occurrences per item over the range: Map item id → {total, points [[t, count]]}, zeros
 * filled in so every line spans the range. `ids` narrows the query to those items.
 */
export async function occurrenceCounts(ids, points = 40) {
  const g = granularity(points), r = timeRange();
  const filters = ids && ids.length ? [{ column: ITEM_KEY, op: 'in', value: ids }] : [];
  const res = await hcQuery(dataset(), { ...hcWindow(), granularity: g, limit: 1000,
    calculations: [{ op: 'COUNT' }], breakdowns: [ITEM_KEY], filters });
  const ts = grid(r, g), t0 = ts[0];
  const out = new Map();
  const entry = id => {
    if (!out.has(id)) out.set(id, { total: 0, points: ts.map(t => [t, 0]) });
    return out.get(id);
  };
  for (const row of res.data?.results || []) entry(Number(row.data[ITEM_KEY])).total = row.data.COUNT || 0;
  for (const s of res.data?.series || []) {
    const i = Math.floor((Date.parse(s.time) / 1000 - t0) / g);
    const e = entry(Number(s.data[ITEM_KEY]));
    if (i >= 0 && i < e.points.length) e.points[i][1] += s.data.COUNT || 0;
  }
  return out;
}

// ---- deploys --------------------------------------------------------------------------------

/** The project's deploys that started inside the range, oldest first. */
export async function deploysInRange(r = timeRange()) {
  const found = [];
  for (let page = 1; page <= DEPLOY_PAGES_MAX; page++) {
    const list = (await rollbar(`deploys?page=${page}`)).deploys || [];
    found.push(...list.filter(d => d.start_time >= r.start && d.start_time <= r.end));
    // Newest first: once a page reaches back before the range, older pages cannot match.
    if (list.length < DEPLOYS_PAGE || list.some(d => d.start_time < r.start)) break;
  }
  return found.sort((a, b) => a.start_time - b.start_time);
}

export function deployLabel(d) {
  return `${d.revision.slice(0, 12)} → ${d.environment}`;
}

/** A time axis for the strip: about `n` evenly spaced labels. */
function axisLabels(r, n = 6) {
  const span = r.end - r.start;
  const fmt = t => {
    const d = new Date(t * 1000);
    const hm = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
    return span > 2 * 86400 ? `${d.getMonth() + 1}/${d.getDate()} ${hm}` : hm;
  };
  return Array.from({ length: n + 1 }, (_, i) => {
    const t = r.start + span * i / n;
    return el('span', { class: 'axis-label', style: { left: (i / n * 100) + '%' } }, fmt(t));
  });
}

/** Deploys as ticks on a strip over the range; each tick is a button with a tooltip. */
function deployStrip(deploys, r) {
  const tip = el('div', { class: 'deploy-tip', role: 'tooltip', id: 'deploy-tip', hidden: true });
  const showTip = (d, x) => {
    tip.replaceChildren(
      el('strong', {}, d.environment), ' ', el('span', { class: 'mono' }, d.revision),
      el('div', { class: 'muted' }, `${fmtTime(d.start_time)} · ${d.status}`),
      d.local_username || d.rollbar_username ? el('div', {}, 'by ' + (d.local_username || d.rollbar_username)) : null,
      d.comment ? el('div', { class: 'deploy-comment' }, d.comment) : null);
    tip.style.left = `min(max(0px, calc(${x}% - 120px)), calc(100% - 260px))`;
    tip.hidden = false;
  };
  const hideTip = () => { tip.hidden = true; };
  const ticks = deploys.map(d => {
    const x = (d.start_time - r.start) / (r.end - r.start) * 100;
    return el('button', { type: 'button', class: 'deploy-tick ' + (d.status || ''),
      style: { left: x + '%', background: colorFor(d.environment) },
      'aria-label': `deploy ${d.revision} to ${d.environment} at ${fmtTime(d.start_time)}`,
      'aria-describedby': 'deploy-tip', dataset: { deployId: d.id, environment: d.environment, revision: d.revision },
      onmouseenter: () => showTip(d, x), onfocus: () => showTip(d, x), onmouseleave: hideTip, onblur: hideTip });
  });
  const envs = [...new Set(deploys.map(d => d.environment))];
  return el('div', { class: 'deploy-strip-wrap' },
    el('div', { class: 'deploy-strip' }, ticks,
      deploys.length ? null : el('span', { class: 'deploy-none muted' }, 'No deploys in this range'), tip),
    el('div', { class: 'deploy-axis', 'aria-hidden': 'true' }, axisLabels(r)),
    envs.length ? el('div', { class: 'legend' }, envs.map(e => el('span', {}, el('i', { style: { background: colorFor(e) } }), e))) : null);
}

// ---- the list page ----------------------------------------------------------------------------

let generation = 0;

function filtersFromUrl() {
  const status = STATUSES.includes(getParam('status')) ? getParam('status') : 'active';
  const level = LEVELS.includes(getParam('level')) ? getParam('level') : '';
  const sort = SORTS[getParam('sort')] ? getParam('sort') : 'last_seen';
  const page = Math.max(1, Number(getParam('page')) || 1);
  return { status, level, environment: getParam('environment') || '', sort, page };
}

function itemsPath(f) {
  const q = new URLSearchParams();
  if (f.status !== 'all') q.set('status', f.status);
  if (f.level) q.set('level', f.level);
  if (f.environment) q.set('environment', f.environment);
  q.set('page', String(f.page));
  return 'items?' + q;
}

function select(id, label, value, options, onchange) {
  return el('label', { class: 'filter' }, label,
    el('select', { id, onchange: e => onchange(e.target.value) },
      options.map(([v, text]) => el('option', { value: v, selected: v === value }, text))));
}

/** A filter change: new history entry (Back returns), back to page 1, redraw. */
function refilter(params) {
  setParams({ ...params, page: null });
  render();
}

function filterBar(f, environments, total) {
  const envs = [...new Set([...environments, f.environment].filter(Boolean))].sort();
  return el('div', { class: 'row filters', id: 'filters', role: 'search', 'aria-label': 'Item filters' },
    select('status-filter', 'Status', f.status, STATUSES.map(s => [s, s]), v => refilter({ status: v === 'active' ? null : v })),
    select('level-filter', 'Level', f.level, [['', 'any level'], ...LEVELS.map(l => [l, l])], v => refilter({ level: v })),
    select('environment-filter', 'Environment', f.environment, [['', 'any environment'], ...envs.map(e => [e, e])], v => refilter({ environment: v })),
    select('sort-select', 'Sort by', f.sort, Object.entries(SORTS).map(([k, [label]]) => [k, label]),
      v => { setParams({ sort: v === 'last_seen' ? null : v }); render(); }),
    el('span', { class: 'grow' }),
    el('span', { class: 'muted', id: 'items-count' }, total === null ? '' : `${fmtNum(total)} item${total === 1 ? '' : 's'}`));
}

function pager(f, total) {
  const pages = Math.ceil(total / ITEMS_PAGE);
  if (pages <= 1) return null;
  const go = p => { setParams({ page: p === 1 ? null : p }); render(); };
  return el('div', { class: 'row pager' },
    el('button', { type: 'button', disabled: f.page <= 1, onclick: () => go(f.page - 1) }, '‹ Newer'),
    el('span', { class: 'muted' }, `page ${f.page} of ${pages}`),
    el('button', { type: 'button', disabled: f.page >= pages, onclick: () => go(f.page + 1) }, 'Older ›'));
}

function itemRow(item, r, say) {
  const badgeCell = el('td', {}, statusBadge(item.status));
  const row = el('tr', { class: 'item-row ' + item.status, dataset: { counter: item.counter, id: item.id, status: item.status } },
    el('td', {}, levelBadge(item.level)),
    el('td', { class: 'item-title' },
      el('a', { href: links.item(item.counter) }, el('span', { class: 'counter' }, '#' + item.counter), ' ', item.title),
      el('div', { class: 'muted sub' }, [item.framework, item.platform, item.language].filter(Boolean).join(' · '))),
    el('td', {}, item.environment),
    el('td', { class: 'num' }, fmtNum(item.total_occurrences)),
    el('td', { class: 'spark-cell' }, el('span', { class: 'muted' }, '…')),
    el('td', { title: fmtTime(item.first_occurrence_timestamp) }, fmtAgo(item.first_occurrence_timestamp)),
    el('td', { title: fmtTime(item.last_occurrence_timestamp) }, fmtAgo(item.last_occurrence_timestamp)),
    badgeCell,
    el('td', { class: 'actions' }, statusActions(item, {
      onchange: next => {
        badgeCell.replaceChildren(statusBadge(next.status));
        row.className = 'item-row ' + next.status;
        row.dataset.status = next.status;
        say(`#${next.counter} is now ${next.status}.`);
      },
      onerror: e => say(`Could not change #${item.counter}: ${e.message}`, true),
    })));
  return row;
}

/** Fills the sparkline cells in place (rows keep any status change made meanwhile). */
function fillCounts(tbody, counts, r) {
  for (const row of tbody.querySelectorAll('tr.item-row')) {
    const cell = row.querySelector('.spark-cell');
    if (!counts) { cell.replaceChildren(el('span', { class: 'muted', title: `no occurrence events in dataset "${dataset()}"` }, 'n/a')); continue; }
    const c = counts.get(Number(row.dataset.id)) || { total: 0, points: [] };
    cell.title = `${c.total} occurrences in the range`;
    cell.replaceChildren(el('div', { class: 'spark-box' },
      sparkline(c.points, { color: 'var(--err)', x0: r.start, x1: r.end }), el('span', { class: 'in-range num' }, fmtNum(c.total))));
  }
}

function itemsTable(items, r, say) {
  const head = ['level', 'item', 'environment', 'total', `last ${r.label === 'custom' ? 'range' : r.label}`,
    'first seen', 'last seen', 'status', ''];
  return el('div', { class: 'table-wrap items-wrap' }, el('table', { id: 'items-table' },
    el('thead', {}, el('tr', {}, head.map((h, i) => el('th', { class: i === 3 ? 'num' : '', scope: 'col' }, h)))),
    el('tbody', {}, items.map(i => itemRow(i, r, say)))));
}

function sortItems(items, sort) {
  return items.slice().sort((a, b) => SORTS[sort][1](a, b) || b.counter - a.counter);
}

/** "occurrences in range" needs the counts: the rows move once they are known. */
function sortByCounts(tbody, counts) {
  const total = tr => counts?.get(Number(tr.dataset.id))?.total || 0;
  const rows = [...tbody.querySelectorAll('tr.item-row')];
  rows.sort((a, b) => total(b) - total(a) || b.dataset.counter - a.dataset.counter).forEach(tr => tbody.append(tr));
}

async function render() {
  const gen = ++generation;
  rangePicker(render);
  const f = filtersFromUrl();
  const r = timeRange();
  const deploysBox = el('section', { id: 'deploys', class: 'panel', 'aria-label': 'Deploys' },
    el('h2', {}, 'Deploys'), el('p', { class: 'muted' }, 'Loading…'));
  const status = el('div', { id: 'items-message', role: 'status', class: 'muted' });
  const say = (text, bad) => { status.className = bad ? 'notice error' : 'notice'; status.textContent = text; };
  const list = el('div', { id: 'items' }, el('p', { class: 'muted' }, 'Loading…'));
  const bar = el('div', {}, filterBar(f, [], null));
  show(bar, deploysBox, status, list);
  deploysInRange(r).then(d => { if (gen === generation) deploysBox.replaceChildren(el('h2', {}, 'Deploys'), deployStrip(d, r)); })
    .catch(e => { if (gen === generation) { deploysBox.replaceChildren(el('h2', {}, 'Deploys')); deploysBox.append(errorBox(e, el('div'))); } });
  let page, everything;
  try {
    // The unfiltered first page only feeds the environment choices.
    [page, everything] = await Promise.all([rollbar(itemsPath(f)), rollbar('items?page=1').catch(() => null)]);
  } catch (e) { if (gen === generation) errorBox(e, list); return; }
  if (gen !== generation) return;
  const envs = (everything?.items || []).map(i => i.environment);
  bar.replaceChildren(filterBar(f, envs, page.total_count));
  const items = page.items || [];
  if (!items.length) {
    list.replaceChildren(el('div', { class: 'empty', id: 'items-empty' },
      page.total_count ? 'No items on this page.' : emptyText(f, everything)));
    return;
  }
  const tableBox = itemsTable(sortItems(items, f.sort), r, say);
  list.replaceChildren(tableBox, pager(f, page.total_count) || '');
  const tbody = tableBox.querySelector('tbody');
  let counts = null;
  try { counts = await occurrenceCounts(items.map(i => i.id)); } catch { /* no events dataset: the cells say n/a */ }
  if (gen !== generation) return;
  fillCounts(tbody, counts, r);
  if (f.sort === 'in_range') sortByCounts(tbody, counts);
}

function emptyText(f, everything) {
  if (everything && !everything.total_count) {
    return 'No error items yet. Point a Rollbar SDK (pyrollbar, rollbar.js, …) at this Waggle with any access token and they appear here.';
  }
  const what = [f.status === 'all' ? '' : f.status, f.level, f.environment && `in ${f.environment}`].filter(Boolean).join(' ');
  return `No ${what} items.`;
}

if (boot.page === 'errors') {
  onNavigate(render);
  render();
}
