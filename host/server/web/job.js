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

function fact(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
// A duration from the API, either milliseconds or the job file's text ("30s") as posted; whole
// hours, minutes or seconds read as such ("30 min", not "30 min 0 s").
function span(value) {
  if (typeof value !== 'number') return value ?? '—';
  for (const [unit, ms] of [['h', 3600e3], ['min', 60e3], ['s', 1e3]]) {
    if (value >= ms && value % ms === 0) return `${value / ms} ${unit}`;
  }
  return duration(value);
}

function runnerText(runner, job) {
  if (!runner) return job.runner ?? '—';
  const isolation = runner.isolation && runner.isolation !== 'inline' ? ` (isolation: ${runner.isolation})` : '';
  if (runner.lua) return [`Lua script `, h('code', { class: 'path' }, runner.lua), isolation];
  if (runner.plugin) return [`Plugin `, h('code', { class: 'path' }, runner.plugin), isolation];
  if (runner.http) return [`HTTP ${runner.http.method ?? 'GET'} `, h('code', {}, runner.http.url ?? '')];
  return h('code', {}, compact(runner));
}

function retriesText(retries) {
  if (!retries) return '—';
  if (typeof retries !== 'object') return String(retries);
  const attempts = retries.attempts ?? 1;
  if (attempts <= 1) return 'No retries: a failure is final';
  return `Up to ${plural(attempts, 'attempt')}; waits about ${span(retries.backoff_ms ?? retries.backoff)} before the first retry, ` +
         `doubling up to ${span(retries.max_backoff_ms ?? retries.max_backoff)}`;
}

const CONCURRENCY = {
  forbid: 'One run at a time: a fire while one runs is skipped',
  allow: 'Runs may overlap',
  replace: 'A new fire cancels the run under way',
};

function concurrencyText(definition) {
  const mode = definition.concurrency ?? 'forbid';
  const text = CONCURRENCY[mode] ?? mode;
  return definition.max_instances ? `${text} (at most ${definition.max_instances} at once)` : text;
}

function catchupText(catchup) {
  if (!catchup) return '—';
  if (typeof catchup !== 'object') return String(catchup);
  const window = span(catchup.window_ms ?? catchup.window);
  if (catchup.policy === 'skip') return 'Slots missed while the host was down are skipped';
  if (catchup.policy === 'all') return `Every slot missed in the last ${window} runs (at most ${catchup.max_runs ?? '—'})`;
  return `The latest slot missed in the last ${window} runs once`;
}

function allowFacts(allow) {
  if (!allow || typeof allow !== 'object') return fact('May reach', 'nothing beyond its own code');
  const entries = [];
  const list = (label, value) => {
    if (value === true) entries.push([label, 'anyone']);
    else if (Array.isArray(value) && value.length) entries.push([label, value.join(', ')]);
    else if (value && typeof value === 'object' && Object.keys(value).length) entries.push([label, compact(value)]);
  };
  list('HTTP', allow.http);
  list('Mail to', allow.mail);
  list('Databases', allow.db);
  list('Files', allow.files);
  list('Registry', allow.registry);
  list('Storage', allow.storage);
  if (entries.length === 0) return fact('May reach', h('span', { class: 'muted' }, 'nothing beyond its own code'));
  return fact('May reach', h('ul', { class: 'plain-list', id: 'allow-list' },
    entries.map(([label, value]) => h('li', {}, h('span', { class: 'muted' }, `${label}: `), h('code', {}, value)))));
}

/** The notify: block in words (notify/notify_spec.cpp's block_to_json); unknown keys as they are. */
function notifyFacts(notify) {
  if (notify === undefined || notify === null) return fact('Notify', h('span', { class: 'muted', id: 'notify-list' }, 'the host\'s default'));
  if (notify === false) return fact('Notify', h('span', { id: 'notify-list' }, 'off: no notifications for this job'));
  if (typeof notify !== 'object') return fact('Notify', h('code', { id: 'notify-list' }, compact(notify)));
  const words = {
    on: (v) => ['On', v.map((e) => e.replace(/_/g, ' ')).join(', ')],
    mail: (v) => ['Mail to', v.join(', ')],
    webhook: (v) => ['Webhook', v.map((hook) => `${hook.url} (${hook.format ?? 'json'}${hook.signed ? ', signed' : ''})`).join('; ')],
    job: (v) => ['Fires job', v.join(', ')],
    repeat_every_ms: (v) => ['Repeats', `at most every ${span(v)} while it keeps failing`],
    missed_grace_ms: (v) => ['Missed after', `${span(v)} past the slot`],
    no_success_within_ms: (v) => ['Dead-man', `alerts after ${span(v)} without a success`],
    inherit: (v) => ['Host channels', v ? 'added' : 'not used'],
  };
  const entries = Object.entries(notify).map(([key, value]) => {
    try {
      return words[key] ? words[key](value) : [key, compact(value)];
    } catch {
      return [key, compact(value)];
    }
  });
  if (entries.length === 0) return fact('Notify', h('span', { class: 'muted', id: 'notify-list' }, 'the host\'s default'));
  return fact('Notify', h('ul', { class: 'plain-list', id: 'notify-list' },
    entries.map(([label, value]) => h('li', {}, h('span', { class: 'muted' }, `${label}: `), value))));
}

function summary(job) {
  const schedule = job.schedule ?? {};
  const file = job.file_schedule;
  const definition = job.definition ?? {};
  const timezone = schedule.timezone ?? definition.schedule?.timezone;
  const jitter = definition.schedule?.jitter_ms;
  const params = definition.params && typeof definition.params === 'object' ? Object.keys(definition.params) : [];
  return [
    h('h2', {}, 'Definition'),
    h('dl', { class: 'facts', id: 'job-definition' },
      fact('Schedule', h('span', { id: 'schedule-text' }, schedule.text ?? schedule.expression ?? '—'),
        schedule.overridden ? h('span', { class: 'tag', id: 'schedule-overridden' }, 'edited') : null),
      fact('Expression', h('code', { id: 'schedule-expr' }, schedule.expression ?? '—')),
      fact('Time zone', h('span', { id: 'job-timezone' }, timezone ?? 'the host\'s')),
      jitter ? fact('Jitter', `up to ${duration(jitter)} after each slot`) : null,
      schedule.overridden && file
        ? fact('File schedule', file.text ?? file.expression, ' ', h('code', {}, file.expression ?? '')) : null,
      fact('Next fire', job.enabled ? timeEl(job.next_fire) : h('span', { class: 'muted' }, 'disabled')),
      fact('Runs', runnerText(definition.runner ?? definition.run, job)),
      fact('Timeout', h('span', { id: 'job-timeout' }, span(definition.timeout_ms ?? definition.timeout))),
      fact('Retries', h('span', { id: 'job-retries' }, retriesText(definition.retries))),
      fact('Concurrency', h('span', { id: 'job-concurrency' }, concurrencyText(definition))),
      fact('Catch-up', h('span', { id: 'job-catchup' }, catchupText(definition.catchup))),
      allowFacts(definition.allow),
      notifyFacts(definition.notify),
      params.length ? fact('Params', h('code', {}, params.join(', '))) : null,
      fact('Source', job.source === 'api' ? 'registered through the API'
        : definition.file ? ['job file ', h('code', { class: 'path' }, definition.file)] : 'job file'),
      fact('Last finished', timeEl(job.last_finished_at))),
    h('details', {}, h('summary', {}, 'Full definition (JSON)'),
      h('pre', { class: 'output' }, JSON.stringify(definition, null, 2))),
  ];
}

/**
 * The missed slots (GET …/notifications?event=missed): shown when the daemon answers, the
 * section hidden when it has no such route (404) or the job has no missed slot.
 */
function createMissed(name, timeZone, signal) {
  const list = h('ol', { id: 'missed-list', class: 'fires' });
  const card = h('section', { class: 'card', id: 'missed-card', hidden: true },
    h('h2', {}, 'Missed slots'),
    h('p', { class: 'muted small' }, 'Slots that did not start within the grace after they were due.'),
    list);
  async function load() {
    let answer;
    try {
      answer = await api(`${jobPath(name)}/notifications`, { query: { event: 'missed' }, signal });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return; // an older daemon: no such route
      throw error;
    }
    const missed = (answer?.notifications ?? []).filter((n) => n.event === 'missed');
    card.hidden = missed.length === 0;
    list.replaceChildren(...missed.map((n) => h('li', { dataset: { slot: n.slot ?? n.at }, title: n.summary ?? '' },
      zoned(n.slot ?? n.at, timeZone), ' · ', timeEl(n.slot ?? n.at),
      n.suppressed ? h('span', { class: 'tag' }, 'not sent (repeat)') : null,
      n.channels?.length ? h('span', { class: 'muted small' }, ` → ${n.channels.join(', ')}`) : null)));
  }
  return { card, load };
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
    const missed = createMissed(name, job.schedule?.timezone, signal);
    view.append(h('div', { class: 'grid' }, summaryCard, statsCard, firesCard, missed.card, editor.element),
                ...history.section);
    missed.load().catch(reportError);
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
