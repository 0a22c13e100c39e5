#!/usr/bin/env bash
# The command line end to end: exit codes, exact output, the bundled jobs.d and examples.
# Usage: cli_test.sh PATH/TO/cronhost SOURCE_DIR
set -u
# Absolute, so the tests that cd elsewhere still find them (cli_test.sh build/cronhost . works too).
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$2" && pwd)
passed=0
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME EXPECTED_EXIT COMMAND...: runs it, keeping stdout in $out and stderr in $err.
run() {
  local name=$1 want=$2
  shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, expected $want"; echo "  stdout: $out"; echo "  stderr: $err"
    failed=$((failed + 1))
    return 1
  fi
  return 0
}

# expect NAME ACTUAL EXPECTED
expect() {
  if [ "$2" == "$3" ]; then
    passed=$((passed + 1))
  else
    echo "FAIL $1"; diff <(echo "$3") <(echo "$2") | sed 's/^/  /'
    failed=$((failed + 1))
  fi
}

# contains NAME TEXT NEEDLE
contains() {
  if [[ "$2" == *"$3"* ]]; then passed=$((passed + 1)); else echo "FAIL $1: no '$3' in: $2"; failed=$((failed + 1)); fi
}

run "help" 0 "$bin" --help && contains "help lists subcommands" "$out" "validate"
# -h before `next` is answered by the host binary, as every help that is not next's own.
host_help=$(exec -a "$bin" "$(dirname "$bin")/libexec/cronhost/cronhost" -h next 2>&1)
run "help before next" 0 "$bin" -h next && expect "help before next" "$out" "$host_help"
for sub in validate list next; do
  run "$sub --help" 0 "$bin" "$sub" --help && contains "$sub --help" "$out" "Usage"
done
run "unknown subcommand" 2 "$bin" frobnicate && contains "unknown subcommand message" "$err" "subcommand"
run "no subcommand" 2 "$bin"
run "version" 0 "$bin" --version && contains "version" "$out" "0."

# The bundled jobs and the examples validate.
jobs=$(find "$src/jobs.d" -name '*.yaml' | wc -l)
run "validate jobs.d" 0 "$bin" validate --jobs "$src/jobs.d" && expect "validate jobs.d" "$out" "$jobs jobs OK"
# The plugin jobs among the examples name the example plugins where `make build` puts them
# (build/plugins/, beside examples/ in a checkout): a copy of examples/ beside this build.
build=$(dirname "$bin")
cp -R "$src/examples" "$tmp/examples"
ln -s "$build" "$tmp/build"
run "validate examples" 0 "$bin" validate "$tmp/examples/jobs.d" && expect "validate examples" "$out" "8 jobs OK"
(cd "$src" && "$bin" validate >"$tmp/out" 2>&1) && passed=$((passed + 1)) || { echo "FAIL validate in the repo root"; failed=$((failed + 1)); }

# A fresh checkout: the repository's cronhost.yaml takes the admin token from
# CRONHOST_ADMIN_TOKEN, unset here. Commands that serve no API say nothing about it.
for sub in "validate" "list" "next nightly-backup -n 1"; do
  run "$sub without the admin token" 0 env -u CRONHOST_ADMIN_TOKEN bash -c "cd '$src' && '$bin' $sub" &&
    expect "$sub without the admin token: no warning" "$err" ""
done
run "trigger --help" 0 "$bin" trigger --help &&
  contains "--token-file help names CRONHOST_TOKEN as the token" "$out" "without it, the token itself from CRONHOST_TOKEN"

# What README shows can be run: `plugin check` on a path under build/ is one that `make build`
# makes (build/ is this build folder), with the output README prints; the params it passes to
# a bundled job are params that job has. (Other paths are other projects' builds or an
# installed tree.)
for path in $(grep -oE 'cronhost plugin check build/[^ ]+\.so' "$src/README.md" | grep -v test-plugins | awk '{print $4}'); do
  [ -f "$build/${path#build/}" ] && passed=$((passed + 1)) ||
    { echo "FAIL README's plugin check path $path is not made by the build"; failed=$((failed + 1)); }
