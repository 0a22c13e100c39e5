#!/usr/bin/env node
// The run page's live output end to end in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core):
//
//   node run_page_test.js BASE_URL ADMIN_TOKEN SCREENSHOT_DIR
//
// BASE_URL is a running daemon with the job LIVE_JOB (default "ticker"), which prints
// "tick 1" .. "tick N" a line at a time, slowly, and FLAKY_JOB (default "flaky"), which fails
// its first attempts and then succeeds. The test signs in, triggers the ticker, opens its run
// page, and checks that lines appear while the run is still running (status badge and the
// API both say running), that the view follows the output until the user scrolls up (then
// a Follow button shows and the view stays put), that the final status, result and all lines
// show at the end, and that a retried run's attempts are listed under the first attempt.
// Saves run-live.png, run-done.png and run-attempts.png. Exits 0 when all steps pass.

const fs = require('fs');
const path = require('path');
const { check, step, until, apiOk, withBrowser, describeErrors, runTest } = require('./harness');

const RUN_MS = 40000;
const TOTAL_MS = 120000;

const [baseUrl, adminToken, shotDir] = process.argv.slice(2);
const liveJob = process.env.LIVE_JOB || 'ticker';
const ticks = Number(process.env.LIVE_TICKS || '12');
const flakyJob = process.env.FLAKY_JOB || 'flaky';

if (!baseUrl || !adminToken || !shotDir) {
  console.error('usage: node run_page_test.js BASE_URL ADMIN_TOKEN SCREENSHOT_DIR');
  process.exit(2);
}

const apiCall = (method, apiPath) => apiOk(baseUrl, adminToken, method, apiPath);

const outputText = (page) => page.evaluate(() => document.querySelector('#run-page-output')?.textContent ?? '');

