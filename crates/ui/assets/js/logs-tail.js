// Live tail. StartLiveTail answers an AWS event stream (vnd.amazon.eventstream frames over a
// long-lived HTTP response) that the UI gateway's JSON client cannot read, so the tab polls
// FilterLogEvents instead: every POLL_MS it asks for events since the newest one seen minus
// LAG_MS (batching clients such as watchtower deliver events seconds after their timestamp,
// and streams flush independently), drops the ones already shown by eventId, and puts the
// new ones on top. Polling stops when paused, when the tab is hidden, and when the tab or
// page is left (the returned stop function).

import { logs, el } from './core.js';
import { eventHead, eventRow } from './logs-rows.js';

const POLL_MS = 1500;
/** How far back each poll looks behind the newest event seen. */
const LAG_MS = 20000;
/** Pages of FilterLogEvents followed in one poll. */
const PAGES_MAX = 5;
const ROWS_MAX = 1000;

export function liveTail(into, { group, stream, filter }) {
  let paused = false, stopped = false, timer = null, busy = false;
  let newest = Date.now() - LAG_MS;
  const seen = new Map(); // eventId → timestamp, pruned behind the look-back window
  const body = el('tbody');
  const wrap = el('div', { class: 'table-wrap log-table-wrap' },
    el('table', { class: 'log-table', id: 'tail-events' }, eventHead(!stream), body));
  const empty = el('div', { class: 'empty' }, 'Waiting for new events…');
  const dot = el('span', { class: 'tail-dot', 'aria-hidden': 'true' });
  const state = el('span', { id: 'tail-state' }, 'Live');
  const count = el('span', { class: 'muted', role: 'status' });
  const problem = el('div');
  const toggle = el('button', { id: 'tail-toggle', type: 'button', 'aria-pressed': 'false', onclick: () => setPaused(!paused) }, 'Pause');
  const clear = el('button', { type: 'button', onclick: () => { body.replaceChildren(); update(); } }, 'Clear');
  into.replaceChildren(el('section', { id: 'live-tail', class: 'live' },
    el('div', { class: 'row tail-bar' }, toggle, clear, el('span', { class: 'tail-status' }, dot, state), count,
      el('span', { class: 'grow' }),
      el('span', { class: 'muted' }, `Polling FilterLogEvents every ${POLL_MS / 1000} s, newest first`)),
    problem, empty, wrap));

  function update() {
    const shown = body.querySelectorAll('tr.tail-event').length;
    into.querySelector('#live-tail').classList.toggle('paused', paused);
    state.textContent = paused ? 'Paused' : 'Live';
    toggle.textContent = paused ? 'Resume' : 'Pause';
    toggle.setAttribute('aria-pressed', String(paused));
    count.textContent = `${shown} event${shown === 1 ? '' : 's'}`;
    empty.hidden = shown > 0;
    wrap.hidden = shown === 0;
  }

  function setPaused(p) {
    paused = p;
    update();
    if (!paused) schedule(0);
  }

  function schedule(ms = POLL_MS) {
    clearTimeout(timer);
    if (!stopped && !paused) timer = setTimeout(poll, ms);
  }

  async function fetchNew() {
    const req = {
      logGroupName: group, startTime: Math.max(0, newest - LAG_MS), limit: 1000,
      filterPattern: filter || undefined, logStreamNames: stream ? [stream] : undefined,
    };
    const out = [];
    for (let page = 0; page < PAGES_MAX; page++) {
      const r = await logs('FilterLogEvents', req);
      out.push(...(r.events || []).filter(e => !seen.has(e.eventId)));
      if (!r.nextToken) break;
      req.nextToken = r.nextToken;
    }
    return out;
  }

  async function poll() {
    if (stopped || paused || busy) return;
    if (document.hidden) { schedule(); return; }
    busy = true;
    try {
      const fresh = await fetchNew();
      if (stopped) return;
      problem.replaceChildren();
      add(fresh);
      schedule();
    } catch (e) {
      if (stopped) return;
      problem.replaceChildren(el('div', { class: 'notice error', role: 'alert' }, String(e.message || e)));
      // A 4xx (bad pattern, group gone) will not fix itself; anything else is retried.
      if (e.status >= 400 && e.status < 500) setPaused(true); else schedule(POLL_MS * 4);
    } finally { busy = false; }
  }

  function add(events) {
    events.sort((a, b) => a.timestamp - b.timestamp || String(a.eventId).localeCompare(String(b.eventId)));
    for (const ev of events) {
      seen.set(ev.eventId, ev.timestamp);
      newest = Math.max(newest, ev.timestamp);
      body.prepend(eventRow(ev, { showStream: !stream, cls: 'tail-event fresh' }));
    }
    while (body.rows.length > ROWS_MAX) body.lastElementChild.remove();
    for (const [id, ts] of seen) if (ts < newest - 2 * LAG_MS) seen.delete(id);
    update();
  }

  const onVisible = () => { if (!document.hidden) schedule(0); };
  document.addEventListener('visibilitychange', onVisible);
  update();
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