done
# The plugin's own lines; the sandbox lines after them depend on the machine (Landlock ABI,
# cgroup path with the host's pid).
run "plugin check example" 0 "$bin" plugin check "$build/plugins/libdisk_report.so" &&
  contains "README shows plugin check's output" "$(cat "$src/README.md")" "$(printf '%s\n' "$out" | head -n 2)"
while read -r job key; do
  grep -qE "^  $key:" "$src/jobs.d/$job.yaml" && passed=$((passed + 1)) ||
    { echo "FAIL README passes --param $key to $job, which has no such param"; failed=$((failed + 1)); }
done < <(grep -oE 'trigger [a-z-]+ --param [a-z_]+' "$src/README.md" | awk '{sub(/--param /, ""); print $2, $3}'
         grep -oE 'jobs/[a-z-]+/trigger -d .\{"params": \{"[a-z_]+"' "$src/README.md" | sed -E 's#jobs/([a-z-]+)/trigger.*"params": \{"([a-z_]+)"#\1 \2#')

# plugin check: loads a plugin in the runner, as the daemon would.
run "plugin check" 0 "$bin" plugin check "$build/test-plugins/libempty.so" &&
  expect "plugin check output" "$(printf '%s\n' "$out" | head -n 2)" "empty 1.0.0 (ABI 1.3)
Does nothing, quickly" &&
  contains "plugin check names the thread cap" "$out" "threads of an isolated run"
run "plugin check wrong ABI" 1 "$bin" plugin check "$build/test-plugins/libwrong_abi.so" &&
  contains "plugin check wrong ABI message" "$err" "ABI 2.0"
run "plugin check not a plugin" 1 "$bin" plugin check "$build/test-plugins/libno_entry.so" &&
  contains "plugin check no entry message" "$err" "does not export cronhost_plugin_v1"
# The runner refuses to stay root whatever way uid 0 or gid 0 is written, and ids setresuid
# reads as "leave unchanged" (the config refuses them all first).
for ids in 0:0 00:1000 1000:0; do
  run "runner refuses run_as $ids" 1 env CRONHOST_RUN_AS=$ids "$build/libexec/cronhost/cronhost-plugin-runner" check "$build/test-plugins/libempty.so"
  expect "runner refuses run_as $ids" "$err" "cannot isolate the plugin: run_as $ids: is root or its group (expected a user without privileges)"
done
for ids in 4294967295:4294967295 4294967296:1000 nobody; do
  run "runner refuses run_as $ids" 1 env CRONHOST_RUN_AS=$ids "$build/libexec/cronhost/cronhost-plugin-runner" check "$build/test-plugins/libempty.so"
  expect "runner refuses run_as $ids" "$err" "cannot isolate the plugin: run_as is not uid:gid: $ids"
done
# (Through a pipe, as the daemon reads it: the runner's file size limit is 0.)
run "runner switches to 65534:65534" 0 bash -o pipefail -c "CRONHOST_RUN_AS=65534:65534 '$build/libexec/cronhost/cronhost-plugin-runner' check '$build/test-plugins/libempty.so' | cat"
contains "runner switches to 65534:65534" "$out" '"name":"empty"'

# A jobs folder laid out as the kubelet mounts a ConfigMap: each file in a hidden timestamped
# folder, ..data linking to it and NAME linking through ..data. Each job counts once.
mkdir -p "$tmp/kube/scripts" "$tmp/kube/jobs.d/..2026_12_04_18_00_00.1"
cp "$src/jobs.d/heartbeat.yaml" "$tmp/kube/jobs.d/..2026_12_04_18_00_00.1/"
cp "$src/scripts/heartbeat.lua" "$tmp/kube/scripts/"
ln -s ..2026_12_04_18_00_00.1 "$tmp/kube/jobs.d/..data"
ln -s ..data/heartbeat.yaml "$tmp/kube/jobs.d/heartbeat.yaml"
run "validate a ConfigMap volume" 0 "$bin" validate --config /dev/null "$tmp/kube/jobs.d" &&
  expect "ConfigMap volume jobs" "$out" "1 jobs OK"

