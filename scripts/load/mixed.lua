-- wrk: a mix of what the page and scripts ask (scripts/load.sh):
--   45% GET  /api/devices
--   20% GET  /api/estimates/{id}   (links stored before the run: LINK_IDS)
--   20% POST /api/estimate         (GPT-2 decode scenario)
--   10% POST /api/estimates        (a new scenario each time: a new link)
--    5% GET  /api/health
-- Counts the answers by status and prints the share of 429s and of errors.

local ids = {}
for id in string.gmatch(os.getenv("LINK_IDS") or "", "[^,]+") do
  table.insert(ids, id)
end

local scenario = '{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":8,"prompt":128,"new_tokens":128},"requests_per_day":%d,"days":30}],"hardware":{"device":"h100-sxm","count":1},"infrastructure":{"pue":1.2,"region":"FR"}}'
local json = { ["Content-Type"] = "application/json" }

local threads = {}
function setup(thread)
  thread:set("seed", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 100 + seed)
  ok, limited, client_errors, server_errors = 0, 0, 0, 0
  -- distinct request counts per thread keep every written link new
  written = seed * 100000000
end

function request()
  local r = math.random(100)
  if r <= 45 then
    return wrk.format("GET", "/api/devices")
  elseif r <= 65 and #ids > 0 then
    return wrk.format("GET", "/api/estimates/" .. ids[math.random(#ids)])
  elseif r <= 85 then
    return wrk.format("POST", "/api/estimate", json, string.format(scenario, 10000))
  elseif r <= 95 then
    written = written + 1
    return wrk.format("POST", "/api/estimates", json, string.format(scenario, written))
  else
    return wrk.format("GET", "/api/health")
  end
end

function response(status, headers, body)
  if status == 429 then
    limited = limited + 1
  elseif status >= 500 then
    server_errors = server_errors + 1
  elseif status >= 400 then
    client_errors = client_errors + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local t = { ok = 0, limited = 0, client_errors = 0, server_errors = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do
      t[k] = t[k] + thread:get(k)
    end
  end
  local n = t.ok + t.limited + t.client_errors + t.server_errors
  io.write(string.format(
    "answers: %d 2xx/3xx, %d 429 (%.3f%%), %d other 4xx, %d 5xx; p50 %.2f ms, p99 %.2f ms\n",
    t.ok, t.limited, n > 0 and 100 * t.limited / n or 0, t.client_errors, t.server_errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
