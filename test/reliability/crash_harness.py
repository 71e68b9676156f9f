#!/usr/bin/env python3
"""Crash and fault harness: proves the relay loses nothing and starts nothing twice.

R rounds; in each, M distinct signed dbt webhooks go out over K keep-alive connections while
the relay is SIGKILLed at random moments and restarted (same port, same SQLite file). A webhook
that fails (refused, reset, 503) is re-sent as dbt Cloud would. With --faults the fake
RudderStack also answers 30 % 5xx, 10 % slower than the relay's request timeout (performed),
5 % "performed the start, then 500 or dropped the connection", 5 % 429 with Retry-After, and a
background thread starts "external" syncs so 409s arrive in storms.

After the last round the relay runs until every trigger has ended (bounded), and the harness
checks, reading the SQLite store and the fake's call record:
  1. every webhook answered 200 is stored (and nothing is stored that was not sent);
  2. every stored success event has exactly the triggers its routes call for;
  3. every trigger ended: covered by a sync (succeeded/failed), skipped by policy (with the
     running sync's id), or dead with a reason; none is left pending/starting/running;
  4. every start RudderStack performed is a sync the store knows, and covers at least one
     trigger: a duplicate start would be a sync covering none, or one the store never heard of.
Exit 0 when all hold, 1 otherwise; --json FILE writes the figures.

Loopback only; bounded by --rounds, --webhooks and --settle-timeout.
  python3 test/reliability/crash_harness.py --bin build/ci/bin/retl-relay            # CI size
  python3 test/reliability/crash_harness.py --bin … --rounds 50 --webhooks 2000 --faults  # long
"""
import argparse
import http.client
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from loopback import free_port, sign  # noqa: E402

SECRET = "crash-harness-webhook-secret"
TOKEN = "crash-harness-token"
# job id → connections it triggers (see the config below); other jobs trigger nothing.
ROUTES = {"1": ["conn_a", "conn_b"], "2": ["conn_b"], "3": ["conn_c"], "4": ["conn_d"]}
CONNECTIONS = ["conn_a", "conn_b", "conn_c", "conn_d"]


def wait_port_file(path: str, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.01)
    raise RuntimeError(f"no port in {path}")


def http_json(port: int, method: str, path: str, body: str = "", timeout: float = 10.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body or None, headers={"Content-Type": "application/json"})
        res = conn.getresponse()
        return res.status, json.loads(res.read() or b"{}")
    finally:
        conn.close()


def webhook(event_id: str, job_id: str, success: bool, run_id: int) -> str:
    payload = {
        "accountId": 1, "webhookId": "wsu_harness", "eventId": event_id,
        "timestamp": "2026-01-01T00:00:00.000000000Z", "eventType": "job.run.completed",
        "webhookName": "harness",
        "data": {"jobId": job_id, "jobName": "harness", "runId": str(run_id), "environmentId": "1",
                 "environmentName": "Production", "dbtVersion": "1.0.0", "projectName": "harness",
                 "projectId": "1", "runStatus": "Success" if success else "Errored",
                 "runStatusCode": 10 if success else 20, "runStatusMessage": "None", "runReason": "harness",
                 "runStartedAt": "2026-01-01T00:00:00Z", "runFinishedAt": "2026-01-01T00:01:00Z"},
    }
    return json.dumps(payload, separators=(",", ":"))