# Every kind of mistake, all files, compiler-style, exit 2.
run "validate bad fixture" 2 bash -c "cd '$src/tests/fixtures/bad' && '$bin' validate jobs.d"
expect "bad fixture diagnostics" "${err//$src/SRC}" "$(cat "$src/tests/fixtures/bad/expected.txt")"

# next --expr: RFC 3339 with the offset at each instant; strictly after --from.
run "next expr adelaide" 0 "$bin" next --expr "30 2 * * *" --tz Australia/Adelaide --from 2026-10-03T02:30:00+09:30 -n 3
expect "next expr adelaide" "$out" "2026-10-04T03:00:00+10:30
2026-10-05T02:30:00+10:30
2026-10-06T02:30:00+10:30"
run "next expr default count" 0 "$bin" next --expr "@hourly" --from 2026-01-01T00:00:00Z
expect "next default five" "$(echo "$out" | wc -l)" "5"
run "next local --from" 0 "$bin" next --expr "0 * * * *" --tz America/New_York --from 2026-11-01T01:30:00 -n 3
expect "next local from (first 01:30)" "$out" "2026-11-01T01:00:00-05:00
2026-11-01T02:00:00-05:00
2026-11-01T03:00:00-05:00"
run "next H with name" 0 "$bin" next --expr "H H * * *" --name nightly-backup --from 2026-01-01T00:00:00Z -n 1
h_fire=$out
run "next H with name again" 0 "$bin" next --expr "H H * * *" --name nightly-backup --from 2026-01-01T00:00:00Z -n 1
expect "H is stable" "$out" "$h_fire"
run "next croner's last Friday" 0 "$bin" next --expr "0 0 * * FRI#L" --tz UTC --from 2026-01-01T00:00:00Z -n 2
expect "FRI#L is the last Friday" "$out" "2026-01-30T00:00:00+00:00
2026-02-27T00:00:00+00:00"
run "next never fires" 2 "$bin" next --expr "0 0 30 2 *" && contains "never fires" "$err" "never fires"
run "next bad field" 2 "$bin" next --expr "0 6 * * MON-FRY"
expect "next bad field message" "$err" 'cronhost: error: day-of-week field "MON-FRY": unknown value "FRY", expected 0-7 or SUN-SAT
  0 6 * * MON-FRY
              ^'
run "next bad zone" 2 "$bin" next --expr "@daily" --tz Mars/Base && contains "bad zone" "$err" 'unknown time zone "Mars/Base"'
run "next bad from" 2 "$bin" next --expr "@daily" --from yesterday && contains "bad from" "$err" "--from: bad time"
run "next bad count" 2 "$bin" next --expr "@daily" -n 0
run "next job and expr" 2 "$bin" next heartbeat --expr "@daily" --jobs "$src/jobs.d"

# An expression with its own zone does not read ./cronhost.yaml: a broken one is not in the
# way; without --tz the config's zone is needed, and its problem is said.
mkdir -p "$tmp/broken-config"
printf 'timezone: [not, a, zone\n' >"$tmp/broken-config/cronhost.yaml"
run "next --tz skips the config" 0 bash -c "cd '$tmp/broken-config' && '$bin' next --expr '@daily' --tz UTC --from 2026-01-01T00:00:00Z -n 1"
expect "next --tz skips the config" "$out" "2026-01-02T00:00:00+00:00"
run "next without --tz reads the config" 2 bash -c "cd '$tmp/broken-config' && '$bin' next --expr '@daily' -n 1"
contains "next without --tz reads the config" "$err" "cronhost.yaml:"
run "next --tz with --config reads it" 2 "$bin" --config "$tmp/broken-config/cronhost.yaml" next --expr '@daily' --tz UTC -n 1

