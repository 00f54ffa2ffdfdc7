// Browser scenarios of Waggle's web UI: node scenarios.mjs <name>. Facts about the running
// servers and their data come from $UI_FACTS (written by tests/test_ui.py). A scenario fails
// on a failed assertion, a console error, an uncaught page error or a failed request; it
// saves screenshots to facts.artifacts.
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';

const facts = JSON.parse(readFileSync(process.env.UI_FACTS, 'utf8'));
const name = process.argv[2];
const WAIT = 15000;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const problems = [];

async function open(path, { scheme = 'light', base = facts.url, width = 1280 } = {}) {
  const ctx = await browser.newContext({ viewport: { width, height: 860 }, colorScheme: scheme });
  const page = await ctx.newPage();
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()} (${page.url()})`); });
  page.on('pageerror', e => problems.push(`page error: ${e.message} (${page.url()})`));
  page.on('requestfailed', r => {
    // A navigation away cancels in-flight fetches; that is not a failure of the page.
    if (!/ERR_ABORTED/.test(r.failure()?.errorText || '')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  page.on('response', r => { if (r.status() >= 400 && !page.allowed?.(r)) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(base + path, { waitUntil: 'networkidle' });
  return page;
}

async function shot(page, file) {
  await page.waitForLoadState('networkidle');
  await page.screenshot({ path: `${facts.artifacts}/${file}.png`, fullPage: true });
}

/** Light and dark screenshots of one page. */
async function both(path, file, ready) {
  for (const scheme of ['light', 'dark']) {
    const page = await open(path, { scheme });
    await ready(page);
    await shot(page, `${file}-${scheme}`);
    await page.context().close();
  }
}

const enc = encodeURIComponent;
const q = spec => enc(JSON.stringify(spec));

/** CloudWatch Logs directly (loopback, no credentials configured: unsigned is accepted). */
async function putLog(message) {
  const r = await fetch(facts.url + '/', {
    method: 'POST',
    headers: { 'X-Amz-Target': 'Logs_20140328.PutLogEvents', 'Content-Type': 'application/x-amz-json-1.1' },
    body: JSON.stringify({ logGroupName: facts.log_group, logStreamName: 'web-1', logEvents: [{ timestamp: Date.now(), message }] }),
  });
  assert.equal(r.status, 200, await r.text());
}

const scenarios = {
  async home() {
    await both('/ui/', 'home', async p => {
      await p.waitForSelector('#datasets .card', { timeout: WAIT });
      await p.waitForSelector('#recent-errors table', { timeout: WAIT });
      await p.waitForSelector('#log-groups table', { timeout: WAIT });
    });
    const p = await open('/ui/');
    await p.waitForSelector(`[data-dataset="${facts.service}"] svg.spark`, { timeout: WAIT });
    assert.ok(await p.locator('#datasets .card').count() >= 3);
  },

  async empty_install() {
    const p = await open('/ui/', { base: facts.empty_url });
    const text = await p.locator('#empty-install').innerText({ timeout: WAIT });
    assert.match(text, /waggle demo/);
    assert.match(text, /OTEL_EXPORTER_OTLP_ENDPOINT=/);
    await shot(p, 'home-empty');
  },

  async token() {
    const p = await open('/ui/', { base: facts.keyed_url });
    await p.waitForSelector('#token-form', { timeout: WAIT });
    assert.equal(await p.locator('#datasets').count(), 0, 'no data before the token');
    await shot(p, 'token-prompt');
    await p.fill('#token-form input[name=token]', facts.api_key);
    await Promise.all([p.waitForNavigation(), p.click('#token-form button[type=submit]')]);
    await p.waitForSelector('#empty-install', { timeout: WAIT });
  },

  async query_and_back() {
    const spec = { calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], breakdowns: ['name'], time_range: 3600 };
    await both(`/ui/query?dataset=backend-flask&q=${q(spec)}`, 'query', async p => {
      await p.waitForSelector('#query-chart canvas', { timeout: WAIT });
      await p.waitForSelector('#query-results tbody tr', { timeout: WAIT });
    });
    const p = await open(`/ui/query?dataset=backend-flask&q=${q(spec)}`);
    await p.waitForSelector('#query-results tbody tr', { timeout: WAIT });
    const first = p.url();
    await p.selectOption('#dataset', facts.service);
    await p.click('#run-query');
    await p.waitForFunction(u => location.href !== u, first, { timeout: WAIT });
    await p.waitForSelector('#query-results tbody tr', { timeout: WAIT });
    // The first dataset's rows stay on screen until the new results arrive.
    await p.waitForFunction(() => /charge card|POST \/checkout/.test(document.querySelector('#query-results')?.innerText || ''),
      null, { timeout: WAIT }).catch(() => {});
    assert.match(await p.locator('#query-results').innerText(), /charge card|POST \/checkout/);
    // Back returns to the first query (picking a dataset may itself be a history step).
    for (let i = 0; i < 3 && p.url() !== first; i++) {
      await p.goBack();
      await p.waitForTimeout(300);
    }
    assert.equal(p.url(), first);
    await p.waitForFunction(() => document.querySelector('#dataset')?.value === 'backend-flask', null, { timeout: WAIT });
    await p.waitForSelector('#query-results tbody tr', { timeout: WAIT });
    assert.doesNotMatch(await p.locator('#query-results').innerText(), /charge card/);
    assert.ok(await p.locator('#recent-queries li, #recent-queries a').count() >= 2, 'recent queries listed');
  },

  async heatmap_bubbleup() {
    const spec = { calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], time_range: 3600 };
    const p = await open(`/ui/query?dataset=backend-flask&q=${q(spec)}`);
    const canvas = p.locator('#query-chart canvas').first();
    await canvas.waitFor({ timeout: WAIT });
    const box = await canvas.boundingBox();
    // Drag over the whole time axis and all but the lowest tenth of the durations: the
    // slower requests against the fast bulk (the plot's padding is chart.js's PAD).
    const plotH = box.height - 34;
    await p.mouse.move(box.x + 53, box.y + 11);
    await p.mouse.down();
    await p.mouse.move(box.x + box.width - 13, box.y + 10 + plotH * 0.9, { steps: 8 });
    await p.mouse.up();
    await p.waitForSelector('#bubbleup .bubbleup-col', { timeout: WAIT });
    assert.ok(await p.locator('#bubbleup .bubbleup-col').count() >= 1);
    await shot(p, 'query-heatmap-bubbleup');
  },

  async trace_search_and_view() {
    const tql = `{ resource.service.name = "${facts.service}" }`;
    await both(`/ui/traces?q=${enc(tql)}`, 'traces', async p => {
      await p.waitForSelector('tr.trace-row', { timeout: WAIT });
      await p.waitForSelector('#trace-scatter canvas', { timeout: WAIT });
    });
    const p = await open(`/ui/traces?q=${enc(tql)}`);
    await p.locator('tr.trace-row').first().click();
    await p.waitForURL(/\/ui\/trace\//, { timeout: WAIT });
    assert.ok(p.url().includes(facts.trace_id), p.url());
    await p.waitForSelector('.span-row', { timeout: WAIT });
    assert.equal(await p.locator('.span-row').count(), 3);
    await p.waitForSelector('.span-logs', { timeout: WAIT });
    await p.waitForSelector('.span-errors', { timeout: WAIT });
    await p.locator(`.span-row[data-span-id="${facts.failing_span}"]`).click();
    const detail = await p.locator('#span-detail').innerText({ timeout: WAIT });
    assert.match(detail, /card declined/);
    await p.fill('#trace-search', 'charge');
    await shot(p, 'trace-view');
    for (const scheme of ['light', 'dark']) {
      const t = await open(`/ui/trace/${facts.trace_id}?span=${facts.failing_span}`, { scheme });
      await t.waitForSelector('.span-errors', { timeout: WAIT });
      await shot(t, `trace-${scheme}`);
    }
  },

  async trace_compare() {
    const { compare_a: a, compare_b: b } = facts;
    const tql = `{ resource.service.name = "${facts.compare_service}" }`;
    const p = await open(`/ui/traces?q=${enc(tql)}`);
    await p.waitForSelector(`input.trace-pick[data-trace-id="${a}"]`, { timeout: WAIT });
    assert.ok(await p.locator('#trace-compare').isDisabled(), 'Compare waits for two traces');
    // Tick A first (it is the older, second row), then B: the first ticked is A.
    await p.locator(`input.trace-pick[data-trace-id="${a}"]`).check();
    assert.ok(await p.locator('#trace-compare').isDisabled());
    assert.equal(p.url().includes('/ui/trace/'), false, 'ticking does not open the trace');
    await p.locator(`input.trace-pick[data-trace-id="${b}"]`).check();
    const others = p.locator('input.trace-pick:not(:checked)');
    for (let i = 0; i < await others.count(); i++) assert.ok(await others.nth(i).isDisabled(), 'two at most');
    await p.click('#trace-compare');
    await p.waitForURL(u => u.pathname === `/ui/trace/${a}` && u.searchParams.get('compare') === b, { timeout: WAIT });
    await p.waitForSelector('#cmp-a-waterfall .span-row:not(.gap)', { timeout: WAIT });
    await p.waitForSelector('#cmp-b-waterfall .span-row:not(.gap)', { timeout: WAIT });
    // Aligned: as many rows on each side; gaps where one trace lacks a span.
    const rowsA = await p.locator('#cmp-a-waterfall .span-row').count();
    const rowsB = await p.locator('#cmp-b-waterfall .span-row').count();
    assert.equal(rowsA, rowsB, 'aligned rows');
    assert.equal(await p.locator('#cmp-a-waterfall .span-row:not(.gap)').count(), 9);
    assert.equal(await p.locator('#cmp-b-waterfall .span-row:not(.gap)').count(), 10);
    assert.equal(await p.locator('#cmp-a-waterfall .span-row.gap').count(), 2, 'the coupon and the retried query are only in B');
    assert.equal(await p.locator('#cmp-b-waterfall .span-row.gap').count(), 1, 'the cache lookup is only in A');
    // The diff table: counts and durations in A and B, one-sided spans marked.
    const table = p.locator('#compare-table');
    await table.locator('tbody tr').first().waitFor({ timeout: WAIT });
    const row = name => table.locator('tbody tr', { hasText: name });
    assert.match(await row('apply coupon').innerText(), /only in B/);
    assert.match(await row('cache lookup').innerText(), /only in A/);
    const select = await row('SELECT stock').locator('td').allInnerTexts();
    assert.deepEqual(select.slice(3, 6).map(t => t.trim()), ['1', '2', '+1'], select.join(' | '));
    assert.ok(await row('POST /order').locator('.delta.worse').count() >= 1, 'the slower root is marked');
    assert.match(await p.locator('#compare-delta').innerText(), /duration\s*\+70\.0 ms/);
    // A span in A selects its counterpart in B; the detail shows both.
    await p.locator('#cmp-a-waterfall .span-row', { hasText: 'SELECT stock' }).click();
    await p.waitForSelector('#cmp-b-waterfall .span-row.selected', { timeout: WAIT });
    assert.match(await p.locator('#cmp-b-waterfall .span-row.selected').innerText(), /SELECT stock/);
    const detail = await p.locator('#compare-detail').innerText();
    assert.match(detail, /SELECT stock/);
    assert.match(detail, /in both/);
    // Keyboard: down to the next span, Enter selects it (past a gap row).
    await p.keyboard.press('ArrowDown');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => /reserve/.test(document.querySelector('#cmp-a-waterfall .span-row.selected')?.innerText || ''), null, { timeout: WAIT });
    // Scrolling one side scrolls the other (rows stay aligned).
    await shot(p, 'trace-compare');
    // A row of the table selects that span.
    await row('apply coupon').click();
    await p.waitForFunction(() => /apply coupon/.test(document.querySelector('#compare-detail')?.innerText || ''), null, { timeout: WAIT });
    assert.match(await p.locator('#compare-detail').innerText(), /only in B/);
    // Back returns to the search.
    await p.goBack();
    await p.waitForURL(/\/ui\/traces\?/, { timeout: WAIT });
    await p.waitForSelector('tr.trace-row', { timeout: WAIT });

    // From a trace page: "Compare with…" another id, and Back to the single trace.
    const t = await open(`/ui/trace/${a}`);
    await t.waitForSelector('#waterfall .span-row', { timeout: WAIT });
    await t.fill('#compare-with', 'not a trace id');
    await t.press('#compare-with', 'Enter');
    assert.match(await t.locator('#compare-with-msg').innerText(), /32 hex digits/);
    await t.fill('#compare-with', b);
    await t.press('#compare-with', 'Enter');
    await t.waitForURL(u => u.searchParams.get('compare') === b, { timeout: WAIT });
    await t.waitForSelector('#cmp-b-waterfall .span-row', { timeout: WAIT });
    assert.equal(await t.locator('main > h1').innerText(), 'Compare traces');
    await t.goBack();
    await t.waitForURL(u => !u.searchParams.has('compare'), { timeout: WAIT });
    await t.waitForSelector('#waterfall .span-row', { timeout: WAIT });
    assert.equal(await t.locator('#cmp-a-waterfall').count(), 0);
    await t.goForward();
    await t.waitForSelector('#cmp-a-waterfall .span-row', { timeout: WAIT });
    // Swap makes B the baseline.
    await t.click('#compare-swap');
    await t.waitForURL(u => u.pathname === `/ui/trace/${b}` && u.searchParams.get('compare') === a, { timeout: WAIT });
    await t.waitForSelector('#compare-table tbody tr', { timeout: WAIT });
    assert.match(await t.locator('#compare-table tbody tr', { hasText: 'apply coupon' }).innerText(), /only in A/);

    await both(`/ui/trace/${a}?compare=${b}`, 'trace-compare', async x => {
      await x.waitForSelector('#cmp-b-waterfall .span-row', { timeout: WAIT });
      await x.waitForSelector('#compare-table tbody tr', { timeout: WAIT });
    });
    await both(`/ui/traces?q=${enc(tql)}`, 'traces-compare-pick', async x => {
      await x.locator(`input.trace-pick[data-trace-id="${a}"]`).check({ timeout: WAIT });
      await x.locator(`input.trace-pick[data-trace-id="${b}"]`).check();
      await x.waitForSelector('#trace-scatter canvas', { timeout: WAIT });
    });
  },

  async big_trace() {
    const p = await open(`/ui/trace/${facts.big_trace}`);
    await p.waitForFunction(() => typeof window.waggleTraceRenderMs === 'number', null, { timeout: 30000 });
    const ms = await p.evaluate(() => window.waggleTraceRenderMs);
    console.log(`UI_MEASURE trace_render_ms=${ms.toFixed(1)} spans=${facts.big_spans}`);
    assert.ok(ms < 1000, `a ${facts.big_spans}-span trace rendered in ${ms} ms`);
    await shot(p, 'trace-10k');
  },

  async service_map() {
    await both('/ui/map', 'map', async p => {
      await p.waitForSelector('g.map-node[data-service="backend-flask"]', { timeout: WAIT });
    });
    const p = await open('/ui/map');
    // A service calling itself: a loop beside its node, the label clear of every node and
    // of the other edges' labels.
    const loop = p.locator(`g.map-edge.self-loop[data-from="${facts.loop_service}"]`);
    await loop.waitFor({ timeout: WAIT });
    const clash = await p.evaluate(svc => {
      const r = e => e.getBoundingClientRect();
      const meets = (a, b) => a.width && b.width && a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      const label = r(document.querySelector(`g.map-edge.self-loop[data-from="${svc}"] .edge-label`));
      const out = [];
      for (const n of document.querySelectorAll('g.map-node')) {
        for (const part of n.querySelectorAll('.halo, .node-name, .node-type')) {
          if (meets(label, r(part))) out.push(`${n.dataset.service} ${part.getAttribute('class')}`);
        }
      }
      for (const e of document.querySelectorAll('g.map-edge')) {
        if (e.classList.contains('self-loop') && e.dataset.from === svc) continue;
        if (meets(label, r(e.querySelector('.edge-label')))) out.push(`label of ${e.dataset.from} → ${e.dataset.to}`);
      }
      return out;
    }, facts.loop_service);
    assert.deepEqual(clash, [], 'the self-loop label overlaps');
    await loop.focus();
    await p.keyboard.press('Enter');
    assert.match(await p.locator('#map-detail').innerText({ timeout: WAIT }), new RegExp(`${facts.loop_service} → ${facts.loop_service}`));
    await p.locator(`g.map-node[data-service="${facts.loop_service}"]`).first().scrollIntoViewIfNeeded();
    await shot(p, 'map-self-loop');
    // Its traces: the service's requests to itself (the compare traces make some).
    const l = await open('/ui/map');
    await l.locator(`g.map-edge.self-loop[data-from="${facts.loop_service}"] .hit`).click({ timeout: WAIT }); // inside the loop
    await l.click('#map-traces-link');
    await l.waitForURL(/\/ui\/traces\?/, { timeout: WAIT });
    await l.waitForSelector(`input.trace-pick[data-trace-id="${facts.compare_a}"]`, { timeout: WAIT });
    await p.locator('g.map-node[data-service="backend-flask"]').first().click();
    const detail = await p.locator('#map-detail').innerText({ timeout: WAIT });
    assert.match(detail, /backend-flask/);
    assert.ok(await p.locator('#map-detail a[href*="/ui/traces"]').count() >= 1, 'a link to the node\'s traces');
  },

  async sampling_and_groups() {
    await both('/ui/xray', 'xray', async p => {
      await p.waitForSelector('#rules-table', { timeout: WAIT });
    });
    const p = await open('/ui/xray');
    await p.waitForSelector('#rules-table', { timeout: WAIT });
    assert.match(await p.locator('#rules-table').innerText(), /Cruddur/);
    await p.click('#new-rule');
    const f = p.locator('#rule-form');
    await f.locator('[name=RuleName]').fill('ui-test-rule');
    await f.locator('[name=Priority]').fill('42');
    await f.locator('[name=FixedRate]').fill('0.25');
    await f.locator('[name=ReservoirSize]').fill('3');
    await f.locator('[name=ServiceName]').fill('ui-shop');
    await p.click('#save-rule');
    await p.waitForFunction(() => /ui-test-rule/.test(document.querySelector('#rules-table')?.innerText || ''), null, { timeout: WAIT });
    // Through the aws CLI's API too.
    const rules = await (await fetch(facts.url + '/GetSamplingRules', { method: 'POST', body: '{}' })).json();
    assert.ok(rules.SamplingRuleRecords.some(r => r.SamplingRule.RuleName === 'ui-test-rule' && r.SamplingRule.Priority === 42));
    await p.locator('tr', { hasText: 'ui-test-rule' }).locator('.delete-rule').click();
    await p.click('#confirm-delete');
    await p.waitForFunction(() => !/ui-test-rule/.test(document.querySelector('#rules-table')?.innerText || ''), null, { timeout: WAIT });
  },

  async errors_resolve() {
    await both('/ui/errors', 'errors', async p => {
      await p.waitForSelector('tr.item-row', { timeout: WAIT });
    });
    const p = await open('/ui/errors');
    const row = p.locator(`tr.item-row[data-counter="${facts.item_counter}"]`);
    await row.waitFor({ timeout: WAIT });
    const id = await row.getAttribute('data-id');
    await row.locator('.resolve-item').click();
    // The row shows the new status (or leaves a list filtered to active items).
    await p.waitForFunction(c => {
      const status = document.querySelector(`tr.item-row[data-counter="${c}"] .item-status`);
      return status ? /resolved/i.test(status.innerText) : true;
    }, facts.item_counter, { timeout: WAIT });
    // The Rollbar API sees the change.
    const item = await (await fetch(`${facts.url}/api/1/item/${id}`, { headers: { 'X-Rollbar-Access-Token': 'x' } })).json();
    assert.equal(item.result.status, 'resolved');
    // Reactivate, through the UI again, from the resolved list.
    const r = await open('/ui/errors?status=resolved');
    await r.locator(`tr.item-row[data-counter="${facts.item_counter}"] .reactivate-item`).click({ timeout: WAIT });
    await r.waitForFunction(async i => {
      const x = await (await fetch(`/ui/api/api/1/item/${i}`, { headers: { 'X-Rollbar-Access-Token': 'x' } })).json();
      return x.result.status === 'active';
    }, id, { timeout: WAIT });
  },

  async item_page() {
    await both(`/ui/item/${facts.item_counter}`, 'item', async p => {
      await p.waitForSelector('#stack-trace .frame', { timeout: WAIT });
    });
    const p = await open(`/ui/item/${facts.item_counter}`);
    await p.waitForSelector('#stack-trace .frame', { timeout: WAIT });
    assert.ok(await p.locator('#stack-trace .frame.in-project').count() >= 1, 'in-project frames marked');
    const href = await p.locator('#item-trace-link').getAttribute('href', { timeout: WAIT });
    assert.ok(href.includes(facts.trace_id), href);
  },

  async logs_filter() {
    const path = `/ui/logs?group=${enc(facts.log_group)}&range=1h`;
    await both(path, 'logs', async p => { await p.waitForSelector('tr.log-event', { timeout: WAIT }); });
    const p = await open(path);
    await p.waitForSelector('tr.log-event', { timeout: WAIT });
    const all = await p.locator('tr.log-event').count();
    assert.ok(all >= 10, `${all} events`);
    assert.ok(await p.locator('.log-trace-link').count() >= 2, 'events on a trace link to it');
    await p.fill('#log-filter', '"card declined"');
    await p.press('#log-filter', 'Enter');
    await p.waitForFunction(n => document.querySelectorAll('tr.log-event').length > 0 && document.querySelectorAll('tr.log-event').length < n, all, { timeout: WAIT });
    const texts = await p.locator('tr.log-event').allInnerTexts();
    assert.ok(texts.every(t => t.includes('card declined')), texts.join('\n'));
    await shot(p, 'logs-filtered');
  },

  async logs_insights() {
    const p = await open(`/ui/logs?group=${enc(facts.log_group)}&tab=insights`);
    await p.fill('#insights-query', 'stats count(*) as n by bin(1m)');
    await p.click('#run-insights');
    await p.waitForSelector('#insights-results tbody tr', { timeout: WAIT });
    await p.waitForSelector('#insights-chart canvas', { timeout: WAIT });
    await shot(p, 'logs-insights');
  },

  async live_tail() {
    const p = await open(`/ui/logs?group=${enc(facts.log_group)}&tab=tail`);
    await p.waitForSelector('#live-tail', { timeout: WAIT });
    await p.waitForTimeout(1500);
    const marker = `live-tail-${Date.now()}`;
    await putLog(`hello from the test ${marker}`);
    await p.waitForSelector(`.tail-event:has-text("${marker}")`, { timeout: WAIT });
    await shot(p, 'logs-tail');
  },
};

let failed = false;
try {
  const run = scenarios[name];
  if (!run) throw new Error(`no scenario ${name}: ${Object.keys(scenarios).join(', ')}`);
  await run();
} catch (e) {
  failed = true;
  console.log(`FAIL ${name}: ${e.stack || e}`);
}
await browser.close();
if (problems.length) {
  failed = true;
  console.log(`FAIL ${name}: ${problems.length} browser problem(s):\n  ${problems.join('\n  ')}`);
}
console.log(failed ? `scenario ${name}: failed` : `scenario ${name}: ok`);
process.exit(failed ? 1 : 0);
