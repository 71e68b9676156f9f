#!/usr/bin/env python3
"""Writes a wrk Lua script that POSTs N distinct, correctly signed dbt webhook bodies in turn.

Usage: gen_wrk_bodies.py N SECRET OUT.lua [JOB_ID]
Each body has its own eventId and runId, so every request is a new durable event (no duplicates).
"""
import hashlib
import hmac
import json
import random
import string
import sys


def body(i: int, job_id: str) -> str:
    rnd = random.Random(i)
    event_id = "wev_" + "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(27))
    payload = {
        "accountId": 1, "webhookId": "wsu_bench", "eventId": event_id,
        "timestamp": "2026-01-01T00:00:00.000000000Z", "eventType": "job.run.completed",
        "webhookName": "bench",
        "data": {"jobId": job_id, "jobName": "bench", "runId": str(1_000_000 + i), "environmentId": "1234",
                 "environmentName": "Production", "dbtVersion": "1.0.0", "projectName": "bench",
                 "projectId": "167194", "runStatus": "Success", "runStatusCode": 10, "runStatusMessage": "None",
                 "runReason": "bench", "runStartedAt": "2026-01-01T00:00:00Z",
                 "runFinishedAt": "2026-01-01T00:01:00Z"},
    }
    return json.dumps(payload, separators=(",", ":"))


def main() -> None:
    n, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    job_id = sys.argv[4] if len(sys.argv) > 4 else "123"
    with open(out, "w") as f:
        f.write("local bodies = {}\nlocal sigs = {}\n")
        for i in range(n):
            b = body(i, job_id)
            sig = hmac.new(secret.encode(), b.encode(), hashlib.sha256).hexdigest()
            f.write("bodies[%d] = %s\nsigs[%d] = \"%s\"\n" % (i + 1, json.dumps(b), i + 1, sig))
        f.write("""
local n = #bodies
local counter = 0
local thread_index = 0
function setup(thread)
  thread:set("offset", thread_index)
  thread_index = thread_index + 1
end
function init(args)
  counter = offset * 1000003
end
request = function()
  counter = counter + 1
  local i = (counter % n) + 1
  return wrk.format("POST", "/webhooks/dbt", {["Content-Type"] = "application/json", ["Authorization"] = sigs[i]}, bodies[i])
end
local non2xx = 0
response = function(status, headers, body)
  if status ~= 200 then non2xx = non2xx + 1 end
end
""")


if __name__ == "__main__":
    main()