# next JOB and list on a folder of our own.
mkdir -p "$tmp/site/jobs.d" "$tmp/site/scripts"
echo 'return {}' >"$tmp/site/scripts/job.lua"
cat >"$tmp/site/jobs.d/version-check.yaml" <<'YAML'
description: Look for a newer app image twice a day
schedule:
  cron: ["0 6 * * *", "0 12 * * *"]
  timezone: Australia/Adelaide
run: {lua: scripts/job.lua}
params: {image: ghcr.io/acme/app, token: "${env:CRONHOST_CLI_TEST_TOKEN}"}
YAML
export CRONHOST_CLI_TEST_TOKEN=ghp_very_secret_token
run "next job" 0 "$bin" next version-check --jobs "$tmp/site/jobs.d" --from 2026-04-04T23:00:00+10:30 -n 3
expect "next job across fall-back" "$out" "2026-04-05T06:00:00+09:30
2026-04-05T12:00:00+09:30
2026-04-06T06:00:00+09:30"
run "next unknown job" 2 "$bin" next version-chek --jobs "$tmp/site/jobs.d" && contains "did you mean" "$err" "did you mean 'version-check'?"

# bin/cronhost answers next --expr and --version itself, linked statically (no loader, no shared
# object: their start-up is most of a one-shot command's time); the host binary it execs for the
# rest links the client libraries.
expect "bin/cronhost needs no shared object" "$(readelf -d "$bin" | grep -c NEEDED)" "0"
expect "bin/cronhost has no loader" "$(readelf -l "$bin" | grep -c INTERP)" "0"
contains "the host binary links libcurl" "$(readelf -d "$build/libexec/cronhost/cronhost" | grep NEEDED)" "libcurl"
# A static binary must not reach NSS: glibc's would load libnss_systemd with a shared libc, and
# crash. A config naming a user no file knows is read by next --expr without looking it up (it
# runs nothing), and still refused by the host binary's commands.
mkdir -p "$tmp/unknown-user"
printf 'run_as: no-such-user-cronhost\ntimezone: Asia/Tokyo\n' >"$tmp/unknown-user/cronhost.yaml"
run "next with an unknown run_as user" 0 bash -c "cd '$tmp/unknown-user' && '$bin' next --expr '@daily' --from 2026-01-01T00:00:00Z -n 1"
expect "next with an unknown run_as user" "$out" "2026-01-02T00:00:00+09:00"
run "validate with an unknown run_as user" 2 bash -c "cd '$tmp/unknown-user' && '$bin' validate --jobs '$src/jobs.d'"
contains "validate with an unknown run_as user" "$err" "run_as: no user named no-such-user-cronhost on this host"
# next JOB reads the jobs folder, so the host binary answers it; a job's webhook URL is read by
# libcurl there.
cat >"$tmp/site/jobs.d/hooked.yaml" <<'YAML'
schedule: {cron: "0 7 * * *", timezone: UTC}
run: {lua: scripts/job.lua}
allow: {http: ["https://hooks.acme.test/"]}
notify: {webhook: {url: "https://hooks.acme.test/cronhost"}}
YAML
run "next webhook job" 0 "$bin" next hooked --jobs "$tmp/site/jobs.d" --from 2026-01-01T00:00:00Z -n 1
expect "next webhook job" "$out" "2026-01-01T07:00:00+00:00"
sed -i 's|https://hooks.acme.test/cronhost|https://evil.test/x|' "$tmp/site/jobs.d/hooked.yaml"
run "next denied webhook" 2 "$bin" next hooked --jobs "$tmp/site/jobs.d"
contains "next denied webhook" "$err" "notify.webhook.url: http: https://evil.test/x is not allowed for job hooked (allow.http)"
run "validate denied webhook" 2 "$bin" validate --jobs "$tmp/site/jobs.d"
contains "validate denied webhook" "$err" "notify.webhook.url: http: https://evil.test/x is not allowed for job hooked (allow.http)"
sed -i 's|https://evil.test/x|http://[::1|' "$tmp/site/jobs.d/hooked.yaml"
run "next unreadable webhook" 2 "$bin" next hooked --jobs "$tmp/site/jobs.d"
contains "next unreadable webhook" "$err" "not a valid URL: http://[::1"
rm "$tmp/site/jobs.d/hooked.yaml"
# Alone (no libexec/cronhost beside it), bin/cronhost still answers next and --version and says
# where it looked for the rest.
mkdir -p "$tmp/lone"
cp "$bin" "$tmp/lone/cronhost"
run "lone next" 0 "$tmp/lone/cronhost" next --expr "@daily" --tz UTC --from 2026-01-01T00:00:00Z -n 1
expect "lone next" "$out" "2026-01-02T00:00:00+00:00"
run "lone version" 0 "$tmp/lone/cronhost" --version && contains "lone version" "$out" "cronhost 0."
run "lone validate" 127 "$tmp/lone/cronhost" --jobs next validate
expect "lone validate" "$err" "cronhost: error: the host binary was not found: looked for $tmp/libexec/cronhost/cronhost and $tmp/lone/libexec/cronhost/cronhost (only \`cronhost next --expr\` and \`cronhost --version\` work without it)"
run "lone help before next" 127 "$tmp/lone/cronhost" --help next  # the full command list is the host's
run "lone next job" 127 "$tmp/lone/cronhost" next nightly-backup --jobs "$src/jobs.d"
contains "lone next job" "$err" "(only \`cronhost next --expr\` and \`cronhost --version\` work without it)"
# After "--" every word is a JOB, "--expr" too: the host binary answers.
run "lone next -- --expr (a JOB)" 127 "$tmp/lone/cronhost" next -- --expr &&
  contains "lone next -- --expr (a JOB)" "$err" "the host binary was not found"