async function run(page) {
  await step('sign in', async () => {
    await page.goto(new URL('/', baseUrl).href, { waitUntil: 'load', timeout: 15000 });
    await page.fill('#token-input', adminToken);
    await page.click('#login-button');
    await until(page, 'the jobs page', () => location.hash === '#/jobs');
  });

  let runId = 0;
  await step('the run page shows output while the run runs', async () => {
    ({ run_id: runId } = await apiCall('POST', `/api/jobs/${encodeURIComponent(liveJob)}/trigger`));
    // Through the runs list: its number links to the run page.
    await page.click('a[data-nav="runs"]');
    await page.locator(`#runs-body tr[data-run="${runId}"] a.run-link`).click();
    await until(page, 'the run page', (id) => location.hash === `#/runs/${id}`, runId);
    await until(page, 'the first ticks', () => /tick 2\n/.test(document.querySelector('#run-page-output')?.textContent),
                null, RUN_MS);
    const shown = await outputText(page);
    const api = await apiCall('GET', `/api/runs/${runId}`);
    // Not ended (the state may still say queued: it records the start behind the run).
    check(['queued', 'running'].includes(api.status), `the run is ${api.status} already: the output was not live`);
    check(!shown.includes(`tick ${ticks}\n`), 'the last tick is shown already');
    check(/^tick 1\ntick 2\n/.test(shown), `unexpected output: ${JSON.stringify(shown.slice(0, 200))}`);
    check((await page.locator('#run-stream-state').textContent()).includes('live'), 'the stream state is not "live"');
    await until(page, 'the running badge', () => document.querySelector('h1 .badge')?.dataset.status === 'running');
    await page.screenshot({ path: path.join(shotDir, 'run-live.png') });
  });

  await step('the view follows the output, until the user scrolls up', async () => {
    // Enough lines to scroll (the box is at most 70 % of the viewport high).
    await page.setViewportSize({ width: 1280, height: 420 });
    // Taller by more than the "at the end" margin (24 px), so scrolling to the top is away from it.
    await until(page, 'output taller than its box', () => {
      const pre = document.querySelector('#run-page-output');
      return pre.scrollHeight > pre.clientHeight + 60;
    }, null, RUN_MS);
    const atEnd = await page.evaluate(() => {
      const pre = document.querySelector('#run-page-output');
      return pre.scrollHeight - pre.scrollTop - pre.clientHeight <= 24;
    });
    check(atEnd, 'the output box is not scrolled to the end while following');
    const afterScroll = await page.evaluate(() => {
      const pre = document.querySelector('#run-page-output');
      window.scrollLog = [];
      pre.addEventListener('scroll', () => window.scrollLog.push([Date.now(), pre.scrollTop, pre.textContent.length]));
      pre.scrollTop = 0;
      return [pre.scrollTop, pre.textContent.length, document.querySelector('h1 .badge')?.dataset.status];
    });
    try {
      await page.locator('#run-follow').waitFor({ state: 'visible' });
    } catch (error) {
      const geometry = await page.evaluate(() => {
        const pre = document.querySelector('#run-page-output');
        return { scrollTop: pre.scrollTop, scrollHeight: pre.scrollHeight, clientHeight: pre.clientHeight,
                 hash: location.hash, status: document.querySelector('h1 .badge')?.dataset.status, log: window.scrollLog };
      });
      geometry.afterScroll = afterScroll;
      throw new Error(`no Follow button after scrolling up (output box ${JSON.stringify(geometry)})`);
    }
    const before = await outputText(page);
    await until(page, 'more output', (n) => document.querySelector('#run-page-output').textContent.length > n,
                before.length, RUN_MS);
    const top = await page.evaluate(() => document.querySelector('#run-page-output').scrollTop);
    check(top === 0, `new output moved the view (scrollTop ${top}) after the user scrolled up`);
    await page.click('#run-follow');
    await until(page, 'the view back at the end', () => {
      const pre = document.querySelector('#run-page-output');
      return pre.scrollHeight - pre.scrollTop - pre.clientHeight <= 24;
    });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('the end: final status, result, every line once', async () => {
    await until(page, 'the succeeded badge', () => document.querySelector('h1 .badge')?.dataset.status === 'succeeded',
                null, RUN_MS);
    const shown = await outputText(page);
    const expected = Array.from({ length: ticks }, (_, i) => `tick ${i + 1}\n`).join('');
    check(shown === expected, `the output differs from ${ticks} ticks: ${JSON.stringify(shown.slice(-300))}`);
    const stored = await apiCall('GET', `/api/runs/${runId}`);
    check(stored.output === shown, 'the page shows other output than the stored one');
    await page.locator('#run-result').waitFor();
    check((await page.locator('#run-result').textContent()).includes(`"ticks": ${ticks}`), 'no result shown');
    check((await page.locator('#run-stream-state').textContent()) === '', 'the stream still says live');
    await page.screenshot({ path: path.join(shotDir, 'run-done.png'), fullPage: true });
  });

  await step("a retried run's attempts are grouped under the first", async () => {
    const { run_id: first } = await apiCall('POST', `/api/jobs/${encodeURIComponent(flakyJob)}/trigger`);
    await page.goto(new URL(`/#/runs/${first}`, baseUrl).href);
    await until(page, 'three attempts listed', () => document.querySelectorAll('#run-attempts li').length === 3,
                null, RUN_MS);
    await until(page, 'the last attempt to succeed', () =>
      document.querySelector('#run-attempts li:last-child')?.dataset.status === 'succeeded', null, RUN_MS);
    const current = await page.locator('#run-attempts [aria-current="page"]').textContent();
    check(current === `#${first}`, `the first attempt is not marked as the one shown: ${current}`);
    await page.locator('#run-attempts li:last-child a').click();
    await until(page, "the last attempt's page", () => /^#\/runs\/\d+$/.test(location.hash) &&
                document.querySelector('#run-attempts [aria-current="page"]')?.textContent === `#${location.hash.slice('#/runs/'.length)}`);
    await until(page, "the last attempt's output", () => /attempt 3/.test(document.querySelector('#run-page-output').textContent));
    await page.screenshot({ path: path.join(shotDir, 'run-attempts.png'), fullPage: true });
  });
}

async function main() {
  fs.mkdirSync(shotDir, { recursive: true });
  await withBrowser({}, async (page, pageErrors) => {
    page.on('console', (message) => {
      if (message.type() === 'error') console.log(`     (browser console) ${message.text()}`);
    });
    try {
      await run(page);
    } catch (error) {
      await page.screenshot({ path: path.join(shotDir, 'run-failure.png'), fullPage: true }).catch(() => {});
      const toasts = await page.locator('.toast').allTextContents().catch(() => []);
      if (toasts.length) error.message += ` (toasts: ${toasts.join(' | ')})`;
      error.message += ` (at ${page.url()})`;
      throw error;
    }
    check(pageErrors.length === 0, `uncaught errors in the page: ${describeErrors(pageErrors)}`);
  });
}

runTest('run page test', TOTAL_MS, async () => {
  await main();
  return `screenshots in ${shotDir}`;
});