class Relay:
    """The relay process: started, SIGKILLed and restarted on one port and one store."""

    def __init__(self, binary: str, workdir: str, port: int):
        self.binary, self.workdir, self.port = binary, workdir, port
        self.proc = None
        self.kills = 0
        self.log = open(os.path.join(workdir, "relay.log"), "ab")

    def start(self) -> None:
        port_file = os.path.join(self.workdir, "relay.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        env = dict(os.environ, DBT_WEBHOOK_SECRET=SECRET, RUDDERSTACK_API_TOKEN=TOKEN)
        self.proc = subprocess.Popen([self.binary, "serve", "--config", os.path.join(self.workdir, "relay.toml"),
                                      "--port-file", port_file], env=env, stdout=self.log, stderr=self.log)
        wait_port_file(port_file)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.kills += 1

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -1


def write_config(workdir: str, relay_port: int, fake_port: int, faults: bool) -> None:
    # Short timers so a run takes seconds: the lease decides how soon a restarted relay can take
    # over connections its killed predecessor held.
    request_timeout = "1s" if faults else "5s"
    routes = "\n".join([
        '[[route]]\nname = "a"\njob_ids = [1]\nconnections = ["conn_a", "conn_b"]\n',
        '[[route]]\nname = "b"\njob_ids = [2]\nconnections = ["conn_b"]\nsync_type = "full"\n',
        '[[route]]\nname = "c"\njob_ids = [3]\nconnections = ["conn_c"]\nif_running = "skip"\n',
        '[[route]]\nname = "d"\njob_ids = [4]\nconnections = ["conn_d"]\nif_running = "restart"\n',
    ])
    with open(os.path.join(workdir, "relay.toml"), "w") as f:
        f.write(f'''[server]
listen = "127.0.0.1:{relay_port}"
[store]
url = "sqlite://{workdir}/relay.db"
[dbt]
webhook_secret = "${{DBT_WEBHOOK_SECRET}}"
[rudderstack]
api_base = "http://127.0.0.1:{fake_port}"
connect_timeout = "1s"
request_timeout = "{request_timeout}"
[dispatch]
workers = 2
poll_interval = "50ms"
retry_initial = "20ms"
retry_max = "300ms"
lease = "1s"
sync_poll_interval = "50ms"
{routes}''')
    os.chmod(os.path.join(workdir, "relay.toml"), 0o600)


class Sender:
    """K threads sending queued webhooks; failures are re-queued, 200s recorded."""

    def __init__(self, port: int, connections: int):
        self.port, self.k = port, connections
        self.acked = set()
        self.sent = set()
        self.retries = 0
        self.status_counts = {}
        self.lock = threading.Lock()

    def send_all(self, bodies) -> None:
        todo = queue.Queue()
        for b in bodies:
            todo.put(b)
        remaining = [len(bodies)]

        def worker():
            conn = None
            while True:
                with self.lock:
                    if remaining[0] == 0:
                        break
                try:
                    event_id, body = todo.get(timeout=0.05)
                except queue.Empty:
                    continue
                sig = sign(body, SECRET)
                status = 0
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    conn.request("POST", "/webhooks/dbt", body=body,
                                 headers={"Content-Type": "application/json", "Authorization": sig})
                    res = conn.getresponse()
                    res.read()
                    status = res.status
                    if res.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = None
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                with self.lock:
                    self.sent.add(event_id)
                    self.status_counts[status] = self.status_counts.get(status, 0) + 1
                    if status == 200:
                        self.acked.add(event_id)
                        remaining[0] -= 1
                        continue
                    self.retries += 1
                time.sleep(0.02)  # relay down or busy: dbt Cloud would retry too
                todo.put((event_id, body))
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=worker) for _ in range(self.k)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def inject_faults(fake_port: int) -> None:
    # Tried in this order on every call, each drawing independently (the fake is seeded); the
    # conditional rates below give each call 30 % 5xx, 10 % slow, 5 % 429 and each start 2.5 %
    # performed-then-500 and 2.5 % performed-then-dropped.
    for fault in [
        {"endpoint": "any", "status": 503, "rate": 0.30},
        {"endpoint": "any", "status": 0, "latency_ms": 1500, "rate": 0.10 / 0.70},  # > request_timeout
        {"endpoint": "any", "status": 429, "retry_after": 1, "rate": 0.05 / 0.60},
        {"endpoint": "start", "status": 500, "perform": True, "rate": 0.025 / 0.55},
        {"endpoint": "start", "drop": True, "perform": True, "rate": 0.025 / 0.525},
    ]:
        status, _ = http_json(fake_port, "POST", "/_fake/faults", json.dumps(fault))
        assert status == 200, fault


def external_storm(fake_port: int, stop: threading.Event, rng: random.Random, counts: dict) -> None:
    """Starts syncs "from outside" so the relay's starts meet 409s."""
    while not stop.is_set():
        c = rng.choice(CONNECTIONS)
        try:
            status, _ = http_json(fake_port, "POST", f"/_fake/connections/{c}/external")
            if status == 200:
                counts["external_syncs"] += 1
        except OSError:
            pass
        stop.wait(rng.uniform(0.1, 0.5))