# A host binary that is there but cannot run: said, with the system's reason, exit 126.
mkdir -p "$tmp/libexec/cronhost"
printf 'not a program\n' >"$tmp/libexec/cronhost/cronhost"
chmod 0644 "$tmp/libexec/cronhost/cronhost"
run "host not runnable" 126 "$tmp/lone/cronhost" validate
expect "host not runnable" "$err" "cronhost: error: cannot start the host binary $tmp/libexec/cronhost/cronhost: Permission denied"
rm -r "$tmp/libexec"
# Odd command lines go to the host, which says what is wrong: an option missing its value, an
# empty word where the command should be.
run "--config without its value" 2 "$bin" --config && contains "--config without its value" "$err" "config"
run "empty command word" 2 "$bin" ""
run "list" 0 "$bin" list --jobs "$tmp/site/jobs.d"
contains "list header" "$out" "NAME"
contains "list row" "$out" "version-check  0 6 * * *; 0 12 * * *  Australia/Adelaide"
run "list json" 0 "$bin" list --json --jobs "$tmp/site/jobs.d"
contains "list json name" "$out" '"name": "version-check"'
contains "list json redacts" "$out" '"token": "***"'
for output in "$(cat "$tmp/out")" "$(cat "$tmp/err")"; do
  [[ "$output" == *ghp_very_secret_token* ]] && { echo "FAIL secret printed"; failed=$((failed + 1)); }
done
unset CRONHOST_CLI_TEST_TOKEN
run "unset secret fails validation" 2 "$bin" validate --jobs "$tmp/site/jobs.d"
contains "unset variable named" "$err" "environment variable CRONHOST_CLI_TEST_TOKEN is not set"

