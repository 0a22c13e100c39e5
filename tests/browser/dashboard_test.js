#!/usr/bin/env node
// The dashboard end to end in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no browser is downloaded):
//
//   node dashboard_test.js BASE_URL ADMIN_TOKEN SCREENSHOT_DIR
//
// BASE_URL is a running daemon with at least: the job DASHBOARD_JOB (default "hello"), whose
// runs succeed quickly (and print DASHBOARD_OUTPUT, when set), and one PENDING approval.
// VIEWER_TOKEN (optional) is a viewer's token: the test then also checks the viewer's
// read-only look. Asserts on DOM text, never pixels; every wait is bounded. Exits 0 when all
// steps pass, 1 with the failed step's name and reason otherwise.

const fs = require('fs');
const path = require('path');
const { STEP_MS, check, step, until, apiOk, withBrowser, describeErrors, runTest } = require('./harness');

const RUN_MS = 30000; // a triggered run from click to final status
const TOTAL_MS = 150000; // the whole test; a hang fails instead of blocking CI
const SLOW_MS = 1000; // an API answer slower than this is reported
const FINAL = ['succeeded', 'failed', 'timed_out', 'skipped', 'cancelled', 'interrupted'];

const [baseUrl, adminToken, shotDir] = process.argv.slice(2);
const jobName = process.env.DASHBOARD_JOB || 'hello';
const expectedOutput = process.env.DASHBOARD_OUTPUT || '';
const viewerToken = process.env.VIEWER_TOKEN || '';
const NOTE = 'approved by the dashboard test';
const NEW_CRON = '30 4 * * 1-5';

if (!baseUrl || !adminToken || !shotDir) {
  console.error('usage: node dashboard_test.js BASE_URL ADMIN_TOKEN SCREENSHOT_DIR');
  process.exit(2);
}

/** Calls the API from the test itself (to make things happen that the UI then shows). */
const apiCall = (method, apiPath, token = adminToken) => apiOk(baseUrl, token, method, apiPath);

