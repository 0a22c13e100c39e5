// One run in full (GET /api/runs/{id}): status, timing, error, output, result and notes.
// Shown by the job page and the runs page when a run is clicked; a run still going shows its
// output as it comes (run_stream.js). "Run page" opens the run on its own page.

import { api } from './api.js';
import { childController, h } from './dom.js';
import { duration, FINAL_RUN_STATUSES, jobHref, statusBadge, timeEl } from './format.js';
import { reportError } from './notify.js';
import { runHref } from './run_page.js';
import { followOutput } from './run_stream.js';

function field(label, ...value) {
  return [h('dt', {}, label), h('dd', {}, ...value)];
}

function details(run) {
  const by = run.triggered_by ? ` by ${run.triggered_by}` : '';
  return [
    h('div', { class: 'panel-head' },
      h('h2', {}, `Run #${run.id} `, statusBadge(run.status)),
      h('div', {},
        h('a', { href: runHref(run.id), class: 'button subtle', id: 'run-output-page' }, 'Run page'),
        h('button', { type: 'button', class: 'button subtle', id: 'run-output-close' }, 'Close'))),
    h('dl', { class: 'facts' },
      field('Job', h('a', { href: jobHref(run.job) }, run.job)),
      field('Trigger', `${run.trigger}${by}`, run.attempt > 1 ? ` (attempt ${run.attempt})` : ''),
      run.host ? field('Host', run.host) : null,
      field('Scheduled for', timeEl(run.scheduled_for)),
      field('Started', timeEl(run.started_at)),
      field('Finished', timeEl(run.finished_at)),
      field('Duration', duration(run.duration_ms)),
      run.items ? field('Items', `${run.items.processed} processed, ${run.items.succeeded} succeeded, ${run.items.failed} failed`) : null),
    run.error ? h('p', { class: 'run-error' }, run.error) : null,
    h('h3', {}, 'Output', run.output_truncated ? h('span', { class: 'tag' }, 'truncated') : null),
    h('pre', { class: 'output', id: 'run-output-text' }, run.output || '(no output)'),
    run.result !== null && run.result !== undefined
      ? [h('h3', {}, 'Result'), h('pre', { class: 'output' }, JSON.stringify(run.result, null, 2))] : null,
    run.notes ? [h('h3', {}, 'Notes'), h('p', {}, run.notes)] : null,
  ];
}

/** A hidden <section id="run-output">; show(id) loads a run into it and scrolls it into view. */
export function createRunOutput(signal) {
  const panel = h('section', { id: 'run-output', class: 'card', hidden: true, 'aria-live': 'polite' });
  let shown = null;
  let following = null; // the live output's controller while a running run is shown
  panel.addEventListener('click', (event) => {
    if (event.target.id === 'run-output-close') {
      panel.hidden = true;
      shown = null;
      following?.abort();
    }
  });

  // Appends the run's output as it is written, from the end of what the panel shows.
  function follow(run) {
    following?.abort();
    if (FINAL_RUN_STATUSES.includes(run.status)) return;
    following = childController(signal);
    const pre = panel.querySelector('#run-output-text');
    let first = !run.output;
    let skip = new TextEncoder().encode(run.output ?? '').length; // already shown
    followOutput(run.id, {
      signal: following.signal,
      onText: (text) => {
        // The stream starts at offset 0; the part the detail already showed is skipped.
        const bytes = new TextEncoder().encode(text);
        if (skip >= bytes.length) { skip -= bytes.length; return; }
        const rest = new TextDecoder().decode(bytes.slice(skip));
        skip = 0;
        if (first) { pre.replaceChildren(); first = false; }
        pre.append(rest);
        pre.scrollTop = pre.scrollHeight;
      },
    });
  }

  async function show(id) {
    shown = id;
    panel.hidden = false;
    panel.dataset.run = String(id);
    panel.replaceChildren(h('p', { class: 'muted' }, `Loading run #${id}…`));
    panel.scrollIntoView({ block: 'nearest' });
    try {
      const run = await api(`/api/runs/${id}`, { signal });
      if (shown !== id) return;
      panel.replaceChildren(...details(run).flat().filter(Boolean));
      panel.dataset.status = run.status;
      follow(run);
    } catch (error) {
      if (shown === id) panel.replaceChildren(h('p', { class: 'run-error' }, error.message));
      reportError(error);
    }
  }

  /** Reloads the shown run if it was still going (its output grows). */
  function refresh(run) {
    if (shown === run.id && panel.dataset.status !== run.status) show(run.id);
  }

  return { panel, show, refresh };
}
