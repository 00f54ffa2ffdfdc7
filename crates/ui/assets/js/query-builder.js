// The query builder form: Honeycomb's six clauses (VISUALIZE, WHERE, GROUP BY on top; ORDER BY,
// LIMIT, HAVING below) plus the dataset and granularity. It edits a working copy of the spec;
// `spec()` turns it back into a Honeycomb query spec (values typed by the column's type).

import { el } from './core.js';
import { CALC_OPS, FILTER_OPS, HAVING_OPS, NO_VALUE_OPS, LIST_OPS, needsColumn, calcLabel, compact,
  granularityChoices, autoGranularity, fmtStep } from './query-spec.js';

const COLUMNS_LIST = 'qb-columns';

/**
 * builder({spec, datasets, dataset, columns, derived, onrun, ondataset}) → {form, spec(), addBreakdown(c), addFilter(f)}.
 * columns: [{key_name, type}], derived: [{alias, expression}].
 */
export function builder({ spec, datasets, dataset, columns, derived, onrun, ondataset }) {
  const types = new Map(columns.map(c => [c.key_name, c.type]));
  const s = workingCopy(spec);
  const boxes = {};
  const refresh = name => boxes[name].replaceChildren(...BOXES[name].body(s, refresh));

  const datasetSelect = el('select', { id: 'dataset', 'aria-label': 'Dataset', onchange: e => ondataset(e.target.value) },
    datasets.some(d => d.name === dataset) ? null : el('option', { value: dataset, selected: true }, dataset + ' (no data)'),
    datasets.map(d => el('option', { value: d.name, selected: d.name === dataset }, d.name)));
  const gran = el('select', { id: 'granularity', 'aria-label': 'Granularity', onchange: e => { s.granularity = Number(e.target.value) || null; } },
    el('option', { value: '' }, `auto (${fmtStep(autoGranularity())})`),
    granularityChoices().map(g => el('option', { value: g, selected: s.granularity === g }, fmtStep(g))));

  const grid = el('div', { class: 'qb-grid' }, Object.entries(BOXES).map(([name, box]) => {
    boxes[name] = el('div', { class: 'qb-body' }, ...box.body(s, refresh));
    return el('fieldset', { class: 'qb-box', id: 'qb-' + name }, el('legend', {}, box.title), boxes[name]);
  }));

  const form = el('form', { id: 'query-builder', class: 'qb', onsubmit: e => { e.preventDefault(); const sp = build(); if (sp) onrun(sp); } },
    el('div', { class: 'qb-head' },
      el('label', { class: 'qb-field' }, 'Dataset', datasetSelect),
      el('label', { class: 'qb-field' }, 'Granularity', gran),
      el('span', { class: 'grow' }),
      el('span', { class: 'qb-msg err-text', role: 'status' }),
      el('button', { type: 'submit', class: 'primary', id: 'run-query' }, 'Run query')),
    grid,
    el('datalist', { id: COLUMNS_LIST },
      columns.map(c => el('option', { value: c.key_name, label: c.type })),
      derived.map(d => el('option', { value: d.alias, label: 'derived: ' + d.expression }))));

  function build() {
    const msg = form.querySelector('.qb-msg');
    const missing = form.querySelector('#qb-visualize input:invalid');
    if (missing) { msg.textContent = 'Pick a column for every calculation that needs one.'; missing.focus(); return null; }
    msg.textContent = '';
    return toSpec(s, types);
  }

  return {
    form,
    spec: () => toSpec(s, types),
    addBreakdown(column) { if (!s.breakdowns.includes(column)) s.breakdowns.push(column); refresh('groupby'); refresh('orderby'); },
    addFilter(f) { s.filters.push({ column: f.column, op: f.op, text: valueText(f.value) }); refresh('where'); },
  };
}

// ---- the working copy ---------------------------------------------------------------------

function workingCopy(spec) {
  return {
    calculations: (spec.calculations?.length ? spec.calculations : [{ op: 'COUNT' }]).map(c => ({ op: c.op, column: c.column || '' })),
    filters: (spec.filters || []).map(f => ({ column: f.column || '', op: f.op || '=', text: valueText(f.value) })),
    filter_combination: spec.filter_combination === 'OR' ? 'OR' : 'AND',
    breakdowns: (spec.breakdowns || []).slice(),
    orders: (spec.orders || []).map(o => ({ key: orderKey(o), order: o.order === 'descending' ? 'descending' : 'ascending' })),
    havings: (spec.havings || []).map(h => ({ key: JSON.stringify({ op: h.calculate_op, column: h.column }), op: h.op || '>', value: h.value ?? '' })),
    limit: spec.limit ?? '',
    granularity: spec.granularity ?? null,
  };
}

