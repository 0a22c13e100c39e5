// The durations chart: one bar per finished run, placed on a time axis by when it started,
// coloured by status; the y axis is the duration. Inline SVG, no library. Positions are in
// percent of the width and pixels of the height, so the chart fills any width at a fixed
// height and its labels are never stretched.

import { s } from './dom.js';
import { duration } from './format.js';

const HEIGHT = 170; // matches .chart in app.css
const TOP = 16; // room for the scale label
const AXIS = 20; // room under the bars for the time labels
const PLOT = HEIGHT - AXIS; // the bars' baseline
const MAX_BARS = 60;
const BAR_PERCENT = 1.2; // a bar's width; runs closer than this overlap, the later on top
const EDGE_PERCENT = 1; // the first and last bar stay inside the frame
const TICKS = 5;

// Tick steps from a minute to four weeks: the first that gives at most TICKS ticks is used.
const MINUTE = 60e3;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const STEPS = [MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY,
               7 * DAY, 14 * DAY, 28 * DAY];

function startOf(run) {
  return Date.parse(run.started_at ?? run.scheduled_for ?? run.finished_at);
}

/** Tick times (ms) inside [from, to], on round local times. */
export function timeTicks(from, to) {
  const span = Math.max(to - from, MINUTE);
  const step = STEPS.find((candidate) => span / candidate <= TICKS) ?? STEPS[STEPS.length - 1];
  const offset = new Date(from).getTimezoneOffset() * MINUTE; // round in local time, not UTC
  const ticks = [];
  for (let t = Math.ceil((from - offset) / step) * step + offset; t <= to; t += step) ticks.push(t);
  return { ticks, step };
}

function tickLabel(time, step, span) {
  const date = new Date(time);
  if (step >= DAY) return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  const clock = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
  if (span > DAY) return `${date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })} ${clock}`;
  return clock;
}

/** An <svg id="durations-chart"> for `runs` (newest first, as the API lists them). */
export function durationsChart(runs, onSelect) {
  const shown = runs.filter((run) => run.duration_ms !== null && run.duration_ms !== undefined &&
                                     Number.isFinite(startOf(run)))
    .slice(0, MAX_BARS).reverse();
  const svg = s('svg', { id: 'durations-chart', class: 'chart', role: 'img',
                         'aria-label': `Durations of the last ${shown.length} finished runs, by start time` });
  if (shown.length === 0) {
    svg.append(s('text', { x: '50%', y: HEIGHT / 2, 'text-anchor': 'middle', class: 'chart-empty' },
                 'No finished runs yet'));
    return svg;
  }
  const longest = Math.max(1, ...shown.map((run) => run.duration_ms));
  const first = startOf(shown[0]);
  const last = startOf(shown[shown.length - 1]);
  // One run, or runs in the same second: a minute around them, so the axis still reads.
  const from = last - first < 1000 ? first - 30e3 : first;
  const to = last - first < 1000 ? last + 30e3 : last;
  const usable = 100 - 2 * EDGE_PERCENT - BAR_PERCENT;
  const xOf = (time) => EDGE_PERCENT + ((time - from) / (to - from)) * usable;

  const { ticks, step } = timeTicks(from, to);
  for (const tick of ticks) {
    const x = xOf(tick) + BAR_PERCENT / 2;
    const anchor = x < 6 ? 'start' : x > 94 ? 'end' : 'middle';
    svg.append(s('line', { x1: `${x}%`, x2: `${x}%`, y1: TOP, y2: PLOT + 4, class: 'chart-tick' }),
               s('text', { x: `${x}%`, y: HEIGHT - 5, 'text-anchor': anchor, class: 'chart-label chart-time' },
                 tickLabel(tick, step, to - from)));
  }
  svg.append(s('line', { x1: 0, x2: '100%', y1: TOP, y2: TOP, class: 'chart-grid' }),
             s('line', { x1: 0, x2: '100%', y1: (TOP + PLOT) / 2, y2: (TOP + PLOT) / 2, class: 'chart-grid' }),
             s('text', { x: 2, y: TOP - 4, class: 'chart-label' }, `max ${duration(longest)}`));

  shown.forEach((run) => {
    const height = Math.max(1, (run.duration_ms / longest) * (PLOT - TOP));
    const started = run.started_at ?? run.scheduled_for;
    const bar = s('rect', { class: `bar status-${run.status}`, x: `${xOf(startOf(run))}%`, y: PLOT - height,
                            width: `${BAR_PERCENT}%`, height, dataset: { run: run.id, at: started } },
                  s('title', {}, `#${run.id} ${run.status} at ${started}: ${duration(run.duration_ms)}`));
    bar.addEventListener('click', () => onSelect(run.id));
    svg.append(bar);
  });
  svg.append(s('line', { x1: 0, x2: '100%', y1: PLOT - 0.5, y2: PLOT - 0.5, class: 'chart-axis' }));
  return svg;
}
