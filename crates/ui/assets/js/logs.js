// Logs, CloudWatch style: log groups and their streams on the left; for the selected group
// an Events tab (FilterLogEvents with a filter pattern, paged by nextToken), a Logs Insights
// tab and a Live tail tab. URL state: group, stream, filter, tab, query, and the range.
// Everything is a CloudWatch Logs awsJson call through the UI gateway (`logs()`).

import { logs, el, show, errorBox, tabs, getParam, setParams, onNavigate, rangePicker, timeRange,
  fmtAgo, links, boot } from './core.js';
import { eventHead, eventRow, fmtBytes } from './logs-rows.js';
import { insightsTab } from './logs-insights.js';
import { liveTail } from './logs-tail.js';

const TABS = [['events', 'Events'], ['insights', 'Logs Insights'], ['tail', 'Live tail']];
const PAGE_EVENTS = 200;
const GROUP_PAGES_MAX = 20;
/** Empty pages followed before "Load more" waits for the user (sparse matches). */
const EMPTY_PAGES_MAX = 5;
const PATTERN_EXAMPLES = [
  ['ERROR', 'events containing the term'],
  ['"INTERNAL SERVER ERROR"', 'an exact phrase'],
  ['activities -search', 'all terms, minus excluded ones'],
  ['?timeout ?refused', 'any of the terms'],
  ['{ $.level = "ERROR" }', 'JSON field comparison'],
  ['[date, ip, method, proto, path, status = 500, ...]', 'space-delimited fields'],
];

/** Stops whatever the current tab runs (live tail polling, an Insights query). */
let stopTab = () => {};
let side = null;
/** Bumped by each renderMain, so a slow answer for a view already left is dropped. */
let mainGen = 0;

async function render() {
  rangePicker(render);
  stopTab();
  let groups;
  try { groups = await allGroups(); } catch (e) { errorBox(e); return; }
  if (!groups.length) { show(noGroups()); return; }
  let group = getParam('group');
  const missing = group && !groups.some(g => g.logGroupName === group);
  if (!group) { group = groups[0].logGroupName; setParams({ group }, false); }
  side = {
    groups: el('ul', { id: 'log-groups', class: 'log-list', 'aria-label': 'Log groups' }),
    streams: el('div', { id: 'log-streams' }),
    main: el('div', { class: 'logs-main', id: 'logs-main' }),
  };
  show(el('div', { class: 'logs-layout' },
    el('aside', { class: 'logs-side' },
      el('h2', {}, 'Log groups ', el('span', { class: 'muted count' }, String(groups.length))), side.groups,
      el('h2', {}, 'Log streams'), side.streams),
    side.main));
  side.groups.append(...groups.map(groupItem));
  if (missing) {
    side.streams.replaceChildren();
    side.main.replaceChildren(el('div', { class: 'notice error', role: 'alert' },
      `The log group ${group} does not exist. Pick one on the left.`));
    return;
  }
  renderGroup();
}

/** DescribeLogGroups, every page (50 a page). */
async function allGroups() {
  const out = [];
  let nextToken;
  for (let i = 0; i < GROUP_PAGES_MAX; i++) {
    const r = await logs('DescribeLogGroups', { limit: 50, nextToken });
    out.push(...(r.logGroups || []));
    nextToken = r.nextToken;
    if (!nextToken) break;
  }
  return out;
}

/** A list link that navigates in place on a plain click (new tab still works). */
function navLink(href, onnav, ...children) {
  return el('a', { href, onclick: e => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    onnav();
  } }, ...children);
}

function groupItem(g) {
  const name = g.logGroupName;
  const retention = g.retentionInDays ? `${g.retentionInDays} d retention` : 'never expire';
  return el('li', { class: 'log-group', dataset: { group: name } },
    navLink(links.logs({ group: name }), () => selectGroup(name),
      el('span', { class: 'item-name', title: name }, name),
      el('span', { class: 'item-meta' }, `${fmtBytes(g.storedBytes || 0)} stored · ${retention}`)));
}

