// X-Ray sampling rules and groups, through the same operations the aws CLI calls
// (GetSamplingRules, Create/Update/DeleteSamplingRule, GetGroups, Create/Update/DeleteGroup).
// The server validates; its AWS-worded messages are shown beside the fields they name.

import { xray, el, show, errorBox, table, fmtPct, fmtNum, fmtAgo } from './core.js';

// Rule form fields: API member, label, input type, create default, hint.
const RULE_FIELDS = [
  ['RuleName', 'Rule name', 'text', '', '1–32 characters; cannot be changed later'],
  ['Priority', 'Priority', 'number', '', '1–9999, lower is evaluated first'],
  ['ReservoirSize', 'Reservoir size', 'number', '1', 'traces per second sampled before the rate applies'],
  ['FixedRate', 'Fixed rate', 'number', '0.05', '0–1, the share sampled beyond the reservoir'],
  ['ServiceName', 'Service name', 'text', '*', 'wildcards * and ?'],
  ['ServiceType', 'Service type', 'text', '*', 'e.g. AWS::EC2::Instance'],
  ['Host', 'Host', 'text', '*', ''],
  ['HTTPMethod', 'HTTP method', 'text', '*', ''],
  ['URLPath', 'URL path', 'text', '*', ''],
  ['ResourceARN', 'Resource ARN', 'text', '*', ''],
];
const NUMERIC = new Set(['Priority', 'ReservoirSize', 'FixedRate']);
// What the Default rule lets an update change (the service refuses anything else).
const DEFAULT_EDITABLE = new Set(['ReservoirSize', 'FixedRate']);

const rulesBox = el('div', { id: 'rules-box' });
const groupsBox = el('div', { id: 'groups-box' });
const ruleFormSlot = el('div');
const groupFormSlot = el('div');
const rulesNote = el('div', { role: 'status' });
const groupsNote = el('div', { role: 'status' });

function render() {
  show(
    el('p', { class: 'muted' }, 'Sampling rules decide which requests X-Ray SDKs and the OpenTelemetry X-Ray sampler record; ',
      'groups are named filter expressions (pick one on the ', el('a', { href: '/ui/map' }, 'service map'), ').'),
    el('section', { id: 'rules-section', 'aria-labelledby': 'rules-h' },
      el('div', { class: 'row xr-head' }, el('h2', { id: 'rules-h', class: 'grow' }, 'Sampling rules'),
        el('button', { type: 'button', id: 'new-rule', class: 'primary', onclick: () => openRuleForm(null) }, 'Create sampling rule')),
      rulesNote, ruleFormSlot, rulesBox),
    el('section', { id: 'groups-section', 'aria-labelledby': 'groups-h' },
      el('div', { class: 'row xr-head' }, el('h2', { id: 'groups-h', class: 'grow' }, 'Groups'),
        el('button', { type: 'button', id: 'new-group', class: 'primary', onclick: () => openGroupForm(null) }, 'Create group')),
      groupsNote, groupFormSlot, groupsBox),
    confirmDialog());
  loadRules();
  loadGroups();
}

/** A transient success line or a persistent error above a table. */
function note(where, text, error = false) {
  where.replaceChildren(el('div', { class: 'notice' + (error ? ' error' : ' xr-ok'), role: error ? 'alert' : 'status' }, text));
}

/** The server's message (AWS's wording) without the gateway's status prefix. */
function message(e) {
  return (e && e.body && (e.body.message || e.body.Message)) || String(e && e.message || e);
}

// ---- sampling rules ---------------------------------------------------------------------