# history and show print times in each job's zone, as list does: the job file's zone, else
# the host config's default (also for a job whose file is gone).
mkdir -p "$tmp/zones/jobs.d" "$tmp/zones/scripts"
echo 'return 1' >"$tmp/zones/scripts/noop.lua"
printf 'timezone: Asia/Tokyo\nserver: {enabled: false}\n' >"$tmp/zones/cronhost.yaml"
printf 'schedule: {cron: "* * * * * *", timezone: Asia/Kolkata}\nrun: {lua: scripts/noop.lua}\n' >"$tmp/zones/jobs.d/kolkata.yaml"
printf 'schedule: {cron: "* * * * * *"}\nrun: {lua: scripts/noop.lua}\n' >"$tmp/zones/jobs.d/gone.yaml"
zones=(--jobs "$tmp/zones/jobs.d" --config "$tmp/zones/cronhost.yaml" --state "$tmp/zones/state.db")
"$bin" run "${zones[@]}" >"$tmp/zones/host.log" 2>&1 &
host_pid=$!
for _ in $(seq 100); do
  h=$("$bin" history "${zones[@]}" --status succeeded 2>/dev/null)
  [[ "$h" == *" kolkata "* && "$h" == *" gone "* ]] && break
  sleep 0.1
done
kill -TERM "$host_pid" && wait "$host_pid"
rm "$tmp/zones/jobs.d/gone.yaml"
run "history in job zones" 0 "$bin" history "${zones[@]}" --status succeeded
kolkata_row=$(grep -m1 ' kolkata ' <<<"$out")
gone_row=$(grep -m1 ' gone ' <<<"$out")
contains "history: a job's runs in its zone" "$kolkata_row" "+05:30"
contains "history: a job without a zone in the host's" "$gone_row" "+09:00"
run "show in the job's zone" 0 "$bin" show "$(awk '{print $1}' <<<"$kolkata_row")" "${zones[@]}"
contains "show: scheduled_for in the job's zone" "$(grep scheduled_for <<<"$out")" "+05:30"
contains "show: finished_at in the job's zone" "$(grep finished_at <<<"$out")" "+05:30"

# The host config: default zone for --expr, and its own errors.
printf 'timezone: Asia/Kolkata\n' >"$tmp/cronhost.yaml"
run "config zone" 0 "$bin" next --config "$tmp/cronhost.yaml" --expr "0 9 * * *" --from 2026-06-01T00:00:00Z -n 1
expect "config default zone" "$out" "2026-06-01T09:00:00+05:30"
printf 'workers: many\n' >"$tmp/bad.yaml"
run "bad config" 2 "$bin" validate --config "$tmp/bad.yaml" --jobs "$src/jobs.d"
expect "bad config message" "$err" "$tmp/bad.yaml:1:10: error: workers: expected a whole number from 1 to 1024, got text
1 error"

# Approvals: a job asks while the host runs, and people list, show, approve and cancel at the
# same time (the host holds the state file's lock; the command line writes beside it).
mkdir -p "$tmp/appr/jobs.d" "$tmp/appr/scripts"
cat >"$tmp/appr/scripts/ask.lua" <<'LUA'
for _, a in ipairs(approvals.list{status = 'APPROVED'}) do approvals.mark_executed(a.id, 'deployed') end
if #approvals.list{key = '0.1.5', status = 'EXECUTED'} == 0 then
  approvals.request{kind = 'update', key = '0.1.5', title = 'Update app to 0.1.5', payload = {image = 'ghcr.io/acme/app'}}
end
approvals.request{kind = 'update', key = '0.1.6', title = 'Update app to 0.1.6'}
LUA
printf 'schedule: {cron: "* * * * * *"}\nrun: {lua: scripts/ask.lua}\n' >"$tmp/appr/jobs.d/ask.yaml"
state="$tmp/appr/state.db"
# until_listed TEXT: waits up to 10 s for `approvals list --json` to contain TEXT.
until_listed() {
  for _ in $(seq 100); do
    [[ "$("$bin" approvals list --json --state "$state" 2>/dev/null)" == *"$1"* ]] && return 0
    sleep 0.1
  done
  echo "FAIL waiting for approvals to show $1"; failed=$((failed + 1))
}
# The table with runs of spaces squeezed and times replaced: they vary.
squeezed() { sed -E 's/ +/ /g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+00:00/TIME/g' <<<"$1"; }

run "approvals without a state file" 2 "$bin" approvals approve 1 --by alice --state "$state" &&
  contains "approvals no state file" "$err" "no state file at $state"