function markCurrent(list, attr, value) {
  for (const li of list.querySelectorAll('li')) {
    const a = li.querySelector('a');
    if ((li.dataset[attr] ?? '') === (value ?? '')) a.setAttribute('aria-current', 'true');
    else a.removeAttribute('aria-current');
  }
}

function selectGroup(name) {
  setParams({ group: name, stream: null });
  renderGroup();
}

function selectStream(name) {
  setParams({ stream: name });
  markCurrent(side.streams, 'stream', name);
  renderMain();
}

function renderGroup() {
  markCurrent(side.groups, 'group', getParam('group'));
  loadStreams(getParam('group'));
  renderMain();
}

/** DescribeLogStreams, most recent first, with "More streams" for the next page. */
async function loadStreams(group, nextToken, list) {
  if (!list) {
    list = el('ul', { class: 'log-list', 'aria-label': 'Log streams' },
      streamItem({ logStreamName: '' }, group));
    side.streams.replaceChildren(list, el('p', { class: 'muted' }, 'Loading…'));
  }
  try {
    const r = await logs('DescribeLogStreams', { logGroupName: group, orderBy: 'LastEventTime', descending: true, limit: 50, nextToken });
    if (getParam('group') !== group) return;
    list.append(...(r.logStreams || []).map(s => streamItem(s, group)));
    const more = r.nextToken && el('button', { type: 'button', class: 'link-button', onclick: () => { more.remove(); loadStreams(group, r.nextToken, list); } }, 'More streams…');
    side.streams.replaceChildren(list, more || '');
    if (!(r.logStreams || []).length && !nextToken) side.streams.append(el('p', { class: 'muted' }, 'No streams yet.'));
    markCurrent(side.streams, 'stream', getParam('stream'));
  } catch (e) { errorBox(e, side.streams); }
}

function streamItem(s, group) {
  const name = s.logStreamName;
  const meta = !name ? 'every stream of the group'
    : s.lastEventTimestamp ? 'last event ' + fmtAgo(s.lastEventTimestamp / 1000) : 'no events yet';
  return el('li', { class: 'log-stream', dataset: { stream: name } },
    navLink(links.logs(name ? { group, stream: name } : { group }), () => selectStream(name || null),
      el('span', { class: 'item-name', title: name || undefined }, name || 'All streams'),
      el('span', { class: 'item-meta' }, meta)));
}

function currentTab() {
  const t = getParam('tab');
  return TABS.some(([id]) => id === t) ? t : 'events';
}

/** The group's heading, the tabs and the current tab's content. */
function renderMain() {
  stopTab();
  stopTab = () => {};
  mainGen++;
  const group = getParam('group'), stream = getParam('stream'), tab = currentTab();
  const bar = tabs(TABS.map(([, label]) => label), TABS.find(([id]) => id === tab)[1], label => {
    setParams({ tab: TABS.find(([, l]) => l === label)[0] });
    renderMain();
  });
  bar.querySelectorAll('button').forEach((b, i) => { b.id = 'tab-' + TABS[i][0]; });
  const body = el('div', { class: 'tab-body' });
  side.main.replaceChildren(
    el('div', { class: 'row logs-title' }, el('h2', {}, group),
      stream && el('span', { class: 'stream-chip mono', title: stream }, stream,
        el('button', { type: 'button', class: 'chip-x', 'aria-label': 'Show all streams', onclick: () => selectStream(null) }, '×'))),
    bar, body);
  if (tab === 'insights') { stopTab = insightsTab(body, group); return; }
  const results = el('div');
  body.append(filterForm(), results);
  if (tab === 'tail') stopTab = liveTail(results, { group, stream, filter: getParam('filter') });
  else eventsTab(results, { group, stream, filter: getParam('filter') });
}

