// The one-shot equivalent of `cronhost next --expr EXPR --tz ZONE -n 5` with croner, for
// bench/peers_bench.py: node oneshot_croner.js EXPR ZONE
'use strict';
const { Cron } = require('croner');
const job = new Cron(process.argv[2], { timezone: process.argv[3] });
for (const d of job.nextRuns(5)) console.log(d.toISOString());
