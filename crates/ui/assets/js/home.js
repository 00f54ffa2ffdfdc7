// Home: every dataset with request rate, error rate and P99 sparklines over the range;
// recent error items; log groups; on an empty install, how to point each client here.

import { api, hcQuery, hcWindow, granularity, rollbar, logs, el, show, errorBox,
  rangePicker, timeRange, fmtNum, fmtMs, fmtPct, fmtAgo, links, boot, table, onNavigate } from './core.js';
import { sparkline } from './chart.js';

const DATASETS_MAX = 24;

async function render() {
  rangePicker(render);
  let datasets;
  try {
    datasets = (await api('/api/waggle/datasets')).datasets;
  } catch (e) { errorBox(e); return; }
  if (!datasets.length) { show(emptyInstall()); return; }
  const cards = el('div', { class: 'grid', id: 'datasets' });
  const errors = el('div', { id: 'recent-errors' }, el('p', { class: 'muted' }, 'Loading…'));
  const groups = el('div', { id: 'log-groups' }, el('p', { class: 'muted' }, 'Loading…'));
  show(
    el('h2', {}, 'Datasets and services'), cards,
    el('div', { class: 'split' },
      el('section', {}, el('h2', {}, 'Recent error items'), errors),
      el('section', {}, el('h2', {}, 'Log groups'), groups)),
    el('details', { class: 'panel' }, el('summary', {}, 'Point a client at this Waggle'), el('pre', {}, boot.setup_text || '')));
  const sorted = datasets.slice().sort((a, b) => b.last_time_ns - a.last_time_ns).slice(0, DATASETS_MAX);
  for (const d of sorted) cards.append(datasetCard(d));
  recentErrors(errors);
  logGroups(groups);
}

function datasetCard(d) {
  const body = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const card = el('article', { class: 'card', dataset: { dataset: d.name } },
    el('h3', {}, el('a', { href: links.query({ dataset: d.name }) }, d.name)),
    el('div', { class: 'muted' }, `${fmtNum(d.events)} events · last ${fmtAgo(d.last_time_ns / 1e9)}`), body);
  sparks(d.name, body);
  return card;
}

async function sparks(dataset, into) {
  const g = granularity(40);
  const r = timeRange();
  const base = { ...hcWindow(), granularity: g };
  const series = (res, key) => (res.data.series || []).map(s => [Date.parse(s.time) / 1000, s.data[key] ?? 0]);
  try {
    const [all, errs] = await Promise.all([
      hcQuery(dataset, { ...base, calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }] })
        .catch(() => hcQuery(dataset, { ...base, calculations: [{ op: 'COUNT' }] })),
      hcQuery(dataset, { ...base, calculations: [{ op: 'COUNT' }], filters: [{ column: 'error', op: '=', value: true }] }).catch(() => null),
    ]);
    const total = all.data.results?.[0]?.data?.COUNT ?? 0;
    const errTotal = errs?.data.results?.[0]?.data?.COUNT ?? 0;
    const p99 = all.data.results?.[0]?.data?.['P99(duration_ms)'];
    const secs = r.end - r.start;
    const reqs = series(all, 'COUNT').map(([t, v]) => [t, v / g]);
    const countAt = new Map(series(all, 'COUNT'));
    const errRate = errs ? series(errs, 'COUNT').map(([t, v]) => [t, countAt.get(t) ? v / countAt.get(t) : 0]) : [];
    const p99s = series(all, 'P99(duration_ms)');
    const cell = (label, value, points, color, href) => el('div', {},
      el('div', { class: 'row' }, el('span', { class: 'muted' }, label), el('span', { class: 'grow' }),
        href ? el('a', { href }, value) : el('strong', {}, value)),
      sparkline(points, { color, x0: r.start, x1: r.end }));
    into.replaceChildren(el('div', { style: { display: 'grid', gridTemplateColumns: '1fr 1fr 1fr', gap: '10px' } },
      cell('rate', `${fmtNum(total / secs)}/s`, reqs, 'var(--c0)'),
      cell('errors', fmtPct(total ? errTotal / total : 0), errRate, 'var(--err)',
        errTotal ? links.query({ dataset, q: JSON.stringify({ calculations: [{ op: 'COUNT' }], filters: [{ column: 'error', op: '=', value: true }], breakdowns: ['name'] }) }) : null),
      cell('P99', p99 === undefined ? '–' : fmtMs(p99), p99s, 'var(--c1)')));
  } catch (e) {
    into.replaceChildren(el('p', { class: 'muted' }, 'no data in this range'));
  }
}

async function recentErrors(into) {
  try {
    const r = await rollbar('items?status=active&sort=last_occurrence');
    const items = (r.items || []).slice(0, 8);
    into.replaceChildren(table([
      { label: 'level', value: i => el('span', { class: 'badge ' + i.level }, i.level) },
      { label: 'item', value: i => el('a', { href: links.item(i.counter) }, `#${i.counter} ${i.title}`) },
      { label: 'total', num: true, value: i => fmtNum(i.total_occurrences) },
      { label: 'last seen', value: i => fmtAgo(i.last_occurrence_timestamp) },
    ], items, { empty: 'No active error items.' }));
  } catch (e) { errorBox(e, into); }
}

async function logGroups(into) {
  try {
    const r = await logs('DescribeLogGroups', { limit: 20 });
    into.replaceChildren(table([
      { label: 'log group', value: g => el('a', { href: links.logs({ group: g.logGroupName }) }, g.logGroupName) },
      { label: 'stored', num: true, value: g => fmtNum(g.storedBytes || 0) + ' B' },
      { label: 'retention', value: g => g.retentionInDays ? g.retentionInDays + ' d' : 'never expire' },
    ], r.logGroups || [], { empty: 'No log groups yet.' }));
  } catch (e) { errorBox(e, into); }
}

function emptyInstall() {
  return el('section', { class: 'card', id: 'empty-install' },
    el('h2', {}, 'No data yet'),
    el('p', {}, 'Point any official client at this Waggle — nothing else changes in your application. ',
      'Or run ', el('code', {}, 'waggle demo'), ' to see traces, errors and logs from the Cruddur backend within a minute.'),
    el('pre', {}, boot.setup_text || ''));
}

onNavigate(render);
render();
