// How times, durations and statuses read on the page. Times come from the API as RFC 3339 UTC;
// they show relative ("in 3 h") with the absolute time as the title, and refresh in place.

import { h } from './dom.js';

const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'timed_out', 'skipped', 'cancelled',
                      'interrupted'];
export const FINAL_RUN_STATUSES = RUN_STATUSES.filter((status) => status !== 'queued' && status !== 'running');

const absoluteFormat = new Intl.DateTimeFormat(undefined, {
  weekday: 'short', year: 'numeric', month: 'short', day: 'numeric',
  hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
});

/** "in 3 h", "12 s ago", "now". */
export function relative(iso, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const size = Math.abs(seconds);
  if (size < 2) return 'now';
  let amount;
  if (size < 60) amount = `${size} s`;
  else if (size < 90 * 60) amount = `${Math.round(size / 60)} min`;
  else if (size < 36 * 3600) amount = `${Math.round(size / 3600)} h`;
  else amount = `${Math.round(size / 86400)} d`;
  return seconds > 0 ? `in ${amount}` : `${amount} ago`;
}

/** The browser's local time, with the UTC original: for titles. */
export function absolute(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${absoluteFormat.format(date)} (${iso})`;
}

/** The time in a given zone ("Tue, 1 Dec 2026, 03:00 CET"); the local time if the zone is unknown. */
export function zoned(iso, timeZone) {
  const options = { weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit',
                    minute: '2-digit', second: '2-digit', timeZoneName: 'short' };
  try {
    return new Intl.DateTimeFormat(undefined, { ...options, timeZone: timeZone || undefined }).format(new Date(iso));
  } catch {
    return new Intl.DateTimeFormat(undefined, options).format(new Date(iso));
  }
}

/** <time> showing the relative time; refreshTimes() keeps it current. "—" for null. */
export function timeEl(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { class: 'rel', datetime: iso, title: absolute(iso) }, relative(iso));
}

/** "85 ms", "1.2 s", "2 min 5 s", "1 h 3 min". */
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A run's duration; for a run still going, the time so far, kept current by refreshTimes(). */
export function runDuration(run) {
  if (run.status === 'running' && run.started_at) {
    return h('span', { class: 'live-duration', dataset: { started: run.started_at } },
             duration(Date.now() - Date.parse(run.started_at)));
  }
  return duration(run.duration_ms);
}

/** Updates every relative time and running duration under `root` (cheap: text only). */
export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time.rel')) el.textContent = relative(el.getAttribute('datetime'), now);
  for (const el of root.querySelectorAll('.live-duration')) el.textContent = duration(now - Date.parse(el.dataset.started));
}

/** A coloured badge for a run status (or an approval status); null reads "never". */
export function statusBadge(status) {
  const value = status ?? 'never';
  const key = String(value).toLowerCase();
  return h('span', { class: `badge status-${key}`, dataset: { status: key } }, key.replace('_', ' '));
}

export function percent(rate) {
  if (rate === null || rate === undefined) return '—';
  return `${(rate * 100).toFixed(rate === 1 || rate === 0 ? 0 : 1)} %`;
}

export function number(value) {
  return value === null || value === undefined ? '—' : Number(value).toLocaleString();
}

/** A value from a job definition in one line: text as is, anything else as compact JSON. */
export function compact(value) {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** The hash of a job's detail page. */
export function jobHref(name) {
  return `#/jobs/${encodeURIComponent(name)}`;
}