async function loadRules() {
  rulesBox.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  let records, stats = new Map();
  try {
    records = (await xray('GetSamplingRules', {})).SamplingRuleRecords || [];
  } catch (e) { errorBox(e, rulesBox); return; }
  try {
    const s = await xray('SamplingStatisticSummaries', {});
    for (const x of s.SamplingStatisticSummaries || []) stats.set(x.RuleName, x);
  } catch { /* statistics are a bonus column; the rules still show */ }
  const t = table([
    { label: 'Name', value: r => el('strong', {}, r.SamplingRule.RuleName) },
    { label: 'Priority', num: true, value: r => r.SamplingRule.Priority },
    { label: 'Reservoir', num: true, value: r => `${r.SamplingRule.ReservoirSize}/s` },
    { label: 'Rate', num: true, value: r => fmtPct(r.SamplingRule.FixedRate) },
    { label: 'Service name', value: r => mono(r.SamplingRule.ServiceName) },
    { label: 'Service type', value: r => mono(r.SamplingRule.ServiceType) },
    { label: 'Host', value: r => mono(r.SamplingRule.Host) },
    { label: 'Method', value: r => mono(r.SamplingRule.HTTPMethod) },
    { label: 'URL path', value: r => mono(r.SamplingRule.URLPath) },
    { label: 'Resource ARN', value: r => mono(r.SamplingRule.ResourceARN) },
    { label: 'Version', num: true, value: r => r.SamplingRule.Version },
    { label: 'Sampled', num: true, value: r => sampled(stats.get(r.SamplingRule.RuleName)) },
    { label: 'Modified', value: r => r.ModifiedAt ? el('span', { title: new Date(r.ModifiedAt * 1000).toISOString() }, fmtAgo(r.ModifiedAt)) : el('span', { class: 'muted' }, 'built in') },
    { label: '', value: r => rowActions('rule', r.SamplingRule.RuleName, () => openRuleForm(r), () => deleteRule(r.SamplingRule.RuleName)) },
  ], records, { empty: 'No sampling rules.' });
  t.querySelector('table')?.setAttribute('id', 'rules-table');
  rulesBox.replaceChildren(t);
}

function mono(v) { return el('span', { class: 'mono' }, v ?? ''); }

/** Requests sampled of those seen, from the SDKs' last statistics report. */
function sampled(s) {
  if (!s) return el('span', { class: 'muted', title: 'No SDK has reported statistics for this rule' }, '–');
  return el('span', { title: `${s.BorrowCount} borrowed · reported ${fmtAgo(s.Timestamp)}` },
    `${fmtNum(s.SampledCount)} / ${fmtNum(s.RequestCount)}`);
}

function rowActions(kind, name, onedit, ondelete) {
  return el('div', { class: 'xr-actions' },
    el('button', { type: 'button', class: `edit-${kind}`, 'data-name': name, 'aria-label': `Edit ${name}`, onclick: onedit }, 'Edit'),
    el('button', { type: 'button', class: `delete-${kind} danger`, 'data-name': name, 'aria-label': `Delete ${name}`, onclick: ondelete }, 'Delete'));
}

/** The create/edit form; `record` is the rule being edited (null: a new one). */
function openRuleForm(record) {
  const rule = record?.SamplingRule;
  const isDefault = rule?.RuleName === 'Default';
  const fields = RULE_FIELDS.map(([name, label, type, dflt, hint]) => {
    const locked = rule && (name === 'RuleName' || (isDefault && !DEFAULT_EDITABLE.has(name)));
    const value = rule ? rule[name] : dflt;
    return field(name, label, el('input', {
      id: `rule-${name}`, name, type, value: value ?? '', readonly: locked || undefined,
      step: name === 'FixedRate' ? 'any' : type === 'number' ? 1 : undefined,
      autocomplete: 'off', 'aria-describedby': `rule-${name}-hint rule-${name}-error`,
    }), hint, 'rule');
  });
  const attrs = field('Attributes', 'Attributes', el('textarea', {
    id: 'rule-Attributes', name: 'Attributes', rows: 2, readonly: isDefault || undefined,
    placeholder: 'key=value, one a line (at most 5)', 'aria-describedby': 'rule-Attributes-hint rule-Attributes-error',
  }, Object.entries(rule?.Attributes || {}).map(([k, v]) => `${k}=${v}`).join('\n')), 'matched against segment attributes', 'rule');
  const summary = el('div', { class: 'xr-form-error', role: 'alert' });
  const form = el('form', { id: 'rule-form', class: 'card xr-form', novalidate: true,
    'aria-label': rule ? `Edit sampling rule ${rule.RuleName}` : 'Create sampling rule',
    onsubmit: e => { e.preventDefault(); saveRule(form, record, summary); },
    onkeydown: e => { if (e.key === 'Escape') closeForm(ruleFormSlot); } },
  el('h3', {}, rule ? `Edit sampling rule ${rule.RuleName}` : 'Create sampling rule'),
  isDefault ? el('p', { class: 'muted' }, 'The Default rule applies when no other rule matches; only its reservoir size and fixed rate can change.') : null,
  summary,
  el('div', { class: 'xr-fields' }, fields, attrs),
  el('div', { class: 'row' },
    el('button', { type: 'submit', id: 'save-rule', class: 'primary' }, rule ? 'Save changes' : 'Create rule'),
    el('button', { type: 'button', onclick: () => closeForm(ruleFormSlot) }, 'Cancel')));
  ruleFormSlot.replaceChildren(form);
  rulesNote.replaceChildren();
  form.querySelector('input:not([readonly])')?.focus();
}

