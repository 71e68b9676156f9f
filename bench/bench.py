#!/usr/bin/env python3
"""Reproducible load tests for retl-relay (issue #8). Loopback only, bounded in time.

Measures, in one run, on this machine:
  ingest      durable webhooks/s and p50/p99 latency with wrk at 64 and at 1 connection(s),
              distinct correctly signed bodies, SQLite durable (WAL, synchronous=FULL);
              non-2xx must be 0
  limit       a static-200 server (nginx, `return 200`) under the same wrk load, for the ratio
  latency     trigger latency: from a webhook's 200 to the fake RudderStack receiving /start,
              for an idle connection (p50/p99)
  memory      peak RSS of the relay (VmHWM) after the load
  cold start  launch to the first durable 200, median of 10
  history     ingest with 1,000,000 events already stored vs an empty store

Usage: bench/bench.py [--smoke] [--runs N] [--duration S] [--bin PATH]
  --smoke   a few seconds in all, to keep the script working in CI (numbers meaningless)
Prints one JSON object per measurement and a summary table.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "support"))
import loopback  # noqa: E402
from loopback import free_port, wait_port  # noqa: E402

SECRET = "bench-secret"
TOKEN = "bench-token"


def body(i, job="123", run_base=5_000_000):
    return json.dumps({
        "accountId": 1, "webhookId": "wsu_bench", "eventId": "wev_bench_%012d_%d" % (i, run_base),
        "timestamp": "2026-01-01T00:00:00.000000000Z", "eventType": "job.run.completed", "webhookName": "bench",
        "data": {"jobId": job, "runId": str(run_base + i), "environmentId": "1234", "projectId": "167194",
                 "runStatus": "Success", "runStatusCode": 10, "runStatusMessage": "None",
                 "runStartedAt": "2026-01-01T00:00:00Z", "runFinishedAt": "2026-01-01T00:01:00Z"}},
        separators=(",", ":"))


def sign(b):
    return loopback.sign(b, SECRET)


def write_bodies(path, n, offset):
    with open(path, "w") as f:
        for i in range(offset, offset + n):
            b = body(i)
            f.write(sign(b) + "\t" + b + "\n")


class Relay:
    """A fake RudderStack plus a relay on a fresh SQLite file."""

    def __init__(self, args, work, routes=None, db=None, store_extra='retention = "0s"\n', sync_duration="50ms",
                 dispatch='poll_interval = "200ms"\nsync_poll_interval = "200ms"\n'):
        self.args, self.work = args, work
        self.fake_port, self.port = free_port(), free_port()
        self.db = db or os.path.join(work, "relay-%d.db" % self.port)
        env = dict(os.environ, RUDDERSTACK_API_TOKEN=TOKEN, DBT_WEBHOOK_SECRET=SECRET)
        self.fake = subprocess.Popen([args.bin, "fake-rudderstack", "--port", str(self.fake_port), "--sync-duration",
                                      sync_duration, "--log-level", "error"], env=env)
        wait_port(self.fake_port)
        cfg = os.path.join(work, "relay-%d.toml" % self.port)
        with open(cfg, "w") as f:
            # retention "0s" unless asked: the relay's own pruner stays out of the measurements
            # (the prune case turns it on).
            f.write('[server]\nlisten = "127.0.0.1:%d"\n[store]\nurl = "sqlite://%s"\n%s' % (self.port, self.db, store_extra))
            f.write('[rudderstack]\napi_base = "http://127.0.0.1:%d"\n' % self.fake_port)
            f.write('[dispatch]\n' + dispatch)
            f.write(routes or '[[route]]\njob_ids = ["123"]\nconnections = ["c1"]\n')
        self.cfg, self.env = cfg, env
        self.start()

    def start(self):
        self.proc = subprocess.Popen([self.args.bin, "serve", "--config", self.cfg, "--log-level", "error"], env=self.env)
        if not wait_port(self.port):
            raise RuntimeError("relay did not start")

    def stop_relay(self):
        """Stops the relay only; the fake RudderStack (and its running syncs) stays."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)

    def url(self, path="/webhooks/dbt"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def peak_rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))

    def stop(self):
        for p in (self.proc, self.fake):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def wrk(url, connections, duration, bodies):
    threads = 1 if connections == 1 else 2
    cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % duration, "--latency"]
    if bodies:
        cmd += ["-s", os.path.join(HERE, "webhooks.lua")]
    cmd += [url]
    if bodies:
        cmd += ["--", bodies]
    out = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, WRK_THREADS=str(threads))).stdout

    def ms(label):
        m = re.search(r"%s\s+([\d.]+)(us|ms|s)" % label, out)
        if not m:
            return None
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"non2xx=(\d+)", out)
    non2xx = int(non2xx.group(1)) if non2xx else int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
    worst = re.search(r"Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s)", out)
    max_ms = None
    if worst:
        v = float(worst.group(1))
        max_ms = v / 1000 if worst.group(2) == "us" else v * 1000 if worst.group(2) == "s" else v
    return {"rps": rps, "p50_ms": ms("50%"), "p99_ms": ms("99%"), "max_ms": max_ms, "non2xx": non2xx}