function filterForm() {
  const input = el('input', { id: 'log-filter', type: 'search', class: 'grow mono', value: getParam('filter') || '',
    placeholder: 'Filter pattern — terms, "exact phrase", -exclude, { $.field = "value" }, [a, b, ...]',
    'aria-label': 'Filter pattern', autocomplete: 'off', spellcheck: 'false' });
  const apply = v => { input.value = v; setParams({ filter: v.trim() || null }); renderMain(); };
  return el('form', { class: 'log-filter-form', role: 'search', onsubmit: e => { e.preventDefault(); apply(input.value); } },
    el('div', { class: 'row' }, input,
      el('button', { type: 'submit', class: 'primary' }, 'Search'),
      getParam('filter') && el('button', { type: 'button', onclick: () => apply('') }, 'Clear')),
    el('details', { class: 'pattern-help' }, el('summary', {}, 'Filter pattern syntax'),
      el('ul', {}, PATTERN_EXAMPLES.map(([p, what]) => el('li', {},
        el('button', { type: 'button', class: 'link-button mono', onclick: () => apply(p) }, p),
        el('span', { class: 'muted' }, ' — ' + what))))));
}

/** FilterLogEvents over the range, oldest first as CloudWatch pages them; "Load more". */
function eventsTab(into, { group, stream, filter }) {
  const r = timeRange();
  const req = {
    logGroupName: group, startTime: r.start * 1000, endTime: r.end * 1000, limit: PAGE_EVENTS,
    filterPattern: filter || undefined, logStreamNames: stream ? [stream] : undefined,
  };
  const tbody = el('tbody');
  const tableEl = el('table', { id: 'log-events', class: 'log-table' }, eventHead(!stream), tbody);
  const status = el('p', { class: 'muted events-status', role: 'status' }, 'Loading…');
  const more = el('button', { id: 'log-more', type: 'button', hidden: true, onclick: () => load() }, 'Load more');
  const wrap = el('div', { class: 'table-wrap log-table-wrap', hidden: true }, tableEl);
  const problem = el('div');
  into.replaceChildren(problem, status, wrap, el('div', { class: 'row load-more' }, more));
  let total = 0;
  const gen = mainGen;

  async function load() {
    more.disabled = true;
    try {
      let page, empties = 0;
      do {
        page = await logs('FilterLogEvents', req);
        req.nextToken = page.nextToken;
        tbody.append(...(page.events || []).map(ev => eventRow(ev, { showStream: !stream, cls: 'log-event' })));
        total += (page.events || []).length;
      } while (page.nextToken && !(page.events || []).length && ++empties < EMPTY_PAGES_MAX);
      if (gen !== mainGen) return;
      wrap.hidden = total === 0;
      more.hidden = !page.nextToken;
      status.replaceChildren(statusText(total, !!page.nextToken, filter, page.searchedLogStreams));
    } catch (e) {
      status.textContent = '';
      more.hidden = true;
      errorBox(e, problem);
    } finally { more.disabled = false; }
  }
  load();
}

function statusText(total, hasMore, filter, searched = []) {
  const streams = `${searched.length} stream${searched.length === 1 ? '' : 's'} searched`;
  if (!total) return filter ? `No events match this filter pattern in the time range (${streams}).`
    : `No events in the time range (${streams}). Try a longer range.`;
  return `${total} event${total === 1 ? '' : 's'}${filter ? ' matching' : ''}, oldest first · ${streams}` +
    (hasMore ? ' · more available — Load more fetches newer events' : ' · end of the time range');
}

function noGroups() {
  return el('section', { class: 'card', id: 'no-log-groups' },
    el('h2', {}, 'No log groups yet'),
    el('p', {}, 'Send logs with any CloudWatch Logs client (watchtower, the AWS CLI ',
      el('code', {}, 'aws logs put-log-events'), ', the CloudWatch agent) pointed at this Waggle, ',
      'or OTLP logs; each log group appears here with its streams.'),
    boot.setup_text && el('pre', {}, boot.setup_text));
}

onNavigate(render);
window.addEventListener('pagehide', () => stopTab());
render();
