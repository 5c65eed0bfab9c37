-- GET /healthz: only a summary at the end, so wrk keeps its fast path (no Lua per request).
local report = dofile("bench/report.lua")

function done(summary, latency, requests)
  local f = report.open()
  report.summary(f, summary, latency)
  report.close(f)
end
