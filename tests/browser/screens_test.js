#!/usr/bin/env node
// The dashboard's look and keyboard in headless Chromium (Debian's /usr/bin/chromium, driven
// by playwright-core):
//
//   FIXED_NOW=MS node screens_test.js BASE_URL ADMIN_TOKEN OUT_DIR
//
// BASE_URL is a daemon with the fixed site of tests/integration/test_dashboard_screens.py
// (jobs backup-db, report-weekly, sync-users, tidy-tmp, warm-cache and their seeded runs);
// FIXED_NOW is the browser's clock (Unix ms), so relative times read the same on every run.
//
// Screenshots: the jobs list and backup-db's page at 1280 and 390 px, light and dark, compared
// with tests/browser/baselines/NAME.png by pixelmatch. Times the server computes from its own
// clock (next fires) and the site's temporary paths are masked. A shot passes when at most MAX_DIFF_RATIO of its pixels differ
// (anti-aliasing and font hinting move a few). UPDATE_BASELINES=1 writes the baselines instead;
// a failing comparison leaves NAME.png, NAME.diff.png (differences in red) in OUT_DIR.
//
// Then functional checks: sorting, search kept in the URL over a reload, keyboard (skip link,
// rows reachable and opened with Enter, visible focus), no sideways scroll at 390 px, dark
// colours, live updates of the list, the schedule editor's caret and disabled Save.

const fs = require('fs');
const path = require('path');
const { PNG } = require('pngjs');
const { check, until, api, withBrowser, describeErrors, runTest } = require('./harness');

const BASELINES = path.join(__dirname, 'baselines');
const UPDATE = process.env.UPDATE_BASELINES === '1';
const TOTAL_MS = 120000;
// 0.3 % of the pixels: a changed word or colour moves far more; font hinting on another
// machine moves fewer (measured: two runs on one machine differ by 0 pixels).
const MAX_DIFF_RATIO = 0.003;
const PIXEL_THRESHOLD = 0.1; // pixelmatch's per-pixel colour distance (0..1)
const WIDTHS = { desktop: 1280, phone: 390 };
const LIGHT_BG = 'rgb(246, 247, 249)'; // --bg of app.css, both themes
const DARK_BG = 'rgb(15, 20, 25)';
// Fonts fixed for the shots (fonts-dejavu-core, in the Makefile's DEBS): the system-ui stack
// resolves to whatever a machine has installed.
// The masked times get a fixed box, so "in 4 h" and "in 12 h" mask the same pixels. The masked
// lists of fires (computed from the server's real clock, read against the browser's fixed one)
// keep one line per fire: "Sat, 5 Dec … · 15 h ago" wraps on some days and not on others. The
// lists' own width is contained, so a long line (a fire "11 h ago" between midnight and 01:30 UTC)
// cannot widen the page at 390 px: the masked box is the same size on every run.
const FIXED_FONTS = ':root { font-family: "DejaVu Sans", sans-serif !important; --mono: "DejaVu Sans Mono", monospace !important; }\n' +
  '.col-next time, #job-definition time { display: inline-block; width: 5.5em; white-space: nowrap; overflow: hidden; vertical-align: top; }\n' +
  '#next-fires, #schedule-preview ol { contain: inline-size; }\n' +
  '#next-fires li, #schedule-preview ol li { white-space: nowrap; overflow: hidden; }';

const [baseUrl, token, outDir] = process.argv.slice(2);
const fixedNow = Number(process.env.FIXED_NOW);
if (!baseUrl || !token || !outDir || !Number.isFinite(fixedNow)) {
  console.error('usage: FIXED_NOW=MS node screens_test.js BASE_URL ADMIN_TOKEN OUT_DIR');
  process.exit(2);
}

const failures = [];
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    // Screenshots go on after a mismatch, so one run shows every changed shot.
    console.log(`FAIL ${name}: ${error.message}`);
    failures.push(`${name}: ${error.message}`);
  }
}

