-- wrk script for scripts/loadtest.sh: one sentence per POST /v1/embeddings, cycling through a file; counts 5xx.
local sentences = {}
local counter = 0
local fivexx = 0
local threads = {}

local function json_string(s)
  s = s:gsub('\\', '\\\\'):gsub('"', '\\"')
  s = s:gsub('%c', function(c) return string.format('\\u%04x', c:byte()) end)
  return '"' .. s .. '"'
end

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("LOADTEST_SENTENCES")
  for line in io.lines(path) do
    if #line > 0 then table.insert(sentences, line) end
  end
  counter = math.random(#sentences)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter % #sentences + 1
  local body = '{"model":"loadtest","input":' .. json_string(sentences[counter]) .. '}'
  return wrk.format(nil, "/v1/embeddings", nil, body)
end

function response(status, headers, body)
  if status >= 500 then fivexx = fivexx + 1 end
end

function done(summary, latency, requests)
  local total5 = 0
  for _, t in ipairs(threads) do total5 = total5 + (t:get("fivexx") or 0) end
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT requests_per_s=%.1f sentences_per_s=%.1f p50_ms=%.2f p99_ms=%.2f requests=%d non2xx=%d http5xx=%d socket_errors=%d\n",
    summary.requests / seconds, summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, total5, e.connect + e.read + e.write + e.timeout))
end
