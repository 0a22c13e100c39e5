// The jobs page: one page of jobs at a time (the API's limit/after cursor), more as the user
// scrolls or presses "Load more", so 10,000 jobs never mean 10,000 rows at once. The filter
// box asks the server for a name prefix; the status filter is the server's too.

import { api, jobPath } from './api.js';
import { childController, debounce, h } from './dom.js';
import { jobHref, refreshTimes, statusBadge, timeEl } from './format.js';
import { setEnabled, triggerJob, watchRun } from './job_actions.js';
import { reportError } from './notify.js';
import { canOperate } from './session.js';

// 100 rows render in a few milliseconds and fill two screens.
const PAGE_SIZE = 100;
const FILTER_DELAY_MS = 300;
const STATUSES = ['enabled', 'disabled', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'never'];

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

function jobRow(job) {
  return h('tr', { dataset: { job: job.name }, class: job.enabled ? null : 'is-disabled' },
    h('td', { class: 'col-name' }, h('a', { href: jobHref(job.name), class: 'job-link' }, job.name),
      job.description ? h('div', { class: 'muted small clip' }, job.description) : null),
    h('td', { class: 'col-schedule' }, scheduleCell(job.schedule)),
    h('td', { class: 'col-next' }, job.enabled ? timeEl(job.next_fire) : h('span', { class: 'muted' }, 'disabled')),
    h('td', { class: 'col-status' }, statusBadge(job.last_status),
      job.running > 0 ? statusBadge('running') : null),
    h('td', { class: 'col-enabled' }, enableSwitch(job)),
    h('td', { class: 'col-actions' }, triggerButton(job)));
}

export function render(view, { signal }) {
  document.title = 'Jobs · cronhost';
  const state = { next: null, loading: false, query: null, generation: 0 };

  const filter = h('input', { id: 'job-filter', type: 'search', placeholder: 'Filter by name prefix',
                              'aria-label': 'Filter by name prefix', autocomplete: 'off', spellcheck: 'false' });
  const statusFilter = h('select', { id: 'status-filter', 'aria-label': 'Filter by status' },
    h('option', { value: '' }, 'Any status'),
    STATUSES.map((status) => h('option', { value: status }, status)));
  const total = h('span', { id: 'jobs-total', class: 'muted' });
  const body = h('tbody', { id: 'jobs-body' });
  const empty = h('p', { id: 'jobs-empty', class: 'empty', hidden: true }, 'No jobs match.');
  const more = h('button', { type: 'button', id: 'load-more', class: 'button', hidden: true }, 'Load more');

  view.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Jobs'), total),
    h('div', { class: 'toolbar' }, filter, statusFilter),
    h('div', { class: 'table-wrap' },
      h('table', { id: 'jobs-table', class: 'table' },
        h('thead', {}, h('tr', {},
          h('th', { class: 'col-name' }, 'Name'), h('th', { class: 'col-schedule' }, 'Schedule'),
          h('th', { class: 'col-next' }, 'Next fire'), h('th', { class: 'col-status' }, 'Last status'),
          h('th', { class: 'col-enabled' }, 'Enabled'), h('th', { class: 'col-actions' }, ''))),
        body)),
    empty,
    h('div', { class: 'more' }, more));

  function showCount(shown, count) {
    const noun = count === 1 ? 'job' : 'jobs';
    total.textContent = count === shown ? `${count.toLocaleString()} ${noun}`
                                        : `${shown.toLocaleString()} of ${count.toLocaleString()} ${noun}`;
  }

  /** Loads the first page (fresh = true: the filters changed) or the next one. */
  async function load(fresh) {
    if (fresh) {
      state.query?.abort();
      state.next = null;
    } else if (state.loading || !state.next) {
      return;
    }
    const generation = ++state.generation;
    state.query = childController(signal);
    state.loading = true;
    more.disabled = true;
    view.classList.add('is-loading');
    try {
      const page = await api('/api/jobs', { signal: state.query.signal, query: {
        prefix: filter.value.trim(), status: statusFilter.value, limit: PAGE_SIZE, after: fresh ? null : state.next } });
      if (generation !== state.generation) return;
      const rows = document.createDocumentFragment();
      for (const job of page.jobs) rows.append(jobRow(job));
      if (fresh) body.replaceChildren(rows);
      else body.append(rows);
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

  function replaceRow(row, job) {
    const fresh = jobRow(job);
    row.replaceWith(fresh);
    return fresh;
  }

  async function refreshRow(name) {
    const job = await api(jobPath(name), { signal });
    const row = body.querySelector(`tr[data-job="${CSS.escape(name)}"]`);
    if (row) replaceRow(row, job);
  }

  body.addEventListener('change', async (event) => {
    const toggle = event.target.closest('.enable-toggle');
    if (!toggle) return;
    const row = toggle.closest('tr');
    toggle.disabled = true;
    try {
      replaceRow(row, await setEnabled(row.dataset.job, toggle.checked, signal));
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
  signal.addEventListener('abort', () => {
    observer.disconnect();
    clearInterval(ticker);
  }, { once: true });

  load(true);
}
