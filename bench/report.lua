-- What every wrk run of the benchmark writes for bench.py: one tab-separated fact a line.
-- Loaded with dofile() by webhook.lua and healthz.lua; wrk runs from the repository root.

local report = {}

function report.open()
  local path = os.getenv("BENCH_WRK_OUT")
  if not path then
    return io.stdout
  end
  return assert(io.open(path, "w"))
end

-- Latencies are in microseconds, as wrk keeps them; the duration too.
function report.summary(f, summary, latency)
  local e = summary.errors
  f:write(string.format("summary\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
  f:write(string.format("latency\t%d\t%d\t%d\t%d\t%.1f\n", latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end

function report.close(f)
  if f ~= io.stdout then
    f:close()
  end
end

return report
