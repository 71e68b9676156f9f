-- wrk script: POSTs pre-generated signed dbt webhooks (bench/gen_wrk_bodies.py) in turn.
-- Usage: wrk ... -s bench/webhooks.lua URL -- BODIES.tsv
-- Each wrk thread takes a disjoint slice, so no body is sent twice while the file lasts
-- (after that it wraps around and the relay answers "duplicate").
local sigs, bodies = {}, {}
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  -- Each thread keeps only its own slice of the file (line n goes to thread n mod threads).
  local path = args[1]
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
  local n = 0
  for line in io.lines(path) do
    if n % nthreads == id then
      local tab = line:find("\t", 1, true)
      sigs[#sigs + 1] = line:sub(1, tab - 1)
      bodies[#bodies + 1] = line:sub(tab + 1)
    end
    n = n + 1
  end
  cursor = 0
end

request = function()
  local i = (cursor % #bodies) + 1
  cursor = cursor + 1
  return wrk.format("POST", "/webhooks/dbt",
    {["Content-Type"] = "application/json", ["Authorization"] = sigs[i]}, bodies[i])
end

function done(summary, latency, requests)
  io.write(string.format("non2xx=%d requests=%d\n", summary.errors.status, summary.requests))
end