def settle(db_path: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            open_triggers = db.execute(
                "SELECT COUNT(*) FROM trigger_view WHERE state IN ('pending','starting','running')").fetchone()[0]
        finally:
            db.close()
        if open_triggers == 0:
            return True
        time.sleep(0.2)
    return False


def check(db_path: str, fake_port: int, sender: Sender, sent_bodies: dict) -> dict:
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    failures = []
    stored = {row[0]: row for row in db.execute("SELECT event_id, job_id, run_status_code FROM events")}
    missing = sender.acked - set(stored)
    if missing:
        failures.append(f"{len(missing)} acknowledged webhooks are not stored, e.g. {sorted(missing)[:3]}")
    unknown = set(stored) - set(sent_bodies)
    if unknown:
        failures.append(f"{len(unknown)} stored events were never sent")

    triggers = db.execute("SELECT id, event_id, connection_id, state, sync_id, last_error FROM trigger_view").fetchall()
    by_event = {}
    for t in triggers:
        by_event.setdefault(t[1], []).append(t[2])
    wrong_routing = 0
    for event_id, (_, job_id, code) in stored.items():
        expected = sorted(ROUTES.get(str(job_id), [])) if code == 10 else []
        if sorted(by_event.get(event_id, [])) != expected:
            wrong_routing += 1
    if wrong_routing:
        failures.append(f"{wrong_routing} events do not have exactly the triggers their routes call for")

    states = {}
    for _, _, _, state, sync_id, last_error in triggers:
        states[state] = states.get(state, 0) + 1
        if state in ("pending", "starting", "running"):
            continue
        if state in ("succeeded", "failed", "skipped") and not sync_id:
            failures.append(f"a {state} trigger has no sync id")
        if state == "dead" and not last_error:
            failures.append("a dead trigger has no reason")
    still_open = sum(states.get(s, 0) for s in ("pending", "starting", "running"))
    if still_open:
        failures.append(f"{still_open} triggers never ended")

    known_syncs = {(c, s) for c, s in db.execute("SELECT connection_id, sync_id FROM syncs")}
    covering = {}
    for _, _, c, state, sync_id, _ in triggers:
        if sync_id and state in ("succeeded", "failed", "running"):
            covering[(c, sync_id)] = covering.get((c, sync_id), 0) + 1
    _, calls = http_json(fake_port, "GET", "/_fake/calls", timeout=30)
    calls = calls["calls"]
    with open(os.path.join(os.path.dirname(db_path), "fake-calls.json"), "w") as f:
        json.dump(calls, f, indent=1)
    performed = [(c["connection_id"], c["sync_id"]) for c in calls
                 if c["endpoint"] == "start" and c["performed"] and c["real_status"] == 200]
    unknown_syncs = [p for p in performed if p not in known_syncs]
    orphan_syncs = [p for p in performed if p in known_syncs and covering.get(p, 0) == 0]
    if unknown_syncs:
        failures.append(f"{len(unknown_syncs)} syncs RudderStack started are unknown to the relay: {unknown_syncs[:3]}")
    if orphan_syncs:
        failures.append(f"{len(orphan_syncs)} syncs the relay started cover no trigger (duplicates): {orphan_syncs[:3]}")
    faults = {}
    for c in calls:
        if c.get("fault"):
            kind = c["fault"] + (" (start performed)" if c["endpoint"] == "start" and c["performed"] and
                                 c["fault"] in ("500", "drop") else "")
            faults[kind] = faults.get(kind, 0) + 1
    db.close()
    return {
        "events_stored": len(stored), "acknowledged": len(sender.acked), "triggers": len(triggers),
        "trigger_states": states, "api_calls": len(calls), "starts_performed": len(performed),
        "faults_injected": faults, "faults_total": sum(faults.values()),
        "answers_by_status": {str(k): v for k, v in sorted(
            ((s, sum(1 for c in calls if c["status"] == s)) for s in {c["status"] for c in calls}))},
        "failures": failures,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/ci/bin/retl-relay")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--webhooks", type=int, default=500, help="per round")
    ap.add_argument("--connections", type=int, default=8, help="concurrent webhook senders")
    ap.add_argument("--kills", type=int, default=2, help="SIGKILLs per round, at random moments")
    ap.add_argument("--faults", action="store_true", help="inject RudderStack faults and 409 storms")
    ap.add_argument("--pause", type=float, default=None,
                    help="seconds between rounds, so syncs run and faults hit them (default 0, 1.5 with --faults)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--settle-timeout", type=float, default=120)
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    pause = args.pause if args.pause is not None else (1.5 if args.faults else 0.0)
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="retl-relay-crash-")
    started = time.monotonic()

    fake_log = open(os.path.join(workdir, "fake.log"), "ab")
    fake = subprocess.Popen([binary, "fake-rudderstack", "--port-file", os.path.join(workdir, "fake.port"),
                             "--sync-duration", "100ms", "--seed", str(args.seed)],
                            env=dict(os.environ, RUDDERSTACK_API_TOKEN=TOKEN), stdout=fake_log, stderr=fake_log)
    fake_port = wait_port_file(os.path.join(workdir, "fake.port"))
    relay_port = free_port()
    write_config(workdir, relay_port, fake_port, args.faults)
    relay = Relay(binary, workdir, relay_port)
    relay.start()
    counts = {"external_syncs": 0}
    stop_storm = threading.Event()
    storm = None
    if args.faults:
        inject_faults(fake_port)
        storm = threading.Thread(target=external_storm, args=(fake_port, stop_storm, random.Random(args.seed), counts))
        storm.start()

    sender = Sender(relay_port, args.connections)
    sent_bodies = {}
    run_id = 1_000_000
    result = {}
    try:
        for r in range(args.rounds):
            bodies = []
            for i in range(args.webhooks):
                event_id = f"wev_r{r}_{i}_{rng.randrange(1 << 30)}"
                run_id += 1
                body = webhook(event_id, rng.choice(["1", "2", "3", "4", "5"]), rng.random() < 0.9, run_id)
                sent_bodies[event_id] = body
                bodies.append((event_id, body))
            done = threading.Event()

            acked_before = len(sender.acked)
            # Each kill lands at a random point of the burst (after a random number of this
            # round's webhooks were acknowledged) or, one time in four, on the dispatching that
            # follows it.
            plan = sorted(rng.randrange(args.webhooks) if rng.random() < 0.75 else args.webhooks + rng.randrange(400)
                          for _ in range(args.kills))

            def killer():
                for point in plan:
                    if point < args.webhooks:
                        while len(sender.acked) - acked_before < point and not done.is_set():
                            time.sleep(0.001)
                    else:
                        done.wait()
                        time.sleep((point - args.webhooks) / 1000.0)
                    relay.kill()
                    time.sleep(rng.uniform(0.0, 0.2))
                    relay.start()

            k = threading.Thread(target=killer)
            k.start()
            sender.send_all(bodies)
            done.set()
            k.join()
            print(f"round {r + 1}/{args.rounds}: {len(bodies)} webhooks acknowledged, kills so far {relay.kills}",
                  flush=True)
            time.sleep(pause)
        if storm is not None:
            stop_storm.set()
            storm.join()
        settled = settle(os.path.join(workdir, "relay.db"), args.settle_timeout)
        result = check(os.path.join(workdir, "relay.db"), fake_port, sender, sent_bodies)
        if not settled:
            result["failures"].append(f"triggers still open after {args.settle_timeout:.0f} s")
        exit_code = relay.stop()
        if exit_code != 0:
            result["failures"].append(f"relay exited {exit_code} on SIGTERM")
    finally:
        stop_storm.set()
        if relay.proc and relay.proc.poll() is None:
            relay.proc.kill()
        fake.send_signal(signal.SIGTERM)
        fake.wait()

    result.update({
        "rounds": args.rounds, "webhooks_per_round": args.webhooks, "senders": args.connections,
        "kills": relay.kills, "faults": args.faults, "seed": args.seed,
        "webhook_sends": sum(sender.status_counts.values()), "webhook_resends": sender.retries,
        "webhook_answers": {str(k): v for k, v in sorted(sender.status_counts.items())},
        "external_syncs": counts["external_syncs"], "seconds": round(time.monotonic() - started, 1),
    })
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    if result["failures"]:
        for failure in result["failures"]:
            print(f"invariant broken: {failure}", file=sys.stderr)
        print(f"FAILED ({len(result['failures'])} invariant(s)); work directory kept: {workdir}", file=sys.stderr)
        return 1
    print(f"ok: {result['acknowledged']} acknowledged webhooks, {relay.kills} kills, every invariant holds")
    if not args.keep:
        subprocess.run(["rm", "-rf", workdir], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
