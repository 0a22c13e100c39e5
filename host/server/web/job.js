// The job page (#/jobs/NAME): what the job is, how it has done (stats, durations, history),
// when it fires next, and the schedule editor. The job's summary is re-read after each action
// and when the history sees a run start or end.

import { api, ApiError, jobPath } from './api.js';
import { h } from './dom.js';
import { compact, duration, number, percent, refreshTimes, statusBadge, timeEl, zoned } from './format.js';
import { createHistory } from './history.js';
import { setEnabled, triggerJob, watchRun } from './job_actions.js';
import { enableSwitch, triggerButton } from './jobs.js';
import { reportError } from './notify.js';
import { createScheduleEditor } from './schedule_editor.js';

// Shown in their own rows of the summary; the rest of the definition follows them.
const SUMMARISED = new Set(['name', 'description', 'schedule']);

function fact(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function summary(job) {
  const schedule = job.schedule ?? {};
  const file = job.file_schedule;
  const definition = job.definition ?? {};
  const rest = Object.entries(definition).filter(([key]) => !SUMMARISED.has(key));
  return [
    h('h2', {}, 'Definition'),
    h('dl', { class: 'facts' },
      fact('Schedule', h('span', { id: 'schedule-text' }, schedule.text ?? schedule.expression ?? '—'),
        schedule.overridden ? h('span', { class: 'tag', id: 'schedule-overridden' }, 'edited') : null),
      fact('Expression', h('code', { id: 'schedule-expr' }, schedule.expression ?? '—'),
        schedule.timezone ? h('span', { class: 'muted' }, ` · ${schedule.timezone}`) : null),
      schedule.overridden && file
        ? fact('File schedule', file.text ?? file.expression, ' ', h('code', {}, file.expression ?? '')) : null,
      fact('Runner', job.runner ?? '—'),
      fact('Source', job.source === 'api' ? 'registered through the API' : 'job file'),
      fact('Last finished', timeEl(job.last_finished_at)),
      rest.map(([key, value]) => fact(key, h('code', { class: 'clip-lines' }, compact(value))))),
    h('details', {}, h('summary', {}, 'Full definition'),
      h('pre', { class: 'output' }, JSON.stringify(definition, null, 2))),
  ];
}

function statsTable(stats) {
  const periods = ['24h', '7d', 'all'];
  const rows = [
    ['Runs', (p) => number(p.runs)],
    ['Successes', (p) => number(p.successes)],
    ['Failures', (p) => number(p.failures)],
    ['Success rate', (p) => percent(p.success_rate)],
    ['Duration p50', (p) => duration(p.duration_ms?.p50)],
    ['Duration p95', (p) => duration(p.duration_ms?.p95)],
    ['Duration max', (p) => duration(p.duration_ms?.max)],
    ['Avg lateness', (p) => duration(p.avg_lateness_ms)],
    ['Items processed', (p) => number(p.items?.processed)],
    ['Items failed', (p) => number(p.items?.failed)],
  ];
  return h('table', { id: 'job-stats', class: 'table compact' },
    h('thead', {}, h('tr', {}, h('th', {}, ''), periods.map((period) => h('th', { class: 'num' }, period)))),
    h('tbody', {}, rows.map(([label, value]) =>
      h('tr', {}, h('th', { scope: 'row' }, label),
        periods.map((period) => h('td', { class: 'num' }, stats?.[period] ? value(stats[period]) : '—'))))));
}

function nextFires(job) {
  const fires = job.next_fires ?? [];
  if (!job.enabled) return h('p', { class: 'muted', id: 'next-fires' }, 'Disabled: no fires.');
  if (fires.length === 0) return h('p', { class: 'muted', id: 'next-fires' }, 'No fire ahead.');
  return h('ol', { id: 'next-fires', class: 'fires' },
    fires.map((fire) => h('li', {}, zoned(fire, job.schedule?.timezone), ' · ', timeEl(fire))));
}

export function render(view, { signal, params }) {
  const name = params.name;
  document.title = `${name} · cronhost`;
  const title = h('h1', { id: 'job-title' }, name);
  const badges = h('span', { class: 'badges' });
  const actions = h('div', { class: 'actions' });
  const description = h('p', { class: 'muted description' });
  const summaryCard = h('section', { class: 'card', id: 'job-summary' });
  const statsCard = h('section', { class: 'card', id: 'job-stats-card' });
  const firesCard = h('section', { class: 'card', id: 'job-fires' });
  let editor = null;
  let history = null;

  view.append(h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, '← Jobs')),
              h('div', { class: 'page-head' }, h('div', {}, title, badges), actions), description);

  function show(job) {
    badges.replaceChildren(...[statusBadge(job.last_status), job.running > 0 ? statusBadge('running') : null,
                               h('span', { class: 'tag' }, job.enabled ? 'enabled' : 'disabled')].filter(Boolean));
    actions.replaceChildren(enableSwitch(job), triggerButton(job, 'trigger-button'));
    description.textContent = job.description ?? '';
    summaryCard.replaceChildren(...summary(job).flat());
    statsCard.replaceChildren(h('h2', {}, 'Stats'), h('div', { class: 'table-wrap' }, statsTable(job.stats)));
    firesCard.replaceChildren(h('h2', {}, 'Next fires'), nextFires(job));
    editor?.update(job);
  }

  async function loadJob() {
    const job = await api(jobPath(name), { signal });
    // The detail's stats are meant to be the /stats object ({24h, 7d, all}); read that when they are not.
    if (!job.stats?.all) job.stats = await api(`${jobPath(name)}/stats`, { signal });
    show(job);
    return job;
  }
  const reload = () => loadJob().catch(reportError);

  actions.addEventListener('change', async (event) => {
    const toggle = event.target.closest('.enable-toggle');
    if (!toggle) return;
    toggle.disabled = true;
    try {
      await setEnabled(name, toggle.checked, signal);
    } catch (error) {
      reportError(error);
    }
    reload();
  });

  actions.addEventListener('click', async (event) => {
    const button = event.target.closest('#trigger-button');
    if (!button) return;
    button.disabled = true;
    try {
      const { run_id: runId } = await triggerJob(name, signal);
      history.refresh();
      await watchRun(runId, signal, () => history.refresh());
    } catch (error) {
      reportError(error);
    } finally {
      button.disabled = false;
    }
  });

  loadJob().then((job) => {
    editor = createScheduleEditor(job, signal, reload);
    editor.update(job);
    history = createHistory(name, signal, reload);
    view.append(h('div', { class: 'grid' }, summaryCard, statsCard, firesCard, editor.element), ...history.section);
  }).catch((error) => {
    if (error instanceof ApiError && error.status === 404) {
      view.append(h('p', { class: 'empty', id: 'job-missing' }, error.message));
    } else {
      reportError(error);
    }
  });

  const ticker = setInterval(() => refreshTimes(view), 15000);
  signal.addEventListener('abort', () => clearInterval(ticker), { once: true });
}
