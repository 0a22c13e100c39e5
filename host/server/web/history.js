// A job's run history: the newest page re-read every few seconds (a triggered run shows up and
// ends without a reload), older pages added with "Load older" (the API's `before` cursor), a
// durations chart, and a run's output on click.

import { api, jobPath } from './api.js';
import { h, poll, reconcile } from './dom.js';
import { durationsChart } from './chart.js';
import { refreshTimes, runDuration, statusBadge, timeEl } from './format.js';
import { reportError } from './notify.js';
import { createRunOutput } from './run_output.js';

const PAGE_SIZE = 50;
const POLL_MS = 3000;

function runSignature(run) {
  return `${run.status}|${run.finished_at}|${run.error}`;
}

function runRow(run) {
  const by = run.triggered_by ? ` by ${run.triggered_by}` : '';
  return h('tr', { class: 'clickable', dataset: { run: run.id, status: run.status }, tabindex: 0,
                   title: 'Show this run' },
    h('td', { class: 'num' }, `#${run.id}`),
    h('td', {}, statusBadge(run.status)),
    h('td', { class: 'col-trigger' }, `${run.trigger}${by}`, run.attempt > 1 ? ` (attempt ${run.attempt})` : ''),
    h('td', { class: 'col-host clip', title: run.host ?? '' }, run.host ?? ''),
    h('td', {}, timeEl(run.started_at ?? run.scheduled_for)),
    h('td', { class: 'num' }, runDuration(run)),
    h('td', { class: 'col-error clip', title: run.error ?? '' }, run.error ?? ''));
}

/**
 * The history section of job `name`. `onChange` is called when a run appears or changes
 * status (the page then re-reads the job's stats). Stops with `signal`.
 */
export function createHistory(name, signal, onChange) {
  const state = { head: [], tail: [], next: null, loadingOlder: false, signature: '', chartKey: null };
  const output = createRunOutput(signal);
  const body = h('tbody', { id: 'history-body' });
  const chartBox = h('div', { class: 'chart-box' });
  const older = h('button', { type: 'button', id: 'history-more', class: 'button', hidden: true }, 'Load older');
  const empty = h('p', { class: 'empty', hidden: true }, 'No runs yet.');

  const section = [
    h('section', { class: 'card' }, h('h2', {}, 'Durations'), chartBox),
    h('section', { class: 'card', id: 'history-card' }, h('h2', {}, 'History'),
      h('div', { class: 'table-wrap' },
        h('table', { id: 'history', class: 'table' },
          h('thead', {}, h('tr', {}, h('th', {}, 'Run'), h('th', {}, 'Status'), h('th', { class: 'col-trigger' }, 'Trigger'),
                                  h('th', { class: 'col-host', title: 'The host that ran it (empty: one host, SQLite state)' }, 'Host'),
                                  h('th', {}, 'Started'), h('th', { class: 'num' }, 'Duration'),
                                  h('th', { class: 'col-error' }, 'Error'))),
          body)),
      empty, h('div', { class: 'more' }, older)),
    output.panel,
  ];

  function runs() {
    const oldestHead = state.head.length ? state.head[state.head.length - 1].id : Infinity;
    return [...state.head, ...state.tail.filter((run) => run.id < oldestHead)];
  }

  function draw() {
    const all = runs();
    reconcile(body, all, (run) => run.id, runSignature, runRow);
    refreshTimes(body);
    const chartKey = all.map((run) => `${run.id}:${run.duration_ms}`).join(',');
    if (chartKey !== state.chartKey) { // redrawn only on change, so a hovered bar keeps its tooltip
      state.chartKey = chartKey;
      chartBox.replaceChildren(durationsChart(all, output.show));
    }
    empty.hidden = all.length > 0;
    older.hidden = !state.next;
  }

  async function loadNewest() {
    const page = await api(`${jobPath(name)}/runs`, { query: { limit: PAGE_SIZE }, signal });
    state.head = page.runs;
    if (state.tail.length === 0) state.next = page.next;
    draw();
    const signature = page.runs.map((run) => `${run.id}:${run.status}`).join(',');
    if (state.signature && signature !== state.signature) onChange();
    state.signature = signature;
    for (const run of page.runs) output.refresh(run);
  }

  older.addEventListener('click', async () => {
    if (state.loadingOlder || !state.next) return;
    state.loadingOlder = true;
    older.disabled = true;
    try {
      const page = await api(`${jobPath(name)}/runs`, { query: { limit: PAGE_SIZE, before: state.next }, signal });
      state.tail.push(...page.runs);
      state.next = page.next;
      draw();
    } catch (error) {
      reportError(error);
    } finally {
      state.loadingOlder = false;
      older.disabled = false;
    }
  });

  const open = (event) => {
    const row = event.target.closest('tr[data-run]');
    if (row && (event.type === 'click' || event.key === 'Enter')) output.show(Number(row.dataset.run));
  };
  body.addEventListener('click', open);
  body.addEventListener('keydown', open);

  poll(loadNewest, POLL_MS, signal, reportError);
  return { section, refresh: () => loadNewest().catch(reportError) };
}