printf 'server: {listen: "127.0.0.1:0"}\n' >"$tmp/appr/cronhost.yaml"
"$bin" run --jobs "$tmp/appr/jobs.d" --state "$state" --config "$tmp/appr/cronhost.yaml" >"$tmp/appr/host.log" 2>&1 &
host_pid=$!
until_listed '"key": "0.1.6"'
run "approvals list" 0 "$bin" approvals list --state "$state"
expect "approvals list" "$(squeezed "$out")" "ID STATUS KIND KEY TITLE REQUESTED DECIDED BY
2 PENDING update 0.1.6 Update app to 0.1.6 TIME -
1 PENDING update 0.1.5 Update app to 0.1.5 TIME -"
run "approvals show" 0 "$bin" approvals show 1 --state "$state"
contains "approvals show status" "$out" "status: PENDING"
contains "approvals show job" "$out" "job: ask"
contains "approvals show payload" "$out" 'payload:
{
  "image": "ghcr.io/acme/app"
}'
run "approvals show json" 0 "$bin" approvals show 1 --json --state "$state" && contains "show json" "$out" '"title": "Update app to 0.1.5"'
run "approvals show unknown" 1 "$bin" approvals show 99 --state "$state" && expect "show unknown" "$err" "cronhost: error: no approval 99"

run "approve" 0 "$bin" approvals approve 1 --by alice --note "after 18:00" --state "$state"
expect "approve output" "$out" "approved 1 (update 0.1.5: Update app to 0.1.5) as alice"
until_listed '"status": "EXECUTED"'  # the job's next run acts on it
run "approvals list executed" 0 "$bin" approvals list --status executed --state "$state"
expect "list executed" "$(squeezed "$out")" "ID STATUS KIND KEY TITLE REQUESTED DECIDED BY
1 EXECUTED update 0.1.5 Update app to 0.1.5 TIME alice"
run "show notes" 0 "$bin" approvals show 1 --state "$state" && contains "decision and execution notes" "$out" "notes: after 18:00
deployed"
run "approve executed" 1 "$bin" approvals approve 1 --by bob --state "$state"
expect "approve executed message" "$err" "cronhost: error: approval 1 is EXECUTED; only a PENDING approval can be approved"
run "cancel executed" 1 "$bin" approvals cancel 1 --by bob --state "$state"
expect "cancel executed message" "$err" \
  "cronhost: error: approval 1 is EXECUTED; only a PENDING or APPROVED approval can be cancelled"
run "approve unknown" 1 "$bin" approvals approve 99 --by alice --state "$state" &&
  expect "approve unknown message" "$err" "cronhost: error: no approval 99"
run "cancel unknown" 1 "$bin" approvals cancel 99 --by alice --state "$state" &&
  expect "cancel unknown message" "$err" "cronhost: error: no approval 99"

# Cancelling deletes it: the job's next run asks again, under a new id.
run "cancel" 0 "$bin" approvals cancel 2 --by bob --note "not this one" --state "$state"
expect "cancel output" "$out" "cancelled 2 (update 0.1.6); the next request for it asks again"
until_listed '"id": 3'
run "approvals list pending" 0 "$bin" approvals list --status PENDING --kind update --state "$state"
expect "asked again" "$(squeezed "$out")" "ID STATUS KIND KEY TITLE REQUESTED DECIDED BY
3 PENDING update 0.1.6 Update app to 0.1.6 TIME -"
kill -TERM "$host_pid" && wait "$host_pid"
run "approve without a host" 0 "$bin" approvals approve 3 --by alice --state "$state"

run "approve without --by" 2 "$bin" approvals approve 3 --state "$state" && contains "--by required" "$err" "--by is required"
run "approve with empty --by" 2 "$bin" approvals approve 3 --by " " --state "$state"
run "approvals bad status" 2 "$bin" approvals list --status DONE --state "$state"
run "approvals no subcommand" 2 "$bin" approvals
run "approvals list json" 0 "$bin" approvals list --json --state "$state" && contains "list json" "$out" '"decided_by": "alice"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
