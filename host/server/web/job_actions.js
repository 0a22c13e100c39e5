// What the jobs list and the job page both do to a job: trigger it, switch it on or off, and
// follow a triggered run until it ends.

import { api, jobPath } from './api.js';
import { FINAL_RUN_STATUSES } from './format.js';
import { showInfo } from './notify.js';

// A triggered run is followed this long; a longer one is still shown by the runs page.
const WATCH_MS = 120000;
const WATCH_EVERY_MS = 1000;

/** POST …/trigger; resolves to {run_id, job}. A 409 (concurrency rule) rejects with its message. */
export async function triggerJob(name, signal) {
  const answer = await api(`${jobPath(name)}/trigger`, { method: 'POST', body: {}, signal });
  showInfo(`Triggered ${name}: run #${answer.run_id}`);
  return answer;
}

/** POST …/enable or …/disable; resolves to the new JobSummary. */
export async function setEnabled(name, enabled, signal) {
  const summary = await api(`${jobPath(name)}/${enabled ? 'enable' : 'disable'}`, { method: 'POST', signal });
  showInfo(`${name} ${enabled ? 'enabled' : 'disabled'}`);
  return summary;
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => {
    clearTimeout(timer);
    resolve();
  }, { once: true });
});

/**
 * Reads run `id` every second until it ends, the page is left or WATCH_MS pass; calls
 * `onChange(run)` whenever its status changes. Resolves to the last RunSummary seen.
 */
export async function watchRun(id, signal, onChange) {
  const deadline = Date.now() + WATCH_MS;
  let last = null;
  while (!signal.aborted && Date.now() < deadline) {
    const run = await api(`/api/runs/${id}`, { signal });
    if (run.status !== last?.status) onChange(run);
    last = run;
    if (FINAL_RUN_STATUSES.includes(run.status)) break;
    await sleep(WATCH_EVERY_MS, signal);
  }
  return last;
}
