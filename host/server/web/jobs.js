// The jobs page: one page of jobs at a time (the API's limit/after cursor), more as the user
// scrolls or presses "Load more", so 10,000 jobs never mean 10,000 rows at once. Search
// (a substring of the name or description), the status filter and the sort order are the
// server's, and live in the URL (#/jobs?q=back&sort=-last_run), so a reload keeps them.
// The rows shown are re-read every few seconds in ONE request (each job carries its last run
// and its strip of recent statuses), and only changed rows are drawn again, so focus stays.

import { api, jobPath } from './api.js';
import { childController, debounce, h, reconcile } from './dom.js';
import { duration, jobHref, refreshTimes, statusBadge, timeEl } from './format.js';
import { setEnabled, triggerJob, watchRun } from './job_actions.js';
import { reportError } from './notify.js';
import { canOperate } from './session.js';

// 100 rows render in a few milliseconds and fill two screens.
const PAGE_SIZE = 100;
const MAX_LIMIT = 1000; // the API's cap: a refresh re-reads at most this many rows
const FILTER_DELAY_MS = 300;
const POLL_MS = 5000;
const STRIP_CELLS = 20;
// A refresh asks for each job's newest 3 runs and merges them into the strip it has: 100 rows
// with 20 runs each are 210 KiB of JSON, with 3 runs 75 KiB (measured on 10,000 jobs). Every minute the whole strip
// is read again, which mends a strip that missed a run (more than 3 runs of a job in 5 s).
const POLL_RECENT = 3;
const FULL_EVERY = 12;
const STATUSES = ['enabled', 'disabled', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'never'];
// The columns the server sorts by; the others are not sortable.
const SORTABLE = { name: 'Name', next_fire: 'Next fire', last_run: 'Last run', status: 'Status' };

export function scheduleCell(schedule) {
  if (!schedule) return h('span', { class: 'muted' }, '—');
  return [
    h('div', { class: 'schedule-text' }, schedule.text || schedule.expression,
      schedule.overridden ? h('span', { class: 'tag', title: 'Set through the API; the file says otherwise' }, 'edited') : null),
    h('code', { class: 'schedule-expr' }, schedule.expression,
      schedule.timezone ? h('span', { class: 'muted' }, ` · ${schedule.timezone}`) : null),
  ];
}

/** The on/off switch; a disabled look (and no action) without the operator role. */
export function enableSwitch(job) {
  const allowed = canOperate();
  return h('label', { class: 'switch', title: allowed ? (job.enabled ? 'Enabled: click to disable' : 'Disabled: click to enable')
                                                      : 'Needs the operator role' },
           h('input', { type: 'checkbox', role: 'switch', class: 'enable-toggle', checked: job.enabled,
                        disabled: !allowed, 'aria-label': `Enable ${job.name}` }),
           h('span', { class: 'slider', 'aria-hidden': 'true' }));
}

export function triggerButton(job, id) {
  const allowed = canOperate();
  return h('button', { type: 'button', class: 'button trigger', id, disabled: !allowed,
                       title: allowed ? `Run ${job.name} now` : 'Needs the operator role' }, 'Trigger');
}

/** The strip of recent runs, oldest left; empty cells pad it so the strips line up. */
export function statusStrip(recent) {
  const runs = (recent ?? []).slice(0, STRIP_CELLS).reverse();
  const counts = {};
  for (const run of runs) counts[run.status] = (counts[run.status] ?? 0) + 1;
  const label = runs.length === 0 ? 'No runs yet'
    : `Last ${runs.length} runs: ${Object.entries(counts).map(([status, n]) => `${n} ${status.replace('_', ' ')}`).join(', ')}`;
  const cells = runs.map((run) => h('span', {
    class: `cell status-${run.status}`, dataset: { run: run.id, status: run.status },
    title: `#${run.id} ${run.status.replace('_', ' ')} · ${run.at ?? ''}${run.duration_ms == null ? '' : ` · ${duration(run.duration_ms)}`}` }));
  for (let i = runs.length; i < STRIP_CELLS; i += 1) cells.unshift(h('span', { class: 'cell is-empty' }));
  return h('span', { class: 'strip', role: 'img', 'aria-label': label, title: label }, cells);
}

