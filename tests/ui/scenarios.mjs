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
