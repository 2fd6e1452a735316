-- wrk script: POST one call due in an hour on every request, with the
-- bearer token from the environment (LOOPD_TOKEN, empty for auth=off), and
-- count the replies by status so the runner can check they were all 201.
--   wrk -s post.lua URL          (the URL's path is ignored: /v1/calls)
-- BODY overrides the request body (the nginx ceiling uses the same one).
local body = os.getenv("BENCH_BODY") or '{"after":3600,"command":{"argv":["true"]}}'
local token = os.getenv("LOOPD_TOKEN") or ""
local path = os.getenv("BENCH_PATH") or "/v1/calls"
-- BENCH_METHOD=GET sends GET BENCH_PATH without a body instead.
local method = os.getenv("BENCH_METHOD") or "POST"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = method
  wrk.path = path
  if method ~= "GET" then
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
  end
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do
      total[k] = (total[k] or 0) + v
    end
  end
  for k, v in pairs(total) do
    io.write(string.format("STATUS %d %d\n", k, v))
  end
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("LATENCY_US %g %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("LATENCY_US max %d\n", latency.max))
  io.write(string.format("REQUESTS %d\n", summary.requests))
  io.write(string.format("DURATION_US %d\n", summary.duration))
  io.write(string.format("ERRORS connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
end