const apiCall = (method, apiPath, body) => api(baseUrl, token, method, apiPath, body);

/** Compares `shot` (a PNG buffer) with the baseline NAME.png; with UPDATE_BASELINES=1 writes it. */
async function compare(name, shot) {
  const { default: pixelmatch } = await import('pixelmatch');
  const file = path.join(BASELINES, `${name}.png`);
  fs.writeFileSync(path.join(outDir, `${name}.png`), shot);
  if (UPDATE) {
    fs.mkdirSync(BASELINES, { recursive: true });
    fs.writeFileSync(file, shot);
    return;
  }
  check(fs.existsSync(file), `no baseline ${path.relative(process.cwd(), file)}: run with UPDATE_BASELINES=1`);
  const expected = PNG.sync.read(fs.readFileSync(file));
  const actual = PNG.sync.read(shot);
  check(expected.width === actual.width && expected.height === actual.height,
        `size ${actual.width}x${actual.height}, the baseline is ${expected.width}x${expected.height}`);
  const diff = new PNG({ width: actual.width, height: actual.height });
  const differing = pixelmatch(expected.data, actual.data, diff.data, actual.width, actual.height,
                               { threshold: PIXEL_THRESHOLD });
  const ratio = differing / (actual.width * actual.height);
  if (ratio > MAX_DIFF_RATIO) {
    fs.writeFileSync(path.join(outDir, `${name}.diff.png`), PNG.sync.write(diff));
    throw new Error(`${differing} pixels differ (${(ratio * 100).toFixed(2)} % > ${MAX_DIFF_RATIO * 100} %); ` +
                    `see ${path.join(outDir, `${name}.diff.png`)}`);
  }
}

async function settle(page) {
  await page.mouse.move(1, 1); // no row under the pointer (a hovered row is tinted)
  await page.evaluate(() => document.fonts.ready);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(150); // a layout pass
}

async function shoot(page, name, fullPage) {
  await settle(page);
  const shot = await page.screenshot({
    fullPage, animations: 'disabled', caret: 'hide',
    mask: [page.locator('.col-next time'), page.locator('#next-fires'), page.locator('#job-definition time[datetime]').first(),
           page.locator('#schedule-preview ol'), page.locator('#job-definition code.path')],
    maskColor: '#808080' });
  await compare(name, shot);
}

async function jobsPage(page, hash = '#/jobs') {
  await page.goto(new URL(`/${hash}`, baseUrl).href, { waitUntil: 'load' });
  await page.locator('#jobs-body tr[data-job="backup-db"]').waitFor();
}

async function jobPage(page) {
  await page.goto(new URL('/#/jobs/backup-db', baseUrl).href, { waitUntil: 'load' });
  await page.locator('#durations-chart rect.bar').first().waitFor();
  await until(page, 'the history rows', () => document.querySelectorAll('#history-body tr').length === 20);
  await page.locator('#job-stats').waitFor();
}

const rowNames = (page) => page.locator('#jobs-body tr[data-job]').evaluateAll((rows) => rows.map((r) => r.dataset.job));

