// The durations chart: one bar per finished run, oldest on the left, coloured by status.
// Inline SVG, no library. Bars are placed in percent of the width and pixels of the height,
// so the chart fills any width at a fixed height and its labels are never stretched.

import { s } from './dom.js';
import { duration } from './format.js';

const HEIGHT = 140; // matches .chart in app.css
const TOP = 16; // room for the scale label
const MAX_BARS = 60;
const MIN_SLOTS = 20; // a few runs stay thin bars, not slabs

/** An <svg id="durations-chart"> for `runs` (newest first, as the API lists them). */
export function durationsChart(runs, onSelect) {
  const shown = runs.filter((run) => run.duration_ms !== null && run.duration_ms !== undefined)
    .slice(0, MAX_BARS).reverse();
  const svg = s('svg', { id: 'durations-chart', class: 'chart', role: 'img',
                         'aria-label': `Durations of the last ${shown.length} finished runs` });
  if (shown.length === 0) {
    svg.append(s('text', { x: '50%', y: HEIGHT / 2, 'text-anchor': 'middle', class: 'chart-empty' },
                 'No finished runs yet'));
    return svg;
  }
  const longest = Math.max(1, ...shown.map((run) => run.duration_ms));
  const slot = 100 / Math.max(shown.length, MIN_SLOTS);
  const gap = slot * 0.2;
  shown.forEach((run, index) => {
    const height = Math.max(1, (run.duration_ms / longest) * (HEIGHT - TOP));
    const bar = s('rect', { class: `bar status-${run.status}`, x: `${index * slot + gap / 2}%`, y: HEIGHT - height,
                            width: `${slot - gap}%`, height, dataset: { run: run.id } },
                  s('title', {}, `#${run.id} ${run.status}: ${duration(run.duration_ms)}`));
    bar.addEventListener('click', () => onSelect(run.id));
    svg.append(bar);
  });
  svg.append(s('line', { x1: 0, x2: '100%', y1: TOP, y2: TOP, class: 'chart-grid' }),
             s('text', { x: 2, y: TOP - 4, class: 'chart-label' }, `max ${duration(longest)}`),
             s('line', { x1: 0, x2: '100%', y1: HEIGHT - 0.5, y2: HEIGHT - 0.5, class: 'chart-axis' }));
  return svg;
}
