// The runs page: runs across jobs, newest first, re-read every 2 s. Each poll reads only the
// newest page (50 runs) and re-renders only rows whose status changed; "Load older" pages
// back with the API's `before` cursor. A row opens the run below the table; its number links
// to the run's own page (run_page.js).

import { api } from './api.js';
import { childController, debounce, h, poll, reconcile } from './dom.js';
import { FINAL_RUN_STATUSES, jobHref, refreshTimes, runDuration, statusBadge, timeEl } from './format.js';
import { reportError } from './notify.js';
import { createRunOutput } from './run_output.js';
import { runHref } from './run_page.js';

const PAGE_SIZE = 50;
const POLL_MS = 2000;
const FILTER_DELAY_MS = 300;

function runRow(run) {
  const by = run.triggered_by ? ` by ${run.triggered_by}` : '';
  return h('tr', { class: 'clickable', dataset: { run: run.id, job: run.job, status: run.status }, tabindex: 0 },
    h('td', { class: 'num' }, h('a', { href: runHref(run.id), class: 'run-link' }, `#${run.id}`)),
    h('td', { class: 'col-name' }, h('a', { href: jobHref(run.job), class: 'job-link' }, run.job)),
    h('td', {}, statusBadge(run.status)),
    h('td', { class: 'col-trigger' }, `${run.trigger}${by}`),
    h('td', { class: 'col-host clip', title: run.host ?? '' }, run.host ?? ''),
    h('td', {}, timeEl(run.started_at ?? run.scheduled_for)),
    h('td', { class: 'num' }, runDuration(run)),
    h('td', { class: 'col-error clip', title: run.error ?? '' }, run.error ?? ''));
}

export function render(view, { signal }) {
  document.title = 'Runs · cronhost';
  const state = { head: [], tail: [], next: null, query: childController(signal), generation: 0 };
  const output = createRunOutput(signal);
  const jobFilter = h('input', { id: 'runs-job', type: 'search', placeholder: 'Job name', 'aria-label': 'Only this job',
                                 autocomplete: 'off', spellcheck: 'false' });
  const statusFilter = h('select', { id: 'runs-status', 'aria-label': 'Only this status' },
    h('option', { value: '' }, 'Any status'),
    ['queued', 'running', ...FINAL_RUN_STATUSES].map((status) => h('option', { value: status }, status.replace('_', ' '))));
  const body = h('tbody', { id: 'runs-body' });
  const empty = h('p', { class: 'empty', hidden: true }, 'No runs.');
  const older = h('button', { type: 'button', id: 'runs-more', class: 'button', hidden: true }, 'Load older');
  const live = h('span', { class: 'live muted', id: 'runs-live', title: 'Re-read every 2 s' }, 'live');

  view.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Runs'), live),
    h('div', { class: 'toolbar' }, jobFilter, statusFilter),
    h('div', { class: 'table-wrap' },
      h('table', { id: 'runs-table', class: 'table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Run'), h('th', { class: 'col-name' }, 'Job'), h('th', {}, 'Status'),
                                h('th', { class: 'col-trigger' }, 'Trigger'),
                                h('th', { class: 'col-host', title: 'The host that ran it (empty: one host, SQLite state)' }, 'Host'),
                                h('th', {}, 'Started'),
                                h('th', { class: 'num' }, 'Duration'), h('th', { class: 'col-error' }, 'Error'))),
        body)),
    empty, h('div', { class: 'more' }, older), output.panel);

  const filters = () => ({ job: jobFilter.value.trim(), status: statusFilter.value, limit: PAGE_SIZE });

  function draw() {
    const oldestHead = state.head.length ? state.head[state.head.length - 1].id : Infinity;
    const runs = [...state.head, ...state.tail.filter((run) => run.id < oldestHead)];
    reconcile(body, runs, (run) => run.id, (run) => `${run.status}|${run.finished_at}`, runRow);
    refreshTimes(body);
    empty.hidden = runs.length > 0;
    older.hidden = !state.next;
  }

  async function loadNewest() {
    const generation = state.generation;
    const page = await api('/api/runs', { query: filters(), signal: state.query.signal });
    if (generation !== state.generation) return;
    state.head = page.runs;
    if (state.tail.length === 0) state.next = page.next;
    draw();
    for (const run of page.runs) output.refresh(run);
    live.classList.remove('is-stale');
  }

  function restart() {
    state.query.abort();
    state.query = childController(signal);
    state.generation += 1;
    state.head = [];
    state.tail = [];
    state.next = null;
    body.replaceChildren();
    loadNewest().catch(reportError);
  }

  older.addEventListener('click', async () => {
    older.disabled = true;
    const generation = state.generation;
    try {
      const page = await api('/api/runs', { query: { ...filters(), before: state.next }, signal: state.query.signal });
      if (generation !== state.generation) return;
      state.tail.push(...page.runs);
      state.next = page.next;
      draw();
    } catch (error) {
      reportError(error);
    } finally {
      older.disabled = false;
    }
  });

  const open = (event) => {
    if (event.target.closest('a')) return; // the job and run links navigate
    const row = event.target.closest('tr[data-run]');
    if (row && (event.type === 'click' || event.key === 'Enter')) output.show(Number(row.dataset.run));
  };
  body.addEventListener('click', open);
  body.addEventListener('keydown', open);
  jobFilter.addEventListener('input', debounce(restart, FILTER_DELAY_MS, signal));
  statusFilter.addEventListener('change', restart);

  poll(loadNewest, POLL_MS, signal, (error) => {
    live.classList.add('is-stale');
    reportError(error);
  });
}
