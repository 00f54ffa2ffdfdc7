// Development aid: node tests/ui/shot.mjs URL OUT.png [width] — loads URL in headless
// chromium, waits for the network to settle, saves a full-page screenshot, and prints every
// console message, page error and failed request (exit 1 if any error).
import { chromium } from 'playwright-core';

const [url, out = '/tmp/shot.png', width = '1280'] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctx = await browser.newContext({ viewport: { width: Number(width), height: 860 }, colorScheme: process.env.SCHEME || 'light' });
const page = await ctx.newPage();
let bad = 0;
page.on('console', m => { console.log(`console.${m.type()}: ${m.text()}`); if (m.type() === 'error') bad++; });
page.on('pageerror', e => { console.log(`pageerror: ${e.message}`); bad++; });
page.on('requestfailed', r => { console.log(`requestfailed: ${r.url()} ${r.failure()?.errorText}`); bad++; });
page.on('response', r => { if (r.status() >= 400) console.log(`http ${r.status()}: ${r.url()}`); });
await page.goto(url, { waitUntil: 'networkidle', timeout: 30000 });
await page.waitForTimeout(Number(process.env.WAIT_MS || 500));
await page.screenshot({ path: out, fullPage: true });
console.log(`saved ${out}`);
await browser.close();
process.exit(bad ? 1 : 0);