def nginx_limit(work, connections, duration):
    if not shutil.which("nginx"):
        return None
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write("worker_processes 1; daemon off; pid %s/nginx.pid; error_log stderr crit;\n"
                "events { worker_connections 1024; }\n"
                "http { access_log off; server { listen 127.0.0.1:%d; location / { return 200 'ok'; } } }\n"
                % (work, port))
    p = subprocess.Popen(["nginx", "-c", conf, "-p", work])
    wait_port(port)
    try:
        return wrk("http://127.0.0.1:%d/" % port, connections, duration, None)
    finally:
        p.terminate()
        p.wait()


def post(url, b):
    req = urllib.request.Request(url, data=b.encode(), headers={"Authorization": sign(b)}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def raw_request(b):
    """The bytes of a signed webhook POST, built ahead so the probe adds no client-side work."""
    data = b.encode()
    head = ("POST /webhooks/dbt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (sign(b), len(data)))
    return head.encode() + data


def raw_post(port, request):
    """Sends a prepared request over a plain socket; returns the status code. The cold-start
    probe uses this instead of urllib, whose own set-up cost (~1-3 ms in Python) is not the
    relay's."""
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionResetError("closed before a status line")
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def trigger_latency(args, work, n):
    routes = "".join('[[route]]\nname = "r%d"\njob_ids = ["%d"]\nconnections = ["lat_%d"]\n' % (i, 1000 + i, i)
                     for i in range(n))
    relay = Relay(args, work, routes)
    try:
        acked = {}
        for i in range(n):
            b = body(i, job=str(1000 + i), run_base=7_000_000)
            assert post(relay.url(), b) == 200
            acked["lat_%d" % i] = time.time()
            time.sleep(0.02)  # one idle connection at a time
        time.sleep(1)
        calls = json.load(urllib.request.urlopen("http://127.0.0.1:%d/_fake/calls" % relay.fake_port))["calls"]
        lat = []
        for c in calls:
            if c["endpoint"] == "start" and c["connection_id"] in acked:
                at = c["at"]
                t = time.mktime(time.strptime(at[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone + int(at[20:23]) / 1000
                lat.append(max(0.0, (t - acked[c["connection_id"]]) * 1000))
        lat.sort()
        return {"p50_ms": statistics.median(lat), "p99_ms": lat[int(len(lat) * 0.99) - 1], "samples": len(lat),
                "resolution_ms": 1}
    finally:
        relay.stop()


def cold_start(args, work, runs, fresh=True):
    """Launch of `retl-relay serve` to its first durable 200, median of `runs`. fresh: a new
    store each time (first install: the schema is created); otherwise restarts on one store that
    already exists (the usual case: a deploy, a crash, a reboot)."""
    times = []
    relay_port, fake_port = free_port(), free_port()
    db = os.path.join(work, "cold-existing.db")
    for i in range(runs + (0 if fresh else 1)):
        if fresh:
            relay_port, fake_port = free_port(), free_port()
            db = os.path.join(work, "cold-%d.db" % i)
        cfg = os.path.join(work, "cold-%d.toml" % i)
        with open(cfg, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\n[store]\nurl = "sqlite://%s"\n' % (relay_port, db))
            f.write('[rudderstack]\napi_base = "http://127.0.0.1:%d"\n[[route]]\nconnections = ["c"]\n' % fake_port)
        b = body(i, run_base=9_000_000 if fresh else 9_500_000)
        request = raw_request(b)
        env = dict(os.environ, RUDDERSTACK_API_TOKEN=TOKEN, DBT_WEBHOOK_SECRET=SECRET)
        t0 = time.perf_counter()
        p = subprocess.Popen([args.bin, "serve", "--config", cfg, "--log-level", "error"], env=env)
        while True:
            try:
                if raw_post(relay_port, request) == 200:
                    break
            except OSError:
                time.sleep(0.0005)
        if fresh or i > 0:  # the first launch on the existing store only creates it
            times.append((time.perf_counter() - t0) * 1000)
        p.terminate()
        p.wait()
    return {"median_ms": statistics.median(times), "runs": runs}


def preload(db, n):
    """Stores n events (and their succeeded triggers) directly, as history."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("""INSERT INTO events (event_id, event_type, account_id, job_id, run_id, run_status_code, received_at,
                   raw_body) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                   SELECT 'wev_history_' || i, 'job.run.completed', 1, 123, i, 10, 1700000000000 + i,
                   '{"eventId":"wev_history_' || i || '"}' FROM n""", (n,))
    con.execute("""INSERT INTO triggers (event_id, event_seq, route, connection_id, sync_type, if_running, dedupe_key,
                   state, created_at, next_attempt_at, updated_at, sync_id)
                   SELECT event_id, id, 'route-1', 'c1', 'incremental', 'queue', 'history|' || run_id, 'succeeded',
                   received_at, received_at, received_at, 'sync_history' FROM events""")
    con.commit()
    con.close()


def realistic(args, work, bodies, offset):
    """The case users live in: syncs that take 30 s, the relay's default sync_poll_interval
    (10 s), 64 connections sending distinct signed webhooks to one route for `realistic_seconds`,
    nginx's static 200 measured in the same run. Every webhook that arrives while a sync runs
    waits for the follow-up, so the backlog grows for the whole run (issue #13)."""
    seconds = args.realistic_seconds
    write_bodies(bodies, 20_000 * seconds, offset)
    relay = Relay(args, work, sync_duration="30s", dispatch="")
    result = wrk(relay.url(), 64, seconds, bodies)
    rss = relay.peak_rss_kb()
    longest = longest_transaction(relay)
    longest_sync = longest_transaction(relay, "retl_relay_store_sync_seconds")
    con = sqlite3.connect(relay.db)
    waiting = con.execute("SELECT COUNT(*) FROM trigger_view WHERE state = 'pending'").fetchone()[0]
    con.close()
    relay.stop()
    limit = nginx_limit(work, 64, seconds)
    out = {"seconds": seconds, "ingest": result, "limit": limit, "peak_rss_mb": rss / 1024, "triggers_waiting": waiting,
           "longest_transaction_ms": longest, "longest_sync_ms": longest_sync}
    if limit and result:
        out["ingest_vs_limit"] = result["rps"] / limit["rps"]
    return out


def longest_transaction(relay, metric="retl_relay_store_transaction_seconds"):
    """The longest store transaction the relay held (or, with the sync metric, the longest
    fdatasync), as the upper bound of the highest non-empty bucket of the histogram (ms)."""
    text = urllib.request.urlopen(relay.url("/metrics"), timeout=10).read().decode()
    prev, longest = 0, None
    for m in re.finditer(metric + r'_bucket\{le="([^"]+)"\} (\d+)', text):
        le, n = m.group(1), int(m.group(2))
        if n > prev:
            longest = float("inf") if le == "+Inf" else float(le) * 1000
        prev = n
    return longest


def backlog(args, work, n, bodies, offset):
    """1,000,000 triggers waiting behind a running sync (issue #13): how long from the relay
    learning that the sync ended to the follow-up /start that covers them all, and the slowest
    webhook answer while that happens (64 connections sending throughout)."""
    db = os.path.join(work, "backlog.db")
    seconds = 5 if args.smoke else 40  # the sync's duration and wrk's; --smoke only checks it runs
    relay = Relay(args, work, db=db, sync_duration="%ds" % seconds, dispatch="")
    post(relay.url(), body(0, run_base=9_000_000))  # starts sync_1, which runs for 40 s
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, calls = fake_calls(relay)
        if any(c["endpoint"] == "start" for c in calls):
            break
        time.sleep(0.1)
    relay.stop_relay()
    # The backlog, stored as ingest would have: events, triggers with their connection's seqs,
    # and the connection's counters.
    now_ms = int(time.time() * 1000)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    base = con.execute("SELECT seq FROM connections WHERE id = 'c1'").fetchone()[0]
    first = con.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM events").fetchone()[0]
    con.execute("""INSERT INTO events (event_id, event_type, account_id, job_id, run_id, run_status_code, received_at,
                   raw_body) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
                   SELECT 'wev_backlog_' || i, 'job.run.completed', 1, 123, 8000000 + i, 10, ?,
                   '{"eventId":"wev_backlog_' || i || '"}' FROM n""", (n, now_ms))
    con.execute("""INSERT INTO triggers (event_id, event_seq, route, connection_id, sync_type, if_running, dedupe_key,
                   state, created_at, next_attempt_at, updated_at, conn_seq)
                   SELECT event_id, id, 'route-1', 'c1', 'incremental', 'queue', 'backlog|' || run_id, 'pending',
                   received_at, received_at, received_at, ? + id - ? + 1 FROM events WHERE id >= ?""", (base, first, first))
    con.execute("UPDATE connections SET seq = seq + ?, last_queue_seq = seq + ? WHERE id = 'c1'", (n, n))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    relay.start()
    write_bodies(bodies, 20_000 * seconds, offset)
    prober = Prober(relay, 7_000_000)
    result = wrk(relay.url(), 64, seconds, bodies)  # covers the end of sync_1 and the follow-up
    prober.stop()
    rss = relay.peak_rss_kb()
    _, calls = fake_calls(relay)
    longest = longest_transaction(relay)
    longest_sync = longest_transaction(relay, "retl_relay_store_sync_seconds")
    con = sqlite3.connect(db)
    covered = con.execute("SELECT MAX(triggers) FROM starts WHERE connection_id = 'c1'").fetchone()[0]
    con.close()
    relay.stop()
    polls = [c for c in calls if c["method"] == "GET" and c["path"].endswith("/syncs/sync_1")]
    starts = [c for c in calls if c["endpoint"] == "start"]
    out = {"backlog": n, "ingest": result, "peak_rss_mb": rss / 1024, "longest_transaction_ms": longest,
           "longest_sync_ms": longest_sync, "covered_by_follow_up": covered}
    if polls and starts:
        learned = iso_seconds(polls[-1]["at"])
        follow = [iso_seconds(c["at"]) for c in starts if iso_seconds(c["at"]) >= learned]
        if follow:
            out["end_to_follow_up_s"] = follow[0] - learned
            # The transition: from the poll that saw sync_1 end to a second after the follow-up.
            worst, n = prober.worst(learned - 1, follow[0] + 1)
            out["transition_worst_ms"], out["transition_probes"] = worst, n
    out["probe_worst_ms"] = prober.worst()[0]
    if prober.samples:
        t, ms = max(prober.samples, key=lambda x: x[1])
        out["probe_worst_after_s"] = t - prober.samples[0][0]
    return out


class Prober:
    """Posts one signed webhook every 20 ms on its own connection, beside the load, and keeps
    (time, latency) of each: what a webhook waited at a given moment (wrk only gives a whole
    run's numbers)."""

    def __init__(self, relay, run_base):
        self.relay, self.run_base, self.samples = relay, run_base, []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.relay.port, timeout=10)
        i = 0
        while not self.stopping.is_set():
            b = body(i, run_base=self.run_base)
            i += 1
            t0 = time.time()
            try:
                conn.request("POST", "/webhooks/dbt", b.encode(), {"Authorization": sign(b)})
                conn.getresponse().read()
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.relay.port, timeout=10)
                continue
            self.samples.append((t0, (time.time() - t0) * 1000))
            self.stopping.wait(0.02)

    def stop(self):
        self.stopping.set()
        self.thread.join()

    def worst(self, start=None, end=None):
        xs = [ms for t, ms in self.samples if (start is None or t >= start) and (end is None or t <= end)]
        return (max(xs) if xs else None), len(xs)


def fake_calls(relay):
    with urllib.request.urlopen("http://127.0.0.1:%d/_fake/calls" % relay.fake_port, timeout=30) as r:
        return r.status, json.loads(r.read())["calls"]


def iso_seconds(text):
    return datetime.datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def prune_under_load(args, work, n, bodies, offset):
    """Webhooks at 64 connections while the relay's own pruner removes n old events (and their
    triggers) in its batches; the same load on the same store with nothing to prune first, as
    the baseline. Returns both wrk results and how long the pass took."""
    db = os.path.join(work, "prune.db")
    seed = Relay(args, work, db=db)
    seed.stop()
    preload(db, n)  # received in 2023: far older than any retention
    write_bodies(bodies, 20_000 * args.duration, offset)
    base = Relay(args, work, db=db)
    baseline = wrk(base.url(), 64, args.duration, bodies)
    base.stop()
    write_bodies(bodies, 20_000 * args.duration, offset + 20_000 * args.duration)
    relay = Relay(args, work, db=db, store_extra='retention = "30d"\nretention_interval = "1s"\n')
    start = time.time()
    during = wrk(relay.url(), 64, args.duration, bodies)
    # The pass began a second after start; wait for it to finish (bounded) to time it.
    con = sqlite3.connect(db)
    deadline = time.time() + 300
    while time.time() < deadline and con.execute("SELECT COUNT(*) FROM events WHERE event_id LIKE 'wev_history_%'").fetchone()[0]:
        time.sleep(0.2)
    left = con.execute("SELECT COUNT(*) FROM events WHERE event_id LIKE 'wev_history_%'").fetchone()[0]
    con.close()
    took = time.time() - start - 1.0
    relay.stop()
    return {"events": n, "left": left, "pass_seconds": took, "baseline": baseline, "during": during}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--history", type=int, default=1_000_000)
    ap.add_argument("--realistic-seconds", type=int, default=30)
    ap.add_argument("--backlog", type=int, default=1_000_000, help="triggers waiting in the backlog case")
    ap.add_argument("--case", default="all", choices=["all", "realistic", "backlog"],
                    help="run one case alone (the headline ones) instead of everything")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin", "retl-relay"))
    args = ap.parse_args()
    if args.smoke:
        args.runs, args.duration, args.history, args.realistic_seconds, args.backlog = 1, 1, 2000, 1, 2000
    work = tempfile.mkdtemp(prefix="retl-relay-bench-")
    results = {}
    if args.case != "all":
        try:
            bodies = os.path.join(work, "bodies.tsv")
            run = realistic if args.case == "realistic" else lambda *a: backlog(a[0], a[1], args.backlog, a[2], a[3])
            print(json.dumps({args.case: run(args, work, bodies, 0)}, indent=1))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    try:
        per_run = 20_000 * args.duration  # more distinct bodies than a run can send (~12k/s measured)
        offset = 0
        ingest64, ingest1, limit, rss, history = [], [], [], [], []
        for r in range(args.runs):
            bodies = os.path.join(work, "bodies.tsv")
            write_bodies(bodies, per_run, offset)
            offset += per_run
            relay = Relay(args, work)
            ingest64.append(wrk(relay.url(), 64, args.duration, bodies))
            write_bodies(bodies, 5000 * args.duration, offset)
            offset += 5000 * args.duration
            ingest1.append(wrk(relay.url(), 1, args.duration, bodies))
            rss.append(relay.peak_rss_kb())
            relay.stop()
            limit.append(nginx_limit(work, 64, args.duration))
            # History: the same load on a store already holding `history` events.
            db = os.path.join(work, "history-%d.db" % r)
            seed = Relay(args, work, db=db)  # creates the schema
            seed.stop()
            preload(db, args.history)
            write_bodies(bodies, per_run, offset)
            offset += per_run
            relay = Relay(args, work, db=db)
            history.append(wrk(relay.url(), 64, args.duration, bodies))
            relay.stop()
            print(json.dumps({"run": r, "ingest64": ingest64[-1], "ingest1": ingest1[-1], "limit": limit[-1],
                              "peak_rss_kb": rss[-1], "history": history[-1]}), flush=True)
        med = lambda xs, k: statistics.median([x[k] for x in xs if x and x.get(k) is not None]) if any(xs) else None
        results = {
            "ingest64_rps": med(ingest64, "rps"), "ingest64_p50_ms": med(ingest64, "p50_ms"),
            "ingest64_p99_ms": med(ingest64, "p99_ms"), "ingest64_non2xx": sum(x["non2xx"] for x in ingest64),
            "ingest1_rps": med(ingest1, "rps"), "ingest1_p50_ms": med(ingest1, "p50_ms"),
            "ingest1_p99_ms": med(ingest1, "p99_ms"), "ingest1_non2xx": sum(x["non2xx"] for x in ingest1),
            "limit_rps": med(limit, "rps") if any(limit) else None,
            "peak_rss_mb": statistics.median(rss) / 1024,
            "history_rps": med(history, "rps"), "history_events": args.history,
        }
        if results["limit_rps"]:
            results["ingest_vs_limit"] = results["ingest64_rps"] / results["limit_rps"]
        results["history_vs_empty"] = results["history_rps"] / results["ingest64_rps"]
        results["realistic"] = realistic(args, work, os.path.join(work, "bodies.tsv"), offset)
        offset += 20_000 * args.realistic_seconds
        results["backlog"] = backlog(args, work, args.backlog, os.path.join(work, "bodies.tsv"), offset)
        offset += 20_000 * 40
        results["prune"] = prune_under_load(args, work, args.history, os.path.join(work, "bodies.tsv"), offset)
        offset += 40_000 * args.duration
        results["trigger_latency"] = trigger_latency(args, work, 20 if args.smoke else 200)
        results["cold_start"] = cold_start(args, work, 3 if args.smoke else 10)
        results["restart"] = cold_start(args, work, 3 if args.smoke else 10, fresh=False)
        print(json.dumps({"summary": results}, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
