// What the browser tests share: Debian's Chromium (/usr/bin/chromium, driven by
// playwright-core) with a throwaway profile, steps that name themselves in a failure, waits in
// the page, calls to the API, and a watchdog so a hang fails instead of blocking CI.

const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP_MS = 10000; // one UI reaction (an API call and a render)
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                       '--disable-background-networking', '--disable-component-update', '--disable-sync',
                       '--no-proxy-server'];

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Runs one named step: its failure says which step; a pass prints how long it took. */
async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
  } catch (error) {
    error.message = `${name}: ${error.message}`;
    throw error;
  }
  console.log(`ok   ${name} (${Date.now() - started} ms)`);
}

/** Waits until fn(arg) is true in the page; `what` names the condition in the failure. */
async function until(page, what, fn, arg, timeout = STEP_MS) {
  try {
    await page.waitForFunction(fn, arg, { timeout, polling: 100 });
  } catch (error) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
  }
}

/** Calls the API from the test itself: {ok, status, body}. A POST without a body sends {}. */
async function api(baseUrl, token, method, apiPath, body) {
  const response = await fetch(new URL(apiPath, baseUrl), {
    method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body !== undefined ? JSON.stringify(body) : method === 'GET' ? undefined : '{}',
    signal: AbortSignal.timeout(STEP_MS) });
  return { ok: response.ok, status: response.status, body: await response.json().catch(() => null) };
}

/** The same, failing unless the answer is 2xx; returns the body. */
async function apiOk(baseUrl, token, method, apiPath, body) {
  const answer = await api(baseUrl, token, method, apiPath, body);
  check(answer.ok, `${method} ${apiPath}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

/**
 * Opens Chromium (1280x800, en-US, UTC; `options` adds to or overrides the launch options,
 * `extraArgs` to its flags), hands fn(page, pageErrors) the first page, and closes it all after.
 */
async function withBrowser({ options = {}, extraArgs = [] }, fn) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'cronhost-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, timeout: 30000, args: [...CHROMIUM_ARGS, ...extraArgs],
    viewport: { width: 1280, height: 800 }, locale: 'en-US', timezoneId: 'UTC', ...options });
  const pageErrors = [];
  try {
    const page = context.pages()[0] || await context.newPage();
    page.setDefaultTimeout(STEP_MS);
    page.on('pageerror', (error) => pageErrors.push(error));
    await fn(page, pageErrors);
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

const describeErrors = (errors) => errors.map((e) => e.stack || e).join('\n');

/** Runs main() under a watchdog of `totalMs`: PASS with what main returns, or FAIL and exit 1. */
function runTest(name, totalMs, main) {
  const watchdog = setTimeout(() => {
    console.error(`FAIL: the test did not finish within ${totalMs / 1000} s`);
    process.exit(1);
  }, totalMs);
  const started = Date.now();
  main().then((said) => {
    clearTimeout(watchdog);
    console.log(`PASS ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s${said ? `; ${said}` : ''}`);
  }, (error) => {
    console.error(`FAIL ${error.message}`);
    process.exit(1);
  });
}

module.exports = { STEP_MS, check, step, until, api, apiOk, withBrowser, describeErrors, runTest };
