// The schedule editor of the job page: a cron expression and a time zone, previewed by the
// server (POST /api/schedule/preview: its words and next five fires) as the user types, before
// Save (PUT …/schedule). "Reset to file schedule" (DELETE …/schedule) drops the override.
// Save stays disabled until the preview has accepted what is typed; a cron expression that does
// not parse gets a caret under the column the server names (its error's "column").

import { api, ApiError, jobPath } from './api.js';
import { childController, debounce, h } from './dom.js';
import { relative, zoned } from './format.js';
import { reportError, showInfo } from './notify.js';
import { canOperate } from './session.js';

const PREVIEW_DELAY_MS = 400;

function timeZones() {
  try {
    return Intl.supportedValuesOf('timeZone');
  } catch {
    return [];
  }
}

/**
 * The editor for `job` (a job detail). `onSaved(summary)` runs after a save or reset.
 * Returns {element, update(job)}; update refreshes what depends on the job (the reset button),
 * never the fields the user is typing in.
 */
export function createScheduleEditor(job, signal, onSaved) {
  const allowed = canOperate();
  const schedule = job.schedule ?? {};
  const cron = h('input', { id: 'cron-input', type: 'text', value: schedule.kind === 'cron' ? schedule.expression : '',
                            placeholder: '0 3 * * *', autocomplete: 'off', spellcheck: 'false', class: 'mono',
                            'aria-describedby': 'cron-caret schedule-preview' });
  // The expression again with a caret under the error, in the input's font: it lines up.
  const caret = h('pre', { id: 'cron-caret', class: 'caret-line mono', hidden: true, 'aria-hidden': 'true' });
  const zone = h('input', { id: 'tz-input', type: 'text', value: schedule.timezone ?? '', list: 'tz-list',
                            placeholder: 'Europe/Berlin (empty: the job\'s)', autocomplete: 'off', spellcheck: 'false' });
  const zoneList = h('datalist', { id: 'tz-list' }, timeZones().map((name) => h('option', { value: name })));
  const previewButton = h('button', { type: 'button', id: 'preview-button', class: 'button' }, 'Preview');
  const save = h('button', { type: 'submit', id: 'save-schedule', class: 'button primary', disabled: true,
                             title: allowed ? 'Save this schedule (overrides the file)' : 'Needs the operator role' }, 'Save');
  const reset = h('button', { type: 'button', id: 'reset-schedule', class: 'button subtle' }, 'Reset to file schedule');
  const preview = h('div', { id: 'schedule-preview', class: 'preview', 'aria-live': 'polite' },
                    h('p', { class: 'muted' }, 'Type a cron expression to see its next fire times.'));

  const form = h('form', { class: 'schedule-form', id: 'schedule-form' },
    h('label', { for: 'cron-input' }, 'Cron expression'), h('div', { class: 'cron-field' }, cron, caret),
    h('label', { for: 'tz-input' }, 'Time zone'), zone, zoneList,
    h('div', { class: 'buttons' }, previewButton, save, reset),
    preview);
  const element = h('section', { class: 'card', id: 'schedule-editor' }, h('h2', {}, 'Edit schedule'), form);

  let current = job;
  function update(next) {
    current = next;
    const overridden = Boolean(current.schedule?.overridden);
    reset.disabled = !allowed || !overridden;
    reset.title = !allowed ? 'Needs the operator role'
      : overridden ? `Back to the file's schedule: ${current.file_schedule?.text ?? ''}` : 'The schedule is the file\'s';
  }
  update(job);

  function request() {
    const body = { cron: cron.value.trim() };
    if (zone.value.trim()) body.timezone = zone.value.trim();
    return body;
  }

  let query = null;
  let valid = false; // the last preview accepted the fields as they are now
  function showValidity(ok, column) {
    valid = ok;
    save.disabled = !allowed || !ok;
    cron.setAttribute('aria-invalid', ok || column === undefined ? 'false' : 'true');
    if (column === undefined) {
      caret.hidden = true;
      caret.replaceChildren();
      return;
    }
    const text = cron.value;
    caret.dataset.column = String(column);
    caret.replaceChildren(text, '\n', ' '.repeat(Math.min(column, text.length)), h('span', { class: 'caret' }, '^'));
    caret.hidden = false;
  }

  async function runPreview() {
    const body = request();
    query?.abort();
    if (!body.cron) {
      showValidity(false);
      preview.replaceChildren(h('p', { class: 'muted' }, 'Type a cron expression to see its next fire times.'));
      return;
    }
    query = childController(signal);
    const mine = query;
    preview.classList.add('is-loading');
    try {
      const answer = await api('/api/schedule/preview', { method: 'POST', body, signal: mine.signal });
      const tz = body.timezone ?? job.schedule?.timezone;
      showValidity(true);
      preview.replaceChildren(
        h('p', { id: 'schedule-preview-text', class: 'preview-text' }, answer.text),
        h('ol', { class: 'fires' }, answer.next_fires.map((fire) =>
          h('li', { title: fire }, zoned(fire, tz), h('span', { class: 'muted' }, ` · ${relative(fire)}`)))));
    } catch (error) {
      if (mine.signal.aborted) return;
      // A parse error belongs beside the field, not in a toast.
      const column = error instanceof ApiError && Number.isInteger(error.details?.column) && error.details?.field === 'cron'
        ? error.details.column : undefined;
      showValidity(false, column);
      preview.replaceChildren(h('p', { class: 'form-error', id: 'schedule-preview-error', role: 'alert' }, error.message));
    } finally {
      if (query === mine) preview.classList.remove('is-loading');
    }
  }

  // What is typed is unchecked until its preview answers: no Save meanwhile.
  const edited = () => {
    save.disabled = true;
    valid = false;
  };
  cron.addEventListener('input', edited);
  zone.addEventListener('input', edited);

  const livePreview = debounce(runPreview, PREVIEW_DELAY_MS, signal);
  cron.addEventListener('input', livePreview);
  zone.addEventListener('input', livePreview);
  previewButton.addEventListener('click', runPreview);

  async function change(method, body, message) {
    save.disabled = reset.disabled = true;
    try {
      const summary = await api(`${jobPath(job.name)}/schedule`, { method, body, signal });
      showInfo(message);
      update({ ...current, ...summary });
      onSaved(summary);
    } catch (error) {
      update(current);
      reportError(error);
    } finally {
      save.disabled = !allowed || !valid;
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!request().cron || !valid) return;
    runPreview(); // the user sees what was saved
    change('PUT', request(), `Saved the schedule of ${job.name}`);
  });
  reset.addEventListener('click', () => change('DELETE', undefined, `${job.name} is back on its file's schedule`));

  if (cron.value) runPreview();
  return { element, update };
}