async function main() {
  fs.mkdirSync(shotDir, { recursive: true });
  await withBrowser({}, async (page, pageErrors) => {
    // A slow answer is printed: it explains a step that timed out.
    page.on('requestfinished', (request) => {
      const timing = request.timing();
      const ms = timing.responseEnd;
      if (ms > SLOW_MS) console.log(`     (slow request) ${request.method()} ${request.url()}: ${Math.round(ms)} ms`);
    });
    page.on('requestfailed', (request) => {
      if (!/ERR_ABORTED/.test(request.failure()?.errorText)) {
        console.log(`     (failed request) ${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
      }
    });
    page.on('console', (message) => {
      if (message.type() === 'error') console.log(`     (browser console) ${message.text()}`);
    });
    try {
      await run(page);
    } catch (error) {
      // What the page looked like when the step failed, and what the user would have read.
      await page.screenshot({ path: path.join(shotDir, 'failure.png'), fullPage: true }).catch(() => {});
      const toasts = await page.locator('.toast').allTextContents().catch(() => []);
      if (toasts.length) error.message += ` (toasts: ${toasts.join(' | ')})`;
      error.message += ` (at ${page.url()})`;
      throw error;
    }
    check(pageErrors.length === 0, `uncaught errors in the page: ${describeErrors(pageErrors)}`);
  });
}

/** The page's top (the viewport), or all of it; scrolled to the top so the sticky header sits there. */
async function shot(page, name, fullPage = false) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage });
}
const text = async (locator) => (await locator.textContent({ timeout: STEP_MS }))?.trim();

async function noHorizontalScroll(page, width) {
  await page.setViewportSize({ width, height: 800 });
  await page.waitForTimeout(200); // a layout pass
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `at ${width} px the page scrolls sideways by ${overflow} px`);
}

async function run(page) {
  const rowOf = (name) => page.locator(`#jobs-body tr[data-job="${name}"]`);
  let adminName = '';
  let triggeredRun = 0;

  await step('login page', async () => {
    await page.goto(new URL('/', baseUrl).href, { waitUntil: 'load', timeout: 15000 });
    await page.locator('#login-form').waitFor();
    check(await page.locator('#topbar').isHidden(), 'the header shows before sign-in');
    await shot(page, 'login');
  });

  await step('a wrong token is refused', async () => {
    await page.fill('#token-input', 'not-a-valid-token');
    await page.click('#login-button');
    await page.locator('#login-error').waitFor();
    check(/not valid/.test(await text(page.locator('#login-error'))), 'no "not valid" message');
  });

  await step('sign in', async () => {
    await page.fill('#token-input', adminToken);
    await page.click('#login-button');
    await until(page, 'the header to show an admin', () => / · admin$/.test(document.querySelector('#whoami')?.textContent));
    adminName = (await text(page.locator('#whoami'))).split(' · ')[0];
    await until(page, 'the jobs page', () => location.hash === '#/jobs');
    await page.locator('#jobs-body tr[data-job]').first().waitFor();
  });

  await step('jobs list, paged', async () => {
    await until(page, 'the job count', () => /jobs?$/.test(document.querySelector('#jobs-total').textContent));
    const rows = await page.locator('#jobs-body tr[data-job]').count();
    check(rows <= 100, `${rows} rows rendered at once (the page size is 100)`);
    await shot(page, 'jobs');
    // Page on with "Load more" until the job shows (the test site has a few over one page).
    for (let pages = 0; (await rowOf(jobName).count()) === 0; pages += 1) {
      check(pages < 20 && await page.locator('#load-more').isVisible(), `no row for job ${jobName}`);
      const before = await page.locator('#jobs-body tr').count();
      await page.click('#load-more');
      await until(page, 'the next page of jobs', (n) => document.querySelectorAll('#jobs-body tr').length > n, before);
    }
    const row = rowOf(jobName);
    check((await text(row.locator('.schedule-text'))).length > 0, 'no schedule text');
    check((await text(row.locator('.schedule-expr'))).length > 0, 'no schedule expression');
    check(await row.locator('.col-next time[title]').count() === 1, 'no next fire time with an absolute title');
    check(await row.locator('.col-status .badge').count() >= 1, 'no status badge');
    check(await row.locator('.enable-toggle').isEnabled(), 'the enable switch is disabled for an admin');
    check(await row.locator('button.trigger').isEnabled(), 'the trigger button is disabled for an admin');
  });

  await step('filter by name prefix', async () => {
    const prefix = jobName.slice(0, 3);
    await page.fill('#job-filter', prefix);
    await until(page, `only jobs starting with "${prefix}"`, ([p, name]) => {
      const rows = [...document.querySelectorAll('#jobs-body tr[data-job]')];
      return rows.length > 0 && rows.every((r) => r.dataset.job.startsWith(p)) &&
             rows.some((r) => r.dataset.job === name);
    }, [prefix, jobName]);
    await page.fill('#job-filter', '');
    await until(page, 'the whole list back', () => document.querySelectorAll('#jobs-body tr[data-job]').length > 1 &&
                                                  !/^1 job$/.test(document.querySelector('#jobs-total').textContent));
  });

  await step('responsive at 800 px and phone width', async () => {
    await noHorizontalScroll(page, 800);
    await noHorizontalScroll(page, 390);
    await shot(page, 'jobs-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('job detail', async () => {
    await page.fill('#job-filter', jobName);
    await rowOf(jobName).locator('a.job-link').click();
    await until(page, 'the job page', (name) => document.querySelector('#job-title')?.textContent === name, jobName);
    await page.locator('#history').waitFor();
    await page.locator('#job-stats').waitFor();
    check(await page.locator('#next-fires li').count() === 5, 'the next fires are not 5');
  });

  await step('trigger from the job page, watch the run end', async () => {
    await page.click('#trigger-button');
    const toast = page.locator('.toast-info', { hasText: `Triggered ${jobName}: run #` });
    await toast.first().waitFor();
    triggeredRun = Number((await text(toast.first())).match(/run #(\d+)/)[1]);
    const row = page.locator(`#history-body tr[data-run="${triggeredRun}"]`);
    await row.waitFor({ timeout: STEP_MS });
    await until(page, `run #${triggeredRun} to finish`, ([id, final]) =>
      final.includes(document.querySelector(`#history-body tr[data-run="${id}"]`)?.dataset.status),
    [triggeredRun, FINAL], RUN_MS);
    const status = await row.getAttribute('data-status');
    check(status === 'succeeded', `run #${triggeredRun} ended ${status}`);
    check((await text(row.locator('.badge'))) === 'succeeded', 'the history row does not say succeeded');
    await until(page, 'a bar in the durations chart', () => document.querySelectorAll('#durations-chart rect.bar').length > 0);
    await until(page, 'the stats to count the run', () => {
      const runs = [...document.querySelectorAll('#job-stats tbody tr')].find((r) => r.querySelector('th').textContent === 'Runs');
      return Number(runs?.lastElementChild.textContent.replace(/\D/g, '')) >= 1;
    });
  });

  await step('run output', async () => {
    await page.click(`#history-body tr[data-run="${triggeredRun}"]`);
    await until(page, 'the run panel', (id) => document.querySelector('#run-output')?.dataset.status &&
                document.querySelector('#run-output').dataset.run === String(id), triggeredRun);
    if (expectedOutput) {
      const output = await text(page.locator('#run-output-text'));
      check(output.includes(expectedOutput), `the output lacks "${expectedOutput}": ${output}`);
    }
  });

  let previewText = '';
  await step('schedule editor: preview, bad input, save, reset', async () => {
    const fileText = await text(page.locator('#schedule-text'));
    await page.fill('#cron-input', 'not a cron');
    await page.fill('#tz-input', 'UTC');
    await page.click('#preview-button');
    await page.locator('#schedule-preview-error').waitFor();
    await page.fill('#cron-input', NEW_CRON);
    await page.click('#preview-button');
    await until(page, 'a 5-item preview', () => document.querySelectorAll('#schedule-preview li').length === 5 &&
                                                 !document.querySelector('#schedule-preview-error'));
    previewText = await text(page.locator('#schedule-preview-text'));
    check(previewText && previewText !== fileText, `the preview text "${previewText}" is the file's`);
    for (const item of await page.locator('#schedule-preview li').allTextContents()) {
      check(/\b04:30\b/.test(item) && !/Sat|Sun/.test(item), `a preview time is not a weekday 04:30 UTC: ${item}`);
    }
    await page.click('#save-schedule');
    await until(page, 'the saved schedule text', (t) => document.querySelector('#schedule-text')?.textContent === t, previewText);
    check(await page.locator('#schedule-overridden').isVisible(), 'the schedule is not marked edited');
    check((await text(page.locator('#schedule-expr'))) === NEW_CRON, 'the expression shown is not the saved one');
    await shot(page, 'job-detail', true);
    await page.click('#reset-schedule');
    await until(page, "the file's schedule back", (t) => document.querySelector('#schedule-text')?.textContent === t &&
                                                         !document.querySelector('#schedule-overridden'), fileText);
  });

  await step('approve with a note; the badge drops by one', async () => {
    await until(page, 'a pending count in the badge', () => Number(document.querySelector('#approvals-badge').dataset.count) > 0);
    const before = Number(await page.locator('#approvals-badge').getAttribute('data-count'));
    await page.click('a[data-nav="approvals"]');
    const first = page.locator('#approvals-list [data-approval]').first();
    await first.waitFor();
    check((await first.getAttribute('data-status')) === 'PENDING', 'the first approval listed is not the pending one');
    const id = await first.getAttribute('data-approval');
    const card = page.locator(`#approvals-list [data-approval="${id}"]`);
    await card.locator('.approval-note').fill(NOTE);
    await card.locator('.approve').click();
    await until(page, `approval #${id} to read APPROVED`, (i) =>
      document.querySelector(`#approvals-list [data-approval="${i}"]`)?.dataset.status === 'APPROVED', id);
    await until(page, `the badge to read ${before - 1}`, (n) =>
      document.querySelector('#approvals-badge').dataset.count === String(n), before - 1);
    const decided = await text(card.locator('.decided'));
    check(decided.includes(adminName), `decided "${decided}", not by ${adminName}`);
    check((await text(card.locator('.approval-notes'))).includes(NOTE), 'the note is not shown');
    await shot(page, 'approvals');
  });

  await step('runs page, live', async () => {
    await page.click('a[data-nav="runs"]');
    const row = page.locator(`#runs-body tr[data-run="${triggeredRun}"]`);
    await row.waitFor();
    check((await text(row.locator('a.job-link'))) === jobName, 'the run row does not link its job');
    check((await row.getAttribute('data-status')) === 'succeeded', 'the earlier run is not succeeded here');
    // Which host ran it: a column of its own (empty here: one host on a SQLite state).
    check((await page.locator('#runs-table th.col-host').count()) === 1, 'the runs table has no Host column');
    check((await row.locator('td.col-host').count()) === 1, 'the run row has no Host cell');
    // A run started elsewhere shows up and ends without a reload.
    const { run_id: id } = await apiCall('POST', `/api/jobs/${encodeURIComponent(jobName)}/trigger`);
    await until(page, `run #${id} to appear and finish`, ([i, final]) =>
      final.includes(document.querySelector(`#runs-body tr[data-run="${i}"]`)?.dataset.status), [id, FINAL], RUN_MS);
    const ids = await page.locator('#runs-body tr[data-run]').evaluateAll((rows) => rows.map((r) => Number(r.dataset.run)));
    check(ids.every((v, i) => i === 0 || ids[i - 1] > v), 'the runs are not newest first');
    await shot(page, 'runs');
  });

  await step('a rejected token goes back to the login page', async () => {
    await page.evaluate(() => sessionStorage.setItem('cronhost.token', 'revoked-token'));
    await page.locator('#login-form').waitFor(); // the next runs poll gets 401
    await page.fill('#token-input', adminToken);
    await page.click('#login-button');
    await until(page, 'the runs page again', () => location.hash === '#/runs');
  });

  if (viewerToken) {
    await step('a viewer sees the jobs but cannot act', async () => {
      await page.click('#logout');
      await page.locator('#login-form').waitFor();
      await page.fill('#token-input', viewerToken);
      await page.click('#login-button');
      await until(page, 'the header to show a viewer', () => / · viewer$/.test(document.querySelector('#whoami')?.textContent));
      await until(page, 'the jobs page', () => location.hash === '#/jobs');
      await page.fill('#job-filter', jobName);
      const row = rowOf(jobName);
      await row.waitFor();
      check(await row.locator('button.trigger').isDisabled(), 'a viewer may trigger');
      check(await row.locator('.enable-toggle').isDisabled(), 'a viewer may switch the job off');
    });
  }
}

runTest('dashboard test', TOTAL_MS, async () => {
  await main();
  return `screenshots in ${shotDir}`;
});