async function run(page) {
  await step('sign in', async () => {
    await page.goto(new URL('/', baseUrl).href, { waitUntil: 'load' });
    await page.fill('#token-input', token);
    await page.click('#login-button');
    await until(page, 'the jobs page', () => location.hash === '#/jobs');
    await page.locator('#jobs-body tr[data-job]').first().waitFor();
  });

  for (const scheme of ['light', 'dark']) {
    for (const [size, width] of Object.entries(WIDTHS)) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.setViewportSize({ width, height: 800 });
      await step(`screenshot jobs-${size}-${scheme}`, async () => {
        await jobsPage(page);
        await shoot(page, `jobs-${size}-${scheme}`, false);
      });
      await step(`screenshot job-${size}-${scheme}`, async () => {
        await jobPage(page);
        await shoot(page, `job-${size}-${scheme}`, true);
      });
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });

  await step('the strip and the last run', async () => {
    await jobsPage(page);
    const row = page.locator('#jobs-body tr[data-job="backup-db"]');
    check(await row.locator('.strip .cell').count() === 20, 'the strip is not 20 cells');
    const failed = await row.locator('.strip .cell.status-failed, .strip .cell.status-timed_out').count();
    check(failed === 3, `${failed} red cells, the seeded runs have 3 failures`);
    const title = await row.locator('.strip .cell').last().getAttribute('title');
    check(/^#\d+ timed out|^#\d+ succeeded/.test(title), `the newest cell's title reads "${title}"`);
    const last = (await row.locator('.col-last').textContent()).trim();
    check(/^2 h ago/.test(last) && /4\.2 s$/.test(last), `the last run reads "${last}" (2 h ago, 4.2 s)`);
  });

  await step('sorting by column, in the URL', async () => {
    await page.click('th[data-sort="last_run"] button');
    await until(page, 'sort=-last_run in the URL', () => location.hash === '#/jobs?sort=-last_run');
    check(await page.locator('th[data-sort="last_run"]').getAttribute('aria-sort') === 'descending', 'no aria-sort');
    // The newest run first; warm-cache never ran: last.
    const expected = 'backup-db,sync-users,report-weekly,tidy-tmp,warm-cache';
    await until(page, `the order ${expected}`, (order) =>
      [...document.querySelectorAll('#jobs-body tr[data-job]')].map((r) => r.dataset.job).join() === order, expected)
      .catch(async (error) => { throw new Error(`${error.message}; shown: ${await rowNames(page)}`); });
    await page.click('th[data-sort="name"] button');
    await until(page, 'the name order', () => location.hash === '#/jobs');
    await page.click('th[data-sort="name"] button');
    await until(page, 'Z to A', () => document.querySelector('#jobs-body tr')?.dataset.job === 'warm-cache');
    const reversed = await rowNames(page);
    check(reversed.join() === [...reversed].sort().reverse().join(), `not Z to A: ${reversed}`);
    await page.click('th[data-sort="status"] button');
    await until(page, 'problems first', () => location.hash === '#/jobs?sort=status');
    // The only problem-ish last status is tidy-tmp's cancelled; warm-cache never ran: last.
    await until(page, 'the status order', () => document.querySelector('#jobs-body tr')?.dataset.job === 'tidy-tmp' &&
                document.querySelector('#jobs-body tr:last-child')?.dataset.job === 'warm-cache');
  });

  await step('search by substring, kept over a reload', async () => {
    await jobsPage(page);
    await page.fill('#job-filter', 'USER');
    await until(page, 'only sync-users', () => {
      const rows = [...document.querySelectorAll('#jobs-body tr[data-job]')].map((r) => r.dataset.job);
      return rows.join() === 'sync-users';
    });
    check(page.url().endsWith('#/jobs?q=USER'), `the URL is ${page.url()}`);
    // "report" is in a description too ("Weekly usage report"): the description counts.
    await page.fill('#job-filter', 'dump');
    await until(page, 'a match in the description', () =>
      [...document.querySelectorAll('#jobs-body tr[data-job]')].map((r) => r.dataset.job).join() === 'backup-db');
    await page.reload({ waitUntil: 'load' });
    await until(page, 'the search after a reload', () => document.querySelector('#job-filter')?.value === 'dump' &&
      [...document.querySelectorAll('#jobs-body tr[data-job]')].map((r) => r.dataset.job).join() === 'backup-db');
    await page.fill('#job-filter', '');
    await until(page, 'all jobs back', () => document.querySelectorAll('#jobs-body tr[data-job]').length === 5);
  });

  await step('keyboard: skip link, rows, Enter, visible focus', async () => {
    await jobsPage(page);
    await page.reload({ waitUntil: 'load' }); // a fresh document: Tab starts at its top
    await page.locator('#jobs-body tr[data-job]').first().waitFor();
    await page.keyboard.press('Tab');
    check(await page.evaluate(() => document.activeElement?.id) === 'skip-link', 'the first Tab is not the skip link');
    const box = await page.locator('#skip-link').boundingBox();
    check(box && box.y >= 0, 'the focused skip link is off screen');
    await page.keyboard.press('Enter');
    check(await page.evaluate(() => document.activeElement?.id) === 'view', 'the skip link does not focus the content');
    check(page.url().endsWith('#/jobs'), `the skip link changed the route: ${page.url()}`);
    let reached = null;
    for (let i = 0; i < 25 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => (document.activeElement?.matches('tr[data-job]') ? document.activeElement.dataset.job : null));
    }
    check(reached === 'backup-db', `Tab did not reach the first row (reached ${reached})`);
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(outline === 'solid', `the focused row has no visible outline (${outline})`);
    await page.keyboard.press('ArrowDown');
    const second = await page.evaluate(() => document.activeElement?.dataset.job);
    check(second === 'report-weekly', `ArrowDown went to ${second}`);
    await page.keyboard.press('Enter');
    await until(page, 'the job page by Enter', () => document.querySelector('#job-title')?.textContent === 'report-weekly');
  });

  await step('no sideways scroll at 390 px', async () => {
    await page.setViewportSize({ width: 390, height: 800 });
    for (const open of [jobsPage, jobPage]) {
      await open(page);
      await settle(page);
      const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
      check(width <= 390, `${open.name}: the page is ${width} px wide at 390`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await step('dark mode colours', async () => {
    await jobsPage(page);
    const colours = () => page.evaluate(() => ({
      bg: getComputedStyle(document.documentElement).backgroundColor,
      text: getComputedStyle(document.documentElement).color,
      card: getComputedStyle(document.querySelector('.table-wrap')).backgroundColor }));
    const light = await colours();
    check(light.bg === LIGHT_BG, `light background ${light.bg}`);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await colours();
    check(dark.bg === DARK_BG, `dark background ${dark.bg}, expected ${DARK_BG}`);
    check(dark.text !== light.text && dark.card !== light.card, `dark mode left colours: ${JSON.stringify(dark)}`);
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await step('missed slots as the host reports them', async () => {
    // warm-cache's slots of the last three days were missed (the site's restart found them).
    await page.goto(new URL('/#/jobs/warm-cache', baseUrl).href, { waitUntil: 'load' });
    await page.locator('#job-stats').waitFor();
    const answer = await apiCall('GET', '/api/jobs/warm-cache/notifications?event=missed');
    check(answer.status === 200 || answer.status === 404, `notifications: HTTP ${answer.status}`);
    if (answer.status === 200) check(answer.body.notifications.length >= 2, `missed: ${JSON.stringify(answer.body)}`);
    const missed = answer.status === 200 ? answer.body.notifications.filter((n) => n.event === 'missed') : [];
    // The section loads after the page; give it the time of one request.
    await until(page, `the missed slots section to show ${missed.length}`, (n) => {
      const card = document.querySelector('#missed-card');
      return card && card.hidden === (n === 0) && card.querySelectorAll('#missed-list li').length === n;
    }, missed.length);
    if (missed.length) {
      const first = await page.locator('#missed-list li').first().getAttribute('data-slot');
      check(first === (missed[0].slot ?? missed[0].at), `the first slot shown is ${first}, the API's ${missed[0].slot}`);
    }
  });

  await step('schedule editor: caret under the error, Save disabled', async () => {
    await jobPage(page);
    const bad = '0 3 * * MOX';
    const answer = await apiCall('POST', '/api/schedule/preview', { cron: bad });
    check(answer.status === 400 && answer.body?.error?.column === bad.indexOf('MOX'),
          `the preview answered ${answer.status} ${JSON.stringify(answer.body)}`);
    await page.fill('#cron-input', bad);
    await until(page, 'the caret', () => !document.querySelector('#cron-caret')?.hidden);
    const caret = await page.locator('#cron-caret').evaluate((el) => ({ column: el.dataset.column, text: el.textContent }));
    check(caret.column === String(bad.indexOf('MOX')), `caret at ${caret.column}`);
    const [line, marks] = caret.text.split('\n');
    check(line === bad && marks === `${' '.repeat(bad.indexOf('MOX'))}^`, `caret text ${JSON.stringify(caret.text)}`);
    // The caret sits under the M, in pixels too.
    const under = await page.locator('#cron-caret').evaluate((el) => {
      const range = document.createRange();
      const text = el.firstChild;
      range.setStart(text, 8);
      range.setEnd(text, 9);
      const letter = range.getBoundingClientRect();
      const mark = el.querySelector('.caret').getBoundingClientRect();
      return Math.abs(letter.left - mark.left);
    });
    check(under < 1, `the caret is ${under} px off the error's column`);
    check(await page.locator('#save-schedule').isDisabled(), 'Save is enabled on a bad schedule');
    check(await page.locator('#cron-input').getAttribute('aria-invalid') === 'true', 'the field is not marked invalid');
    await page.fill('#cron-input', '0 3 * * 1-5');
    await until(page, 'Save enabled after a good preview', () => !document.querySelector('#save-schedule').disabled &&
                document.querySelector('#cron-caret').hidden);
  });

  await step('live: a run started elsewhere shows in the list without a reload', async () => {
    await jobsPage(page);
    const before = await page.locator('#jobs-body tr[data-job="warm-cache"] .strip .cell:not(.is-empty)').count();
    check(before === 0, 'warm-cache already has runs');
    const started = await apiCall('POST', '/api/jobs/warm-cache/trigger', {});
    check(started.status === 202, `trigger: ${started.status} ${JSON.stringify(started.body)}`);
    await until(page, 'the run in warm-cache\'s strip', () =>
      document.querySelectorAll('#jobs-body tr[data-job="warm-cache"] .strip .cell.status-succeeded').length === 1, null, 20000);
    // A full strip takes the new run at its right end and drops its oldest: still 20 cells.
    const strip = () => page.locator('#jobs-body tr[data-job="backup-db"] .strip .cell')
      .evaluateAll((cells) => cells.map((c) => Number(c.dataset.run)));
    const old = await strip();
    const again = await apiCall('POST', '/api/jobs/backup-db/trigger', {});
    check(again.status === 202, `trigger: ${again.status} ${JSON.stringify(again.body)}`);
    const id = again.body.run_id;
    await until(page, `run #${id} at the end of backup-db's strip`, (i) => {
      const cells = document.querySelectorAll('#jobs-body tr[data-job="backup-db"] .strip .cell');
      return cells.length === 20 && cells[19].dataset.run === String(i) && cells[19].dataset.status === 'succeeded';
    }, id, 20000);
    const now = await strip();
    check(now.slice(0, 19).join() === old.slice(1).join(), `the strip did not shift by one: ${old} -> ${now}`);
  });
}

async function main() {
  fs.mkdirSync(outDir, { recursive: true });
  // bypassCSP: the fixed-fonts <style> is inline, which the dashboard's CSP refuses.
  const browser = { extraArgs: ['--font-render-hinting=none', '--disable-lcd-text', '--force-color-profile=srgb'],
                    options: { deviceScaleFactor: 1, bypassCSP: true } };
  await withBrowser(browser, async (page, pageErrors) => {
    await page.clock.setFixedTime(fixedNow);
    await page.addInitScript((css) => {
      document.addEventListener('DOMContentLoaded', () => {
        const style = document.createElement('style');
        style.textContent = css;
        document.head.append(style);
      });
    }, FIXED_FONTS);
    await run(page);
    if (pageErrors.length) failures.push(`uncaught errors in the page: ${describeErrors(pageErrors)}`);
  });
}

runTest('screens test', TOTAL_MS, async () => {
  await main();
  if (failures.length) throw new Error(`${failures.length} step(s):\n${failures.join('\n')}`);
  return `shots in ${outDir}${UPDATE ? ' (baselines written)' : ''}`;
});
