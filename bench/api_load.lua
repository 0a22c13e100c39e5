-- wrk script for bench/api_bench.py: GET one job with a bearer token, paced so that
-- `connections` connections make at most connections * 1000 / delay_ms requests a second.
local token = os.getenv("CRONHOST_BENCH_TOKEN")
local path = os.getenv("CRONHOST_BENCH_PATH") or "/api/jobs/j000500"
local delay_ms = tonumber(os.getenv("CRONHOST_BENCH_DELAY_MS") or "4")

function request()
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d errors=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
