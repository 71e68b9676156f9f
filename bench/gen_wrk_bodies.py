#!/usr/bin/env python3
"""Writes N distinct, correctly signed dbt webhook bodies, one "signature<TAB>body" per line,
for bench/webhooks.lua.

Usage: gen_wrk_bodies.py N SECRET OUT.tsv [JOB_ID]
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
        for i in range(n):
            b = body(i, job_id)
            sig = hmac.new(secret.encode(), b.encode(), hashlib.sha256).hexdigest()
            f.write(sig + "\t" + b + "\n")


if __name__ == "__main__":
    main()
