// The run page (#/runs/{id}): one run's status, timing, error, output (live while it runs),
// result and notes, and its attempts: a run that was retried lists the first attempt and each
// retry (first_run_id links them), each a link to its own page.
//
// The output follows the stream (run_stream.js) and scrolls to its end as it grows, unless
// the user scrolled up to read; "Follow" scrolls back down and resumes.

import { api } from './api.js';
import { h, poll } from './dom.js';
import { duration, FINAL_RUN_STATUSES, jobHref, refreshTimes, runDuration, statusBadge, timeEl } from './format.js';
import { reportError } from './notify.js';
import { followOutput } from './run_stream.js';

const REFRESH_MS = 2000; // status and timing while the run goes on
const AT_END_PX = 24;    // this close to the bottom counts as "at the end": keep following

/** The hash of a run's page. */
export function runHref(id) {
  return `#/runs/${id}`;
}

function field(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function facts(run) {
  const by = run.triggered_by ? ` by ${run.triggered_by}` : '';
  return h('dl', { class: 'facts', id: 'run-facts' },
    field('Job', h('a', { href: jobHref(run.job) }, run.job)),
    field('Trigger', `${run.trigger}${by}`),
    field('Attempt', String(run.attempt)),
    run.host ? field('Host', run.host) : null,
    field('Scheduled for', timeEl(run.scheduled_for)),
    field('Started', timeEl(run.started_at)),
    field('Finished', timeEl(run.finished_at)),
    field('Duration', runDuration(run)),
    run.retry_at ? field('Retry at', timeEl(run.retry_at)) : null,
    run.items ? field('Items', `${run.items.processed} processed, ${run.items.succeeded} succeeded, ${run.items.failed} failed`) : null);
}

// The first attempt and its retries, oldest first; the one shown is marked.
function attempts(run) {
  const list = run.attempts ?? [];
  if (list.length < 2) return null;
  return h('section', { class: 'card', id: 'run-attempts' },
    h('h2', {}, `Attempts (${list.length})`),
    h('ol', { class: 'attempts' },
      list.map((a) => h('li', { dataset: { run: a.id, status: a.status } },
        a.id === run.id
          ? h('strong', { 'aria-current': 'page' }, `#${a.id}`)
          : h('a', { href: runHref(a.id) }, `#${a.id}`),
        ' ', statusBadge(a.status), ' ', timeEl(a.started_at ?? a.scheduled_for), ' ', duration(a.duration_ms),
        a.error ? h('span', { class: 'muted clip', title: a.error }, ` ${a.error.split('\n')[0]}`) : null))));
}

function outcome(run) {
  return [
    run.result !== null && run.result !== undefined
      ? [h('h3', {}, 'Result'), h('pre', { class: 'output', id: 'run-result' }, JSON.stringify(run.result, null, 2))] : null,
    run.notes ? [h('h3', {}, 'Notes'), h('p', { id: 'run-notes', class: 'notes' }, run.notes)] : null,
  ];
}

export function render(view, { signal, params }) {
  const id = Number(params.id);
  document.title = `Run #${id} · cronhost`;
  const title = h('h1', {}, `Run #${id} `);
  const head = h('div', { class: 'page-head' }, title);
  const summary = h('section', { class: 'card', id: 'run-summary' }, h('p', { class: 'muted' }, `Loading run #${id}…`));
  const attemptsBox = h('div', {});
  const pre = h('pre', { class: 'output live-output', id: 'run-page-output', tabindex: 0, 'aria-live': 'off' });
  const streamState = h('span', { class: 'muted small', id: 'run-stream-state' });
  const follow = h('button', { type: 'button', class: 'button subtle', id: 'run-follow', hidden: true }, 'Follow ↓');
  const truncatedTag = h('span', { class: 'tag', hidden: true }, 'truncated');
  const outcomeBox = h('div', { id: 'run-outcome' });
  view.append(head, summary, attemptsBox,
    h('section', { class: 'card', id: 'run-output-card' },
      h('div', { class: 'panel-head' }, h('h2', {}, 'Output ', truncatedTag), h('div', {}, streamState, follow)),
      pre, outcomeBox));

  let shownText = false;
  let final = false;
  // Following: the view is at the end of the output (measured, not remembered, so no scroll
  // event can race an append).
  const atEnd = () => pre.scrollHeight - pre.scrollTop - pre.clientHeight <= AT_END_PX;
  pre.addEventListener('scroll', () => { follow.hidden = atEnd(); });
  follow.addEventListener('click', () => {
    pre.scrollTop = pre.scrollHeight;
    follow.hidden = true;
  });

  function append(node) {
    const following = atEnd();
    if (!shownText) {
      pre.replaceChildren();
      shownText = true;
    }
    pre.append(node);
    if (following) pre.scrollTop = pre.scrollHeight;
    follow.hidden = following;
  }

  function show(run) {
    title.replaceChildren(`Run #${run.id} `, statusBadge(run.status));
    view.dataset.status = run.status;
    summary.replaceChildren(facts(run), run.error ? h('p', { class: 'run-error', id: 'run-error' }, run.error) : null);
    attemptsBox.replaceChildren(attempts(run) ?? '');
    outcomeBox.replaceChildren(...outcome(run).flat().filter(Boolean));
    truncatedTag.hidden = !run.output_truncated;
    refreshTimes(summary);
  }

  async function load() {
    const run = await api(`/api/runs/${id}`, { signal });
    show(run);
    // Settled: this run and every attempt ended, and no retry waits (the newest attempt's
    // retry_at says one will come, also when the run shown is an earlier one).
    final = [run, ...(run.attempts ?? [])].every((a) => FINAL_RUN_STATUSES.includes(a.status) && !a.retry_at);
    return run;
  }

  pre.append(h('span', { class: 'muted' }, '(waiting for output)'));
  followOutput(id, {
    signal,
    onText: (text) => append(document.createTextNode(text)),
    onDropped: (bytes) => append(h('span', { class: 'muted dropped' }, `[… ${bytes} bytes of earlier output not kept …]\n`)),
    onState: (state) => {
      streamState.textContent = { streaming: 'live', reconnecting: 'reconnecting…', polling: 'live (polled)', ended: '' }[state] ?? '';
      streamState.classList.toggle('live', state === 'streaming' || state === 'polling');
    },
    onEnd: () => {
      if (!shownText) pre.replaceChildren(h('span', { class: 'muted' }, '(no output)'));
      load().catch(reportError); // the final status, result and notes
    },
  });
  // Status, timing and attempts while it runs or a retry may come; stops once all have ended.
  poll(async () => {
    if (final) return;
    await load();
  }, REFRESH_MS, signal, (error) => {
    if (!final) summary.replaceChildren(h('p', { class: 'run-error' }, error.message));
    reportError(error);
  });
}
