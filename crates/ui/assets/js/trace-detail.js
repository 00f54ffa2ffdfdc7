// The selected span's detail: status, timing, its log events and error occurrences (linked
// to the Logs and Error item pages), X-Ray segment fields, attributes, resource, events, links.

import { el, kv, fmtMs, fmtTime, colorFor, links } from './core.js';
import { xrayView } from './trace-model.js';

/** Fills `into` with the detail of `sp`; `model` gives the trace start; `onspan(id)` selects. */
export function spanDetail(into, sp, model, onspan) {
  if (!sp) {
    into.replaceChildren(el('p', { class: 'muted' }, 'Select a span to see its attributes, events, logs and errors.'));
    return;
  }
  const x = xrayView(sp);
  // Native replaceChildren would print a null section as the text "null".
  into.replaceChildren(...[
    el('header', { class: 'sd-head' },
      el('div', { class: 'row' },
        el('i', { class: 'svc-chip', style: { background: colorFor(sp.service) } }),
        el('strong', {}, sp.service), el('span', { class: 'grow' }),
        el('span', { class: 'badge ' + (sp.error ? 'error' : sp.status.code === 'ok' ? 'resolved' : 'muted') },
          sp.error ? 'error' : sp.status.code)),
      el('h2', { class: 'sd-name' }, sp.name),
      el('dl', { class: 'kv sd-facts' },
        fact('duration', fmtMs(sp.duration)),
        fact('start', `+${fmtMs(sp.start)} · ${fmtTime(model.t0Ms + sp.start, true)}`),
        fact('kind', sp.kind),
        fact('span id', sp.id),
        sp.parentId ? fact('parent', sp.parent
          ? el('button', { type: 'button', class: 'linkish', onclick: () => onspan(sp.parentId) }, `${sp.parent.name} (${sp.parentId})`)
          : `${sp.parentId} (not in this trace)`) : null,
        sp.children.length ? fact('children', String(sp.children.length)) : null,
        sp.status.message ? fact('status', sp.status.message) : null,
        sp.scope ? fact('scope', [sp.scope.name, sp.scope.version].filter(Boolean).join(' ')) : null)),
    sp.errors.length ? section(`Error occurrences (${sp.errors.length})`, errorList(sp.errors), 'sd-errors') : null,
    sp.logs.length ? section(`Log events (${sp.logs.length})`, logList(sp.logs, model), 'sd-logs') : null,
    x ? xraySection(x) : null,
    section('Attributes', kv(plain(sp.attributes, x))),
    section('Resource', kv(sp.resource)),
    sp.events.length ? section(`Events (${sp.events.length})`, eventList(sp)) : null,
    sp.links.length ? section(`Links (${sp.links.length})`, linkList(sp.links)) : null,
  ].filter(Boolean));
}

function fact(k, v) { return [el('dt', {}, k), el('dd', {}, v)]; }

function section(title, body, cls) {
  return el('section', { class: 'sd-section ' + (cls || '') }, el('h3', {}, title), body);
}

/** Attributes minus the X-Ray ones already shown in their own section. */
function plain(a, x) {
  if (!x) return a;
  return Object.fromEntries(Object.entries(a).filter(([k]) =>
    !k.startsWith('annotation.') && !k.startsWith('http.') && !k.startsWith('aws.xray.') && !k.startsWith('sql.')));
}

function errorList(errors) {
  return el('ul', { class: 'sd-list' }, errors.map(e => el('li', {},
    el('span', { class: 'badge ' + (e.level === 'warning' ? 'warning' : 'error') }, e.level), ' ',
    e.counter !== null ? el('a', { href: links.item(e.counter) }, `#${e.counter} ${e.title}`) : e.title,
    e.count > 1 ? el('span', { class: 'muted' }, ` ×${e.count}`) : null,
    el('div', { class: 'muted small' }, `dataset ${e.dataset}${e.occurrence ? ' · occurrence ' + e.occurrence : ''}`))));
}

