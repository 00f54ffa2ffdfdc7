// Log event rows shared by the Events and Live tail tabs: time, stream, message (one line;
// click or Enter expands it, JSON pretty-printed) and a link to the event's trace.

import { el, kv, links } from './core.js';
import { jsonObject, traceIdOf } from './logs-trace.js';

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Local `YYYY-MM-DD HH:MM:SS.mmm` of epoch ms (log lines need the milliseconds). */
export function fmtStamp(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function fmtBytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return (n / 1024 ** i).toFixed(i ? 1 : 0) + ' ' + units[i];
}

/** Head and tail of a trace id: X-Ray-born ids share their leading (epoch) digits. */
export const shortId = id => `${id.slice(0, 4)}…${id.slice(-4)}`;

/** The trace link of a message, or null. */
export function traceLink(message) {
  const id = traceIdOf(message);
  return id && el('a', {
    class: 'log-trace-link mono', href: links.trace(id), title: 'Open trace ' + id,
    onclick: e => e.stopPropagation(), onkeydown: e => e.stopPropagation(),
  }, shortId(id));
}

/** The table head for event rows. */
export function eventHead(showStream) {
  return el('thead', {}, el('tr', {},
    el('th', { class: 'col-time' }, 'Timestamp'),
    showStream && el('th', { class: 'col-stream' }, 'Log stream'),
    el('th', { class: 'col-msg' }, 'Message'),
    el('th', { class: 'col-trace' }, 'Trace')));
}

/** One event's row; `cls` is `log-event` or `tail-event`. Expanding inserts a detail row. */
export function eventRow(ev, { showStream, cls }) {
  const json = jsonObject(ev.message);
  const lines = String(ev.message).split('\n');
  const more = lines.length > 1 ? el('span', { class: 'muted more-lines' }, ` +${lines.length - 1} lines`) : null;
  const row = el('tr', { class: cls, tabindex: 0, 'aria-expanded': 'false', dataset: { eventId: ev.eventId || '' } },
    el('td', { class: 'col-time mono' }, fmtStamp(ev.timestamp)),
    showStream && el('td', { class: 'col-stream mono', title: ev.logStreamName }, ev.logStreamName),
    el('td', { class: 'col-msg mono' }, el('span', { class: 'msg-line' }, json ? '{…} ' : '', lines[0]), more),
    el('td', { class: 'col-trace' }, traceLink(ev.message) || ''));
  let detail = null;
  const toggle = () => {
    if (detail) { detail.remove(); detail = null; } else {
      detail = detailRow(ev, json, row.children.length);
      row.after(detail);
    }
    row.setAttribute('aria-expanded', String(!!detail));
  };
  row.addEventListener('click', e => { if (!window.getSelection()?.toString()) toggle(); else e.preventDefault(); });
  row.addEventListener('keydown', e => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(); }
  });
  return row;
}

function detailRow(ev, json, span) {
  const body = json ? JSON.stringify(json, null, 2) : String(ev.message);
  const id = traceIdOf(ev.message, json);
  return el('tr', { class: 'log-detail' }, el('td', { colspan: span },
    el('pre', { class: json ? 'json' : '' }, body),
    kv({
      timestamp: `${fmtStamp(ev.timestamp)} (${ev.timestamp})`,
      ingestionTime: ev.ingestionTime ? `${fmtStamp(ev.ingestionTime)} (+${ev.ingestionTime - ev.timestamp} ms)` : null,
      logStreamName: ev.logStreamName,
      eventId: ev.eventId,
      traceId: id,
    }),
    id && el('p', {}, el('a', { href: links.trace(id) }, 'Open trace ' + id + ' →'))));
}