function field(name, label, input, hint, prefix) {
  return el('div', { class: 'xr-field' + (name === 'Attributes' || name === 'FilterExpression' ? ' wide' : '') },
    el('label', { for: input.id }, label, el('span', { class: 'mono muted xr-api' }, ` ${name}`)),
    input,
    hint ? el('div', { class: 'xr-hint muted', id: `${prefix}-${name}-hint` }, hint) : null,
    el('div', { class: 'xr-field-error', id: `${prefix}-${name}-error`, 'aria-live': 'polite' }));
}

function closeForm(slot) { slot.replaceChildren(); }

/** The form's values as API members; empty numbers are left out so the server names them. */
function ruleValues(form, record) {
  const out = {};
  const isDefault = record?.SamplingRule.RuleName === 'Default';
  for (const [name] of RULE_FIELDS) {
    if (isDefault && name !== 'RuleName' && !DEFAULT_EDITABLE.has(name)) continue;
    const raw = form.elements[name].value.trim();
    if (NUMERIC.has(name)) {
      if (raw !== '') out[name] = Number(raw);
    } else out[name] = raw;
  }
  if (!isDefault) out.Attributes = parseAttributes(form.elements.Attributes.value);
  return out;
}

function parseAttributes(text) {
  const out = {};
  for (const line of text.split('\n').map(l => l.trim()).filter(Boolean)) {
    const i = line.indexOf('=');
    if (i < 0) out[line] = '';
    else out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

async function saveRule(form, record, summary) {
  clearErrors(form, summary);
  const values = ruleValues(form, record);
  const button = form.querySelector('#save-rule');
  button.disabled = true;
  try {
    if (record) await xray('UpdateSamplingRule', { SamplingRuleUpdate: values });
    else await xray('CreateSamplingRule', { SamplingRule: { ...values, Version: 1 } });
    closeForm(ruleFormSlot);
    note(rulesNote, `${record ? 'Updated' : 'Created'} sampling rule ${values.RuleName}.`);
    loadRules();
  } catch (e) {
    button.disabled = false;
    showErrors(form, summary, message(e), 'rule');
  }
}

function deleteRule(name) {
  confirmDelete(`Delete sampling rule “${name}”?`,
    'SDKs stop using it at their next rule refresh (within about five minutes).', async () => {
      try {
        await xray('DeleteSamplingRule', { RuleName: name });
        note(rulesNote, `Deleted sampling rule ${name}.`);
        if (ruleFormSlot.querySelector(`form`)?.elements.RuleName?.value === name) closeForm(ruleFormSlot);
        loadRules();
      } catch (e) { note(rulesNote, `Could not delete ${name}: ${message(e)}`, true); }
    });
}

// ---- groups -----------------------------------------------------------------------------

async function loadGroups() {
  groupsBox.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  let groups;
  try {
    groups = (await xray('Groups', {})).Groups || [];
  } catch (e) { errorBox(e, groupsBox); return; }
  const t = table([
    { label: 'Name', value: g => el('strong', {}, g.GroupName) },
    { label: 'Filter expression', value: g => g.FilterExpression ? mono(g.FilterExpression) : el('span', { class: 'muted' }, 'all traces') },
    { label: 'Insights', value: g => onOff(g.InsightsConfiguration?.InsightsEnabled) },
    { label: 'Notifications', value: g => onOff(g.InsightsConfiguration?.NotificationsEnabled) },
    { label: 'Resource', value: g => el('span', { class: 'mono muted xr-arn', title: g.GroupARN }, g.GroupARN.split(':').slice(5).join(':')) },
    { label: '', value: g => el('div', { class: 'xr-actions' },
      el('a', { href: `/ui/map?group=${encodeURIComponent(g.GroupName)}`, class: 'xr-maplink' }, 'Map'),
      rowActions('group', g.GroupName, () => openGroupForm(g), () => deleteGroup(g.GroupName))) },
  ], groups, { empty: 'No groups.' });
  t.querySelector('table')?.setAttribute('id', 'groups-table');
  groupsBox.replaceChildren(t);
}

function onOff(v) { return el('span', { class: 'badge' + (v ? ' resolved' : ' muted') }, v ? 'enabled' : 'disabled'); }

function openGroupForm(group) {
  const summary = el('div', { class: 'xr-form-error', role: 'alert' });
  const check = (name, label, on) => el('label', { class: 'xr-check' },
    el('input', { type: 'checkbox', name, id: `group-${name}`, checked: !!on }), ' ', label, el('span', { class: 'mono muted xr-api' }, ` ${name}`));
  const form = el('form', { id: 'group-form', class: 'card xr-form', novalidate: true,
    'aria-label': group ? `Edit group ${group.GroupName}` : 'Create group',
    onsubmit: e => { e.preventDefault(); saveGroup(form, group, summary); },
    onkeydown: e => { if (e.key === 'Escape') closeForm(groupFormSlot); } },
  el('h3', {}, group ? `Edit group ${group.GroupName}` : 'Create group'),
  summary,
  el('div', { class: 'xr-fields' },
    field('GroupName', 'Group name', el('input', { id: 'group-GroupName', name: 'GroupName', value: group?.GroupName || '',
      readonly: group ? true : undefined, autocomplete: 'off', 'aria-describedby': 'group-GroupName-hint group-GroupName-error' }),
    '1–32 characters; cannot be changed later', 'group'),
    field('FilterExpression', 'Filter expression', el('textarea', { id: 'group-FilterExpression', name: 'FilterExpression', rows: 3,
      placeholder: 'service("backend-flask") { fault OR error }', 'aria-describedby': 'group-FilterExpression-hint group-FilterExpression-error' },
    group?.FilterExpression || ''), 'X-Ray filter expression syntax; the traces the group (and its map) covers', 'group'),
    el('div', { class: 'xr-field wide' },
      check('InsightsEnabled', 'Enable insights', group?.InsightsConfiguration?.InsightsEnabled),
      check('NotificationsEnabled', 'Enable insight notifications', group?.InsightsConfiguration?.NotificationsEnabled))),
  el('div', { class: 'row' },
    el('button', { type: 'submit', id: 'save-group', class: 'primary' }, group ? 'Save changes' : 'Create group'),
    el('button', { type: 'button', onclick: () => closeForm(groupFormSlot) }, 'Cancel')));
  groupFormSlot.replaceChildren(form);
  groupsNote.replaceChildren();
  form.querySelector(group ? 'textarea' : 'input')?.focus();
}

async function saveGroup(form, group, summary) {
  clearErrors(form, summary);
  const name = form.elements.GroupName.value.trim();
  const expr = form.elements.FilterExpression.value.trim();
  const body = {
    GroupName: name,
    InsightsConfiguration: {
      InsightsEnabled: form.elements.InsightsEnabled.checked,
      NotificationsEnabled: form.elements.NotificationsEnabled.checked,
    },
  };
  // An empty expression is "none" on create; on edit, clearing one is sent so the
  // service answers for it.
  if (expr || group?.FilterExpression) body.FilterExpression = expr;
  const button = form.querySelector('#save-group');
  button.disabled = true;
  try {
    await xray(group ? 'UpdateGroup' : 'CreateGroup', body);
    closeForm(groupFormSlot);
    note(groupsNote, `${group ? 'Updated' : 'Created'} group ${name}.`);
    loadGroups();
  } catch (e) {
    button.disabled = false;
    showErrors(form, summary, message(e), 'group');
  }
}

function deleteGroup(name) {
  confirmDelete(`Delete group “${name}”?`, 'Its filter expression is lost; traces are not deleted.', async () => {
    try {
      await xray('DeleteGroup', { GroupName: name });
      note(groupsNote, `Deleted group ${name}.`);
      if (groupFormSlot.querySelector('form')?.elements.GroupName?.value === name) closeForm(groupFormSlot);
      loadGroups();
    } catch (e) { note(groupsNote, `Could not delete ${name}: ${message(e)}`, true); }
  });
}

// ---- validation messages ----------------------------------------------------------------

function clearErrors(form, summary) {
  summary.replaceChildren();
  form.querySelectorAll('.xr-field-error').forEach(x => x.replaceChildren());
  form.querySelectorAll('[aria-invalid]').forEach(x => x.removeAttribute('aria-invalid'));
}

/** Puts each violation of "N validation errors detected: …; …" under the field its path
 * names ('samplingRule.fixedRate' → FixedRate); anything unplaced goes in the summary. */
function showErrors(form, summary, text, prefix) {
  const body = text.replace(/^\d+ validation errors? detected:\s*/, '');
  const parts = body === text ? [text] : body.split(/;\s+(?=Value )/);
  const unplaced = [];
  for (const part of parts) {
    const target = fieldFor(form, part);
    const slot = target && form.querySelector(`#${prefix}-${target.name}-error`);
    if (slot) {
      slot.append(el('div', {}, part.replace(/ at '[^']*'/, '')));
      target.setAttribute('aria-invalid', 'true');
    } else unplaced.push(part);
  }
  summary.replaceChildren(el('div', { class: 'notice error' },
    parts.length > 1 ? `${parts.length} validation errors — see the fields below.` : unplaced.length ? '' : 'See the field below.',
    unplaced.map(u => el('div', {}, u))));
  form.querySelector('[aria-invalid="true"]')?.focus();
}

/** The input a message is about: its quoted member path, else a filter-expression error. */
function fieldFor(form, part) {
  const m = part.match(/ at '(?:[a-zA-Z]+\.)*([a-zA-Z]+)'/);
  const key = m ? m[1].toLowerCase() : /filter expression/i.test(part) ? 'filterexpression' : null;
  if (!key) return null;
  return [...form.elements].find(x => x.name && x.name.toLowerCase() === key) || null;
}

// ---- confirmation -----------------------------------------------------------------------

let onConfirm = null;

function confirmDialog() {
  const dlg = el('dialog', { id: 'confirm-dialog', class: 'xr-dialog', 'aria-labelledby': 'confirm-title' },
    el('form', { method: 'dialog' },
      el('h3', { id: 'confirm-title' }),
      el('p', { class: 'muted', id: 'confirm-text' }),
      el('div', { class: 'row xr-dialog-buttons' },
        el('button', { type: 'submit', value: 'cancel', id: 'confirm-cancel', autofocus: true }, 'Cancel'),
        el('button', { type: 'submit', value: 'delete', id: 'confirm-delete', class: 'danger' }, 'Delete'))));
  dlg.addEventListener('close', () => {
    const run = onConfirm;
    onConfirm = null;
    if (dlg.returnValue === 'delete' && run) run();
  });
  return dlg;
}

function confirmDelete(title, text, run) {
  const dlg = document.getElementById('confirm-dialog');
  dlg.querySelector('#confirm-title').textContent = title;
  dlg.querySelector('#confirm-text').textContent = text;
  dlg.returnValue = '';
  onConfirm = run;
  dlg.showModal();
}

render();