function logList(lines, model) {
  return el('ul', { class: 'sd-list' }, lines.map(l => {
    const params = l.group ? { group: l.group } : null;
    if (params && l.time) Object.assign(params, { start: Math.floor(l.time / 1000) - 60, end: Math.ceil(l.time / 1000) + 60 });
    return el('li', {},
      el('div', { class: 'muted small' },
        l.time ? `${offset(l.time - model.t0Ms)} · ` : '',
        params ? el('a', { href: links.logs(params) }, l.group) : (l.dataset || ''),
        l.stream ? ` · ${l.stream}` : ''),
      el('pre', { class: 'log-line' }, l.message));
  }));
}

/** A signed offset from the trace start (log clocks can be a little ahead of the spans). */
function offset(ms) { return (ms < 0 ? '−' : '+') + fmtMs(Math.abs(ms)); }

function eventList(sp) {
  return el('ul', { class: 'sd-list' }, sp.events.map(e => {
    const stack = e.attributes['exception.stacktrace'];
    const rest = { ...e.attributes };
    delete rest['exception.stacktrace'];
    return el('li', {},
      el('div', {}, el('strong', { class: e.name === 'exception' ? 'err-text' : '' }, e.name),
        el('span', { class: 'muted' }, ` +${fmtMs(e.time - sp.start)} into the span`)),
      Object.keys(rest).length ? kv(rest) : null,
      stack ? el('pre', { class: 'stack' }, stack) : null);
  }));
}

function linkList(list) {
  return el('ul', { class: 'sd-list' }, list.map(l => el('li', {},
    el('a', { href: links.trace(l.traceId, l.spanId), class: 'mono' }, `${l.traceId} / ${l.spanId}`),
    Object.keys(l.attributes).length ? kv(l.attributes) : null)));
}

function xraySection(x) {
  const cause = x.cause && typeof x.cause === 'object' ? x.cause : null;
  const json = v => v === undefined || v === null ? null : el('pre', { class: 'json' }, typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  const sub = (title, body) => body ? [el('h4', {}, title), body] : null;
  return section(`X-Ray ${x.type}`, el('div', { class: 'sd-xray' },
    el('div', { class: 'row' },
      x.origin ? el('span', { class: 'badge' }, x.origin) : null,
      x.namespace ? el('span', { class: 'badge muted' }, 'namespace ' + x.namespace) : null,
      x.flags.map(f => el('span', { class: 'badge ' + (f === 'throttle' ? 'throttle' : f === 'fault' ? 'fault' : 'warning') }, f)),
      x.inProgress ? el('span', { class: 'badge warning' }, 'in progress') : null,
      x.user ? el('span', { class: 'badge muted' }, 'user ' + x.user) : null),
    sub('Annotations', Object.keys(x.annotations).length ? kv(x.annotations) : el('p', { class: 'muted' }, 'none')),
    sub('HTTP', Object.keys(x.http).length ? kv(x.http) : null),
    sub('SQL', Object.keys(x.sql).length ? kv(x.sql) : null),
    sub('Cause', cause ? causeView(cause) : json(x.cause)),
    sub('Metadata', json(x.metadata)),
    sub('AWS', json(x.aws)),
    sub('Service', json(x.service))), 'sd-xray-section');
}

function causeView(cause) {
  const ex = cause.exceptions || [];
  return el('div', {},
    cause.working_directory ? el('div', { class: 'muted small mono' }, cause.working_directory) : null,
    ex.map(e => el('div', { class: 'cause' },
      el('strong', { class: 'err-text' }, [e.type, e.message].filter(Boolean).join(': ') || e.id),
      e.remote ? el('span', { class: 'badge muted' }, 'remote') : null,
      e.stack ? el('pre', { class: 'stack' }, e.stack.map(f => `  ${f.path || ''}:${f.line ?? ''} ${f.label || ''}`).join('\n')) : null)));
}