const valueText = v => v === undefined || v === null ? '' : Array.isArray(v) ? v.join(', ') : String(v);
const orderKey = o => JSON.stringify(o.op ? { op: o.op, column: o.column } : { column: o.column });

/** A filter's text as the column's type: numbers and booleans unquoted, lists split on commas. */
function typedValue(text, type) {
  const t = text.trim();
  if ((type === 'integer' || type === 'float') && t !== '' && !Number.isNaN(Number(t))) return Number(t);
  if (type === 'boolean' || (!type && (t === 'true' || t === 'false'))) return t === 'true';
  return t;
}

function toSpec(s, types) {
  const filters = s.filters.filter(f => f.column).map(f => {
    if (NO_VALUE_OPS.has(f.op)) return { column: f.column, op: f.op };
    const type = types.get(f.column);
    const value = LIST_OPS.has(f.op) ? f.text.split(',').map(t => typedValue(t, type)).filter(v => v !== '') : typedValue(f.text, type);
    return { column: f.column, op: f.op, value };
  });
  const calcs = s.calculations.map(c => needsColumn(c.op) ? { op: c.op, column: c.column } : { op: c.op });
  return compact({
    calculations: calcs,
    filters,
    filter_combination: s.filter_combination,
    breakdowns: s.breakdowns.filter(Boolean),
    orders: s.orders.filter(o => o.key).map(o => ({ ...JSON.parse(o.key), order: o.order })),
    havings: s.havings.filter(h => h.key && h.value !== '' && !Number.isNaN(Number(h.value))).map(h => {
      const c = JSON.parse(h.key);
      return needsColumn(c.op) ? { calculate_op: c.op, column: c.column, op: h.op, value: Number(h.value) } : { calculate_op: c.op, op: h.op, value: Number(h.value) };
    }),
    limit: s.limit === '' ? null : Number(s.limit),
    granularity: s.granularity,
  });
}

// ---- the six boxes ------------------------------------------------------------------------

const columnInput = (value, oninput, attrs = {}) => el('input', {
  list: COLUMNS_LIST, class: 'qb-col mono', value, placeholder: 'column', autocomplete: 'off', spellcheck: 'false',
  'aria-label': 'Column', oninput: e => oninput(e.target.value.trim()), ...attrs,
});
const select = (options, value, onchange, label) => el('select', { 'aria-label': label, onchange: e => onchange(e.target.value) },
  options.map(o => Array.isArray(o) ? el('option', { value: o[0], selected: o[0] === value }, o[1]) : el('option', { value: o, selected: o === value }, o)));
const removeButton = (label, onclick) => el('button', { type: 'button', class: 'qb-x', 'aria-label': 'Remove ' + label, title: 'Remove', onclick }, '×');
const addButton = (label, onclick) => el('button', { type: 'button', class: 'qb-add', onclick }, '+ ' + label);

/** The calculations ORDER BY and HAVING may name (a HEATMAP has no single value). */
const scalarCalcs = s => s.calculations.filter(c => c.op !== 'HEATMAP' && (!needsColumn(c.op) || c.column));

/** After an add, focus the new row's first control (keyboard users stay in place). */
const focusLast = (refresh, name) => { refresh(name); document.querySelector(`#qb-${name} .qb-item:last-of-type :is(input,select)`)?.focus(); };

