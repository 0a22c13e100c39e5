// N jobs firing every second in one node process, with croner or node-cron, for
// bench/peers_bench.py (cronhost's side is bench/dispatch_bench.py rate). Each job is
// `* * * * * *` in UTC with a callback that only records the time. After the jobs are made and
// two seconds of settling, a window of S whole seconds is measured; a fire counts when its due
// second is in the window and it arrives before the window's end plus the grace. Lateness is the
// callback's time (Date.now()) minus the due second. Prints one JSON object.
//
//   node every_second.js --lib croner|node-cron --jobs 10000 --seconds 20
//
// The due second of a fire: node-cron hands it to the callback (context.date). croner does not:
// its timer calls _checkTrigger(target) and then the callback, so each job's _checkTrigger is
// wrapped to note the target first (instrumentation only; croner's scheduling is unchanged).
'use strict';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const lib = arg('--lib', 'croner');
const jobs = Number(arg('--jobs', '1000'));
const seconds = Number(arg('--seconds', '20'));
const settleMs = 2000;
const graceMs = Number(arg('--grace-ms', '2000'));

let windowStart = Infinity;
let windowEnd = Infinity;
const lateness = [];
let seenOutside = 0;
let missedReported = 0;

function record(dueMs) {
  const now = Date.now();
  if (dueMs >= windowStart && dueMs < windowEnd && now < windowEnd + graceMs) lateness.push(now - dueMs);
  else seenOutside++;
}

const startedAt = Date.now();
const stops = [];
if (lib === 'croner') {
  const { Cron } = require('croner');
  for (let i = 0; i < jobs; i++) {
    const job = new Cron('* * * * * *', { timezone: 'UTC' }, (self) => record(self.__due));
    if (typeof job._checkTrigger !== 'function') throw new Error('croner: no _checkTrigger to note the due time');
    const check = job._checkTrigger;
    job._checkTrigger = function (target) {
      this.__due = target.getTime();
      return check.call(this, target);
    };
    stops.push(() => job.stop());
  }
} else if (lib === 'node-cron') {
  const cron = require('node-cron');
  const quiet = { info() {}, warn() {}, error() {}, debug() {} };
  if (typeof cron.setLogger === 'function') cron.setLogger(quiet); // a warning per missed slot would be its own load
  for (let i = 0; i < jobs; i++) {
    const task = cron.schedule('* * * * * *', (context) => record(context.date.getTime()), { timezone: 'UTC' });
    task.on('execution:missed', () => missedReported++);
    stops.push(() => task.destroy());
  }
} else {
  throw new Error(`unknown --lib ${lib}`);
}

const made = Date.now();
windowStart = (Math.floor((made + settleMs) / 1000) + 1) * 1000;
windowEnd = windowStart + seconds * 1000;
let cpu0 = null;
let wall0 = 0;
let cpu = 0;
let wall = 0;
setTimeout(() => {
  cpu0 = process.cpuUsage();
  wall0 = Date.now();
}, windowStart - Date.now());
setTimeout(() => {
  const used = process.cpuUsage(cpu0);
  cpu = (used.user + used.system) / 1e6;
  wall = (Date.now() - wall0) / 1000;
}, windowEnd - Date.now());
setTimeout(() => {
  for (const stop of stops) stop();
  lateness.sort((a, b) => a - b);
  const pct = (p) => (lateness.length ? lateness[Math.min(lateness.length - 1, Math.floor(lateness.length * p))] : null);
  const slots = jobs * seconds;
  const out = {
    impl: lib, jobs, seconds, slots, fires: lateness.length, share: lateness.length / slots,
    runs_per_s: lateness.length / seconds, lateness_p50_ms: pct(0.5), lateness_p99_ms: pct(0.99),
    lateness_max_ms: lateness.length ? lateness[lateness.length - 1] : null,
    cpu_s: cpu, cpu_pct_of_core: wall > 0 ? (cpu / wall) * 100 : null, window_wall_s: wall,
    max_rss_mb: process.resourceUsage().maxRSS / 1024, missed_reported: lib === 'node-cron' ? missedReported : null,
    setup_s: (made - startedAt) / 1000, node: process.version,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}, windowEnd + graceMs - Date.now());