function lastRunCell(run) {
  if (!run) return h('span', { class: 'muted' }, 'never');
  return [timeEl(run.started_at ?? run.finished_at),
          h('div', { class: 'muted small num-inline' }, run.status === 'running' ? 'running' : duration(run.duration_ms))];
}

function jobRow(job) {
  return h('tr', { dataset: { job: job.name }, class: job.enabled ? 'job-row' : 'job-row is-disabled', tabindex: 0,
                   'aria-label': job.name },
    h('td', { class: 'col-name' }, h('a', { href: jobHref(job.name), class: 'job-link', tabindex: -1 }, job.name),
      job.description ? h('div', { class: 'muted small clip' }, job.description) : null),
    h('td', { class: 'col-schedule' }, scheduleCell(job.schedule)),
    h('td', { class: 'col-next' }, job.enabled ? timeEl(job.next_fire) : h('span', { class: 'muted' }, 'disabled')),
    h('td', { class: 'col-last' }, lastRunCell(job.last_run)),
    h('td', { class: 'col-status' }, statusBadge(job.last_status),
      job.running > 0 ? statusBadge('running') : null, h('div', {}, statusStrip(job.recent))),
    h('td', { class: 'col-enabled' }, enableSwitch(job)),
    h('td', { class: 'col-actions' }, triggerButton(job)));
}

/** The page's state in the URL: #/jobs?q=…&status=…&sort=… */
function readHash() {
  const query = location.hash.split('?')[1] ?? '';
  const params = new URLSearchParams(query);
  const sort = params.get('sort') ?? 'name';
  return { q: params.get('q') ?? '', status: params.get('status') ?? '',
           sort: SORTABLE[sort.replace(/^-/, '')] ? sort : 'name' };
}

function writeHash({ q, status, sort }) {
  const params = new URLSearchParams();
  if (q) params.set('q', q);
  if (status) params.set('status', status);
  if (sort && sort !== 'name') params.set('sort', sort);
  const text = params.toString();
  // replaceState: no hashchange, so the page is not built again and the search box keeps focus.
  history.replaceState(null, '', `#/jobs${text ? `?${text}` : ''}`);
}