const BOXES = {
  visualize: {
    title: 'VISUALIZE',
    body: (s, refresh) => [
      s.calculations.map((c, i) => el('div', { class: 'qb-item' },
        select(CALC_OPS, c.op, v => { c.op = v; refresh('visualize'); refresh('orderby'); refresh('having'); }, 'Calculation'),
        needsColumn(c.op) ? columnInput(c.column, v => { c.column = v; }, { required: true, onchange: () => { refresh('orderby'); refresh('having'); } }) : null,
        s.calculations.length > 1 ? removeButton(calcLabel(c), () => { s.calculations.splice(i, 1); refresh('visualize'); refresh('orderby'); refresh('having'); }) : null)),
      addButton('calculation', () => { s.calculations.push({ op: 'P99', column: 'duration_ms' }); focusLast(refresh, 'visualize'); refresh('orderby'); refresh('having'); }),
    ],
  },
  where: {
    title: 'WHERE',
    body: (s, refresh) => [
      s.filters.length > 1 ? el('div', { class: 'qb-comb' }, select([['AND', 'all of (AND)'], ['OR', 'any of (OR)']], s.filter_combination, v => { s.filter_combination = v; }, 'Combine filters')) : null,
      s.filters.map((f, i) => el('div', { class: 'qb-item' },
        columnInput(f.column, v => { f.column = v; }),
        select(FILTER_OPS, f.op, v => { f.op = v; refresh('where'); }, 'Filter operator'),
        NO_VALUE_OPS.has(f.op) ? null : el('input', { class: 'qb-val mono', value: f.text, placeholder: LIST_OPS.has(f.op) ? 'a, b, c' : 'value',
          'aria-label': 'Value', spellcheck: 'false', oninput: e => { f.text = e.target.value; } }),
        removeButton('filter', () => { s.filters.splice(i, 1); refresh('where'); }))),
      addButton('filter', () => { s.filters.push({ column: '', op: '=', text: '' }); focusLast(refresh, 'where'); }),
    ],
  },
  groupby: {
    title: 'GROUP BY',
    body: (s, refresh) => [
      s.breakdowns.map((b, i) => el('div', { class: 'qb-item' },
        columnInput(b, v => { s.breakdowns[i] = v; }, { onchange: () => refresh('orderby') }),
        removeButton(b, () => { s.breakdowns.splice(i, 1); refresh('groupby'); refresh('orderby'); }))),
      addButton('group', () => { s.breakdowns.push(''); focusLast(refresh, 'groupby'); }),
    ],
  },
  orderby: {
    title: 'ORDER BY',
    body: (s, refresh) => {
      const options = [...scalarCalcs(s).map(c => [orderKey(needsColumn(c.op) ? c : { op: c.op }), calcLabel(c)]),
        ...s.breakdowns.filter(Boolean).map(b => [orderKey({ column: b }), b])];
      return [
        s.orders.map((o, i) => el('div', { class: 'qb-item' },
          select(options.some(([k]) => k === o.key) ? options : [[o.key, labelOfKey(o.key)], ...options], o.key, v => { o.key = v; }, 'Order by'),
          select([['descending', 'desc'], ['ascending', 'asc']], o.order, v => { o.order = v; }, 'Direction'),
          removeButton('order', () => { s.orders.splice(i, 1); refresh('orderby'); }))),
        options.length ? addButton('order', () => { s.orders.push({ key: options[0][0], order: 'descending' }); focusLast(refresh, 'orderby'); }) : el('span', { class: 'muted' }, 'add a calculation or group first'),
      ];
    },
  },
  limit: {
    title: 'LIMIT',
    body: s => [el('input', { type: 'number', id: 'qb-limit-input', min: 1, max: 1000, value: s.limit, placeholder: '100', 'aria-label': 'Limit',
      oninput: e => { s.limit = e.target.value; } })],
  },
  having: {
    title: 'HAVING',
    body: (s, refresh) => {
      const options = scalarCalcs(s).map(c => [JSON.stringify({ op: c.op, column: needsColumn(c.op) ? c.column : undefined }), calcLabel(c)]);
      return [
        s.havings.map((h, i) => el('div', { class: 'qb-item' },
          select(options.some(([k]) => k === h.key) ? options : [[h.key, labelOfKey(h.key)], ...options], h.key, v => { h.key = v; }, 'Having calculation'),
          select(HAVING_OPS, h.op, v => { h.op = v; }, 'Having operator'),
          el('input', { type: 'number', step: 'any', class: 'qb-num', value: h.value, 'aria-label': 'Having value', oninput: e => { h.value = e.target.value; } }),
          removeButton('having', () => { s.havings.splice(i, 1); refresh('having'); }))),
        options.length ? addButton('having', () => { s.havings.push({ key: options[0][0], op: '>', value: '' }); focusLast(refresh, 'having'); }) : null,
      ];
    },
  },
};

function labelOfKey(key) {
  try { const o = JSON.parse(key); return o.op ? calcLabel(o) : o.column; } catch { return key; }
}
