// Next-fire throughput of the npm peers (croner, cron-parser, node-cron) on the cases of
// cases.json, for bench/peers_bench.py. Each expression is parsed once; then a chain of
// `chain` fires is computed from the fixed start, each from the fire before it (as a scheduler
// does), `repeats` times after one chain of warm-up. Prints one JSON line per library and case
// with the chain's fires (Unix seconds) so the driver can compare them with cronhost's.
//
//   node nextfire.js --cases cases.json [--repeats 10] [--lib croner,cron-parser,node-cron]
'use strict';
const fs = require('fs');
const { Cron } = require('croner');
const { CronExpressionParser } = require('cron-parser');
const nodeCron = require('node-cron');

// Each library's way of chaining next fires: make(expr, zone) parses once and returns
// chain(startSeconds, n, out), which fills out[0..n) with fire times in Unix seconds.
const libraries = {
  croner(expr, zone) {
    const job = new Cron(expr, { timezone: zone }); // no function: nothing is scheduled
    return (start, n, out) => {
      let d = new Date(start * 1000);
      for (let i = 0; i < n; i++) {
        d = job.nextRun(d);
        out[i] = d.getTime() / 1000;
      }
    };
  },
  'cron-parser'(expr, zone) {
    const it = CronExpressionParser.parse(expr, { currentDate: new Date(0), tz: zone });
    return (start, n, out) => {
      it.reset(new Date(start * 1000));
      for (let i = 0; i < n; i++) out[i] = it.next().getTime() / 1000;
    };
  },
  'node-cron'(expr, zone) {
    // createTask does not start the task; its matcher is what the task's runner and
    // getNextRuns() call for each next fire.
    const task = nodeCron.createTask(expr, () => {}, { timezone: zone });
    const matcher = task.timeMatcher;
    return (start, n, out) => {
      let d = new Date(start * 1000);
      for (let i = 0; i < n; i++) {
        d = matcher.getNextMatch(d);
        out[i] = d.getTime() / 1000;
      }
    };
  },
};

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const spec = JSON.parse(fs.readFileSync(arg('--cases', `${__dirname}/cases.json`), 'utf8'));
const repeats = Number(arg('--repeats', '10'));
const wanted = arg('--lib', Object.keys(libraries).join(',')).split(',');

for (const lib of wanted) {
  for (const zone of spec.zones) {
    for (const c of spec.cases) {
      const line = { impl: lib, label: c.label, expr: c.expr, zone };
      try {
        const chain = libraries[lib](c.expr, zone);
        const out = new Float64Array(spec.chain);
        chain(spec.start_unix, spec.chain, out); // warm-up (the JIT), not timed
        const t0 = process.hrtime.bigint();
        for (let r = 0; r < repeats; r++) chain(spec.start_unix, spec.chain, out);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        Object.assign(line, { fires: repeats * spec.chain, seconds, fires_per_s: (repeats * spec.chain) / seconds,
                              chain: Array.from(out) });
      } catch (e) {
        line.error = String(e && e.message ? e.message : e);
      }
      process.stdout.write(JSON.stringify(line) + '\n');
    }
  }
}
// node-cron keeps its tasks in a registry; nothing was started, so nothing keeps the loop alive.