export function render(view, { signal }) {
  document.title = 'Jobs · cronhost';
  const initial = readHash();
  const state = { next: null, loading: false, query: null, generation: 0, sort: initial.sort, polls: 0 };

  const filter = h('input', { id: 'job-filter', type: 'search', placeholder: 'Search jobs (name or description)',
                              'aria-label': 'Search jobs by name or description', autocomplete: 'off',
                              spellcheck: 'false', value: initial.q });
  const statusFilter = h('select', { id: 'status-filter', 'aria-label': 'Filter by status' },
    h('option', { value: '' }, 'Any status'),
    STATUSES.map((status) => h('option', { value: status, selected: status === initial.status }, status)));
  const total = h('span', { id: 'jobs-total', class: 'muted', 'aria-live': 'polite' });
  const body = h('tbody', { id: 'jobs-body' });
  const empty = h('p', { id: 'jobs-empty', class: 'empty', hidden: true }, 'No jobs match.');
  const more = h('button', { type: 'button', id: 'load-more', class: 'button', hidden: true }, 'Load more');

  const header = (key, label, cls) => {
    if (!SORTABLE[key]) return h('th', { class: cls, scope: 'col' }, label);
    return h('th', { class: cls, scope: 'col', dataset: { sort: key } },
      h('button', { type: 'button', class: 'sort-button', dataset: { sort: key } }, label,
        h('span', { class: 'sort-mark', 'aria-hidden': 'true' })));
  };
  const headRow = h('tr', {},
    header('name', 'Name', 'col-name'), header('schedule', 'Schedule', 'col-schedule'),
    header('next_fire', 'Next fire', 'col-next'), header('last_run', 'Last run', 'col-last'),
    header('status', 'Status', 'col-status'), header('enabled', 'Enabled', 'col-enabled'),
    h('th', { class: 'col-actions', scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')));

  view.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Jobs'), total),
    h('div', { class: 'toolbar' }, filter, statusFilter),
    h('div', { class: 'table-wrap' },
      h('table', { id: 'jobs-table', class: 'table jobs-table' }, h('thead', {}, headRow), body)),
    empty,
    h('div', { class: 'more' }, more));

  function showSort() {
    const key = state.sort.replace(/^-/, '');
    const descending = state.sort.startsWith('-');
    for (const th of headRow.querySelectorAll('th[data-sort]')) {
      const active = th.dataset.sort === key;
      if (active) th.setAttribute('aria-sort', descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
      th.querySelector('.sort-mark').textContent = active ? (descending ? ' ▼' : ' ▲') : '';
    }
  }

  function showCount(shown, count) {
    const noun = count === 1 ? 'job' : 'jobs';
    total.textContent = count === shown ? `${count.toLocaleString()} ${noun}`
                                        : `${shown.toLocaleString()} of ${count.toLocaleString()} ${noun}`;
  }

  function queryFor(limit, after, recent = STRIP_CELLS) {
    return { q: filter.value.trim(), status: statusFilter.value, sort: state.sort === 'name' ? null : state.sort,
             limit, after, recent };
  }

  /** The newest runs just read, then the older ones the row already had (by id, newest first). */
  function mergeRecent(fresh, old) {
    if (!old) return fresh;
    const oldest = fresh.length ? fresh[fresh.length - 1].id : Infinity;
    return [...fresh, ...old.filter((run) => run.id < oldest)].slice(0, STRIP_CELLS);
  }

  const draw = (jobs, append) => {
    const items = append ? [...[...body.children].map((row) => row.job), ...jobs] : jobs;
    reconcile(body, items, (job) => job.name, (job) => JSON.stringify(job), (job) => {
      const row = jobRow(job);
      row.job = job;
      return row;
    });
    for (const row of body.children) if (!row.job) row.job = items.find((job) => job.name === row.dataset.job);
  };

  /** Loads the first page (fresh = true: the filters changed) or the next one. */
  async function load(fresh) {
    if (fresh) {
      state.query?.abort();
      state.next = null;
      writeHash({ q: filter.value.trim(), status: statusFilter.value, sort: state.sort });
      showSort();
    } else if (state.loading || !state.next) {
      return;
    }
    const generation = ++state.generation;
    state.query = childController(signal);
    state.loading = true;
    more.disabled = true;
    view.classList.add('is-loading');
    try {
      const page = await api('/api/jobs', { signal: state.query.signal,
                                            query: queryFor(PAGE_SIZE, fresh ? null : state.next) });
      if (generation !== state.generation) return;
      draw(page.jobs, !fresh);
      state.next = page.next;
      showCount(body.children.length, page.total ?? body.children.length);
      empty.hidden = body.children.length > 0;
      more.hidden = !page.next;
    } catch (error) {
      reportError(error);
    } finally {
      if (generation === state.generation) {
        state.loading = false;
        more.disabled = false;
        view.classList.remove('is-loading');
      }
    }
  }

  /** Re-reads the rows shown, in one request; skipped while a load is under way or the tab is hidden. */
  async function refresh() {
    if (state.loading || document.hidden || body.children.length === 0) return;
    const shown = body.children.length;
    if (shown > MAX_LIMIT) return; // so many rows: the user is paging, not watching
    const generation = state.generation;
    const full = state.polls % FULL_EVERY === FULL_EVERY - 1;
    state.polls += 1;
    try {
      const page = await api('/api/jobs', { signal,
                                            query: queryFor(Math.max(PAGE_SIZE, shown), null, full ? STRIP_CELLS : POLL_RECENT) });
      if (generation !== state.generation || state.loading) return;
      const shownJobs = new Map([...body.children].map((row) => [row.dataset.job, row.job]));
      draw(full ? page.jobs : page.jobs.map((job) => ({ ...job, recent: mergeRecent(job.recent, shownJobs.get(job.name)?.recent) })),
           false);
      if (page.jobs.length >= shown) state.next = page.next;
      showCount(body.children.length, page.total ?? body.children.length);
      empty.hidden = body.children.length > 0;
      more.hidden = !state.next;
      refreshTimes(body);
    } catch (error) {
      if (error?.name !== 'AbortError') reportError(error);
    }
  }

  function replaceRow(row, job) {
    const fresh = jobRow(job);
    fresh.job = job;
    fresh.dataset.key = job.name;
    fresh.dataset.signature = JSON.stringify(job);
    row.replaceWith(fresh);
    return fresh;
  }

  async function refreshRow(name) {
    const job = await api(jobPath(name), { signal });
    const row = body.querySelector(`tr[data-job="${CSS.escape(name)}"]`);
    // The detail lacks the strip; keep the row's until the next refresh brings it.
    if (row) replaceRow(row, { ...job, recent: row.job?.recent, last_run: row.job?.last_run });
  }

  body.addEventListener('change', async (event) => {
    const toggle = event.target.closest('.enable-toggle');
    if (!toggle) return;
    const row = toggle.closest('tr');
    toggle.disabled = true;
    try {
      const job = await setEnabled(row.dataset.job, toggle.checked, signal);
      replaceRow(row, { ...job, recent: row.job?.recent, last_run: row.job?.last_run });
    } catch (error) {
      toggle.checked = !toggle.checked;
      toggle.disabled = false;
      reportError(error);
    }
  });

  body.addEventListener('click', async (event) => {
    const button = event.target.closest('button.trigger');
    if (!button) return;
    const name = button.closest('tr').dataset.job;
    button.disabled = true;
    try {
      const { run_id: runId } = await triggerJob(name, signal);
      // The row shows "running", then the run's final status.
      await watchRun(runId, signal, () => refreshRow(name).catch(reportError));
    } catch (error) {
      reportError(error);
    } finally {
      button.disabled = false;
    }
  });

  // Keyboard: a row is one tab stop; Enter opens it, arrow keys move between rows.
  body.addEventListener('keydown', (event) => {
    const row = event.target;
    if (!(row instanceof HTMLTableRowElement)) return;
    if (event.key === 'Enter') {
      event.preventDefault();
      location.hash = jobHref(row.dataset.job);
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      (event.key === 'ArrowDown' ? row.nextElementSibling : row.previousElementSibling)?.focus();
    }
  });

  headRow.addEventListener('click', (event) => {
    const button = event.target.closest('button.sort-button');
    if (!button) return;
    const key = button.dataset.sort;
    // A second click on the sorted column reverses it; the first sorts the useful way round
    // (recent runs first, soonest fire first, problems first, A to Z).
    state.sort = state.sort === key ? `-${key}` : state.sort === `-${key}` ? key : (key === 'last_run' ? '-last_run' : key);
    load(true);
  });

  const reload = debounce(() => load(true), FILTER_DELAY_MS, signal);
  filter.addEventListener('input', reload);
  statusFilter.addEventListener('change', () => load(true));
  more.addEventListener('click', () => load(false));

  // Infinite scroll: the "Load more" button coming into view loads the next page.
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) load(false);
  }, { rootMargin: '200px' });
  observer.observe(more);
  const ticker = setInterval(() => refreshTimes(body), 15000);
  let poller = null;
  const schedulePoll = () => {
    poller = setTimeout(async () => {
      await refresh();
      if (!signal.aborted) schedulePoll();
    }, POLL_MS);
  };
  schedulePoll();
  signal.addEventListener('abort', () => {
    observer.disconnect();
    clearInterval(ticker);
    clearTimeout(poller);
  }, { once: true });

  load(true);
}
