#!/usr/bin/env python3
"""The status page (/ui/) in a real browser: headless Chromium driven by chromium-driver through
Selenium (Debian packages chromium, chromium-driver, python3-selenium).

A relay and the fake RudderStack run on loopback with a scripted flow:
  - conn_a: a succeeded sync, then two webhooks that arrive while it runs and coalesce into one
    follow-up sync;
  - conn_b: its /start answers 404, so its trigger is dead;
  - conn_c: its sync is stopped through the admin API, so it fails.
Then the page must show each connection's phase and last outcome, the run → trigger → sync chain
(the coalesced runs linked to one sync, and back), the dead trigger with its reason and a hint,
charts; retrying the dead trigger with the token must change what it shows; a wrong token is
refused; a relay without an admin token says the admin API is off. Any error in the browser's
console fails the test. A screenshot is saved (--screenshot) to look at.

Bounded: about 30 s. Exit 0 when every check holds, 1 otherwise (each failure printed).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from loopback import free_port, sign, wait_port  # noqa: E402

SECRET = "ui-test-secret"
RS_TOKEN = "ui-test-rudderstack-token"
ADMIN_TOKEN = "ui-test-admin-token-0123456789"


def http(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body.encode() if body is not None else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


BIDI_EVENT = "wev_ui_201\u202etxet"  # U+202E: must not reverse the page's own text


def webhook(port, job, run, event_id=None):
    b = json.dumps({
        "accountId": 1, "webhookId": "wsu_ui", "eventId": event_id or "wev_ui_%d" % run,
        "timestamp": "2026-01-01T00:00:00.000000000Z", "eventType": "job.run.completed", "webhookName": "ui",
        "data": {"jobId": str(job), "runId": str(run), "environmentId": "1", "projectId": "1",
                 "runStatus": "Success", "runStatusCode": 10, "runStatusMessage": "None",
                 "runStartedAt": "2026-01-01T00:00:00Z", "runFinishedAt": "2026-01-01T00:01:00Z"}},
        separators=(",", ":"))
    sig = sign(b, SECRET)
    status, text = http("POST", "http://127.0.0.1:%d/webhooks/dbt" % port, b, {"Authorization": sig})
    if status != 200:
        raise RuntimeError("webhook answered %d: %s" % (status, text))


class Relay:
    def __init__(self, binary, work, admin_token=True):
        self.port, self.fake_port = free_port(), free_port()
        env = dict(os.environ, RUDDERSTACK_API_TOKEN=RS_TOKEN, DBT_WEBHOOK_SECRET=SECRET)
        env.pop("RETL_RELAY_ADMIN_TOKEN", None)
        self.fake = subprocess.Popen([binary, "fake-rudderstack", "--port", str(self.fake_port), "--sync-duration", "3s",
                                      "--log-level", "error"], env=env)
        wait_port(self.fake_port)
        cfg = os.path.join(work, "relay-%d.toml" % self.port)
        with open(cfg, "w") as f:
            f.write('[server]\nlisten = "127.0.0.1:%d"\n' % self.port)
            f.write('[store]\nurl = "sqlite://%s"\n' % os.path.join(work, "relay-%d.db" % self.port))
            f.write('[rudderstack]\napi_base = "http://127.0.0.1:%d"\n' % self.fake_port)
            if admin_token:
                f.write('[admin]\ntoken = "%s"\n' % ADMIN_TOKEN)
            f.write('[dispatch]\nsync_poll_interval = "1s"\n')
            for job, conn in ((1, "conn_a"), (2, "conn_b"), (3, "conn_c")):
                f.write('[[route]]\nname = "route_%s"\njob_ids = ["%d"]\nconnections = ["%s"]\n' % (conn, job, conn))
        self.proc = subprocess.Popen([binary, "serve", "--config", cfg, "--log-level", "warn"], env=env,
                                     stderr=open(os.path.join(work, "relay-%d.log" % self.port), "w"))
        if not wait_port(self.port):
            raise RuntimeError("relay did not start")

    def api(self, method, path, body=None):
        status, text = http(method, "http://127.0.0.1:%d/api/v1/%s" % (self.port, path), body,
                            {"Authorization": "Bearer " + ADMIN_TOKEN})
        return status, (json.loads(text) if text else None)

    def connections(self):
        return {c["connection_id"]: c for c in self.api("GET", "status")[1]["connections"]}

    def fault(self, spec):
        http("POST", "http://127.0.0.1:%d/_fake/faults" % self.fake_port, json.dumps(spec))

    def stop(self):
        for p in (self.proc, self.fake):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def wait_for(what, predicate, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (KeyError, IndexError, TypeError):
            pass
        time.sleep(0.1)
    raise RuntimeError("timed out waiting for " + what)


def scripted_flow(relay):
    """The flow the page is checked against; returns the coalesced follow-up's sync id."""
    webhook(relay.port, 1, 101)  # conn_a: sync_1
    wait_for("conn_a running", lambda: relay.connections()["conn_a"]["phase"] == "running")
    webhook(relay.port, 1, 102)  # two more while it runs: one follow-up
    webhook(relay.port, 1, 103)
    def follow_up_started():
        runs = {e["run_id"]: e for e in relay.api("GET", "events?limit=10")[1]["events"]}
        return runs[102]["links"][0]["sync_id"] is not None
    wait_for("conn_a's follow-up", follow_up_started)
    relay.fault({"endpoint": "start", "status": 404, "times": 1})  # the next start is conn_b's
    webhook(relay.port, 2, 201, BIDI_EVENT)  # conn_b: dead, 404
    wait_for("conn_b dead", lambda: relay.connections()["conn_b"]["dead"] == 1)
    webhook(relay.port, 3, 301)  # conn_c: started, then stopped → failed
    wait_for("conn_c running", lambda: relay.connections()["conn_c"]["phase"] == "running")
    # Its outcome comes with a 100 KB unbroken error (kept to 4 KB by the relay): the page wraps
    # it and folds it, never growing wider than the window.
    relay.fault({"endpoint": "get", "connection": "conn_c", "perform": True, "times": 1000,
                 "merge": {"error": "E" * 100000}})
    status, _ = relay.api("POST", "connections/conn_c/stop")
    if status != 200:
        raise RuntimeError("stop answered %d" % status)
    wait_for("conn_c failed", lambda: relay.connections()["conn_c"]["last_outcome"] == "failed")
    wait_for("conn_a idle", lambda: relay.connections()["conn_a"]["phase"] == "idle", timeout=15)
    events = relay.api("GET", "events?limit=10")[1]["events"]
    by_run = {e["run_id"]: e for e in events}
    follow = by_run[102]["links"][0]["sync_id"]
    if not follow or by_run[103]["links"][0]["sync_id"] != follow:
        raise RuntimeError("runs 102 and 103 were not coalesced into one sync: %s" % json.dumps(events))
    return follow


def browser(args):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1600",
                 "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(flag)
    options.binary_location = args.chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(args.chromedriver), options=options)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--screenshot", default="")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    ap.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = ap.parse_args()
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    work = tempfile.mkdtemp(prefix="retl-relay-ui-")
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL: " + what, flush=True)

    relay = off = driver = None
    try:
        relay = Relay(args.bin, work)
        follow = scripted_flow(relay)
        driver = browser(args)
        # The page redraws its tables every 5 s: an element found before a redraw goes stale.
        stale = (StaleElementReferenceException, NoSuchElementException)
        wait = WebDriverWait(driver, 15, ignored_exceptions=stale)
        base = "http://127.0.0.1:%d/ui/" % relay.port

        def click(css):
            for _ in range(10):
                try:
                    driver.find_element(By.CSS_SELECTOR, css).click()
                    return
                except stale:
                    time.sleep(0.1)
            raise RuntimeError("could not click " + css)

        # The token in the fragment: kept in the tab, out of the address bar. Two runs a page,
        # so that the older ones are paged in.
        driver.get(base + "?page=2#token=" + ADMIN_TOKEN)
        wait.until(lambda d: d.find_element(By.ID, "main").is_displayed()
                   and len(d.find_elements(By.CSS_SELECTOR, "#connections tbody tr")) == 3)
        check("token" not in driver.current_url, "the token left the address bar")

        def row(conn):
            for _ in range(10):
                try:
                    return driver.find_element(By.CSS_SELECTOR, '#connections tr[data-connection="%s"]' % conn).text
                except stale:
                    time.sleep(0.1)
            return ""

        # Paging: two runs a page, "Load older" until all five are there.
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 2)
        for shown_count in (4, 5):
            click("#older")
            wait.until(lambda d, n=shown_count: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == n)
        wait.until(lambda d: not d.find_element(By.ID, "older").is_displayed())

        wait.until(lambda d: "succeeded" in row("conn_a") and "failed" in row("conn_c"))
        check("idle" in row("conn_a") and "succeeded" in row("conn_a"), "conn_a: idle, last outcome succeeded: " + row("conn_a"))
        check("records" in row("conn_a"), "conn_a: the last sync's record counts: " + row("conn_a"))
        check("failed" in row("conn_c"), "conn_c: last outcome failed: " + row("conn_c"))
        check("idle" in row("conn_b"), "conn_b: idle: " + row("conn_b"))

        # The dead trigger, its reason and what to check.
        dead = driver.find_element(By.ID, "dead").text
        check("conn_b" in dead and "404" in dead, "the dead trigger and its 404: " + dead)
        check("connection id" in dead, "a hint for the 404: " + dead)

        # Runs → triggers → syncs: the coalesced runs point at one sync, and the sync back at them.
        runs = driver.find_element(By.ID, "runs").text
        for run in ("101", "102", "103", "201", "301"):
            check(run in runs, "run %s listed" % run)
        click('#runs tr[data-event="wev_ui_102"] a[data-sync="%s"]' % follow)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 2)
        shown = sorted(r.get_attribute("data-event") for r in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr"))
        check(shown == ["wev_ui_102", "wev_ui_103"], "the follow-up sync links back to both coalesced runs: %s" % shown)
        click("#f-clear")  # the listing starts over: the newest page
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 2)
        driver.get(base)  # 50 a page from here on
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#runs tbody tr")) == 5)

        # An event's trail: trigger, sync with its records, the calls made.
        click('#runs tr[data-event="wev_ui_101"] td:last-child a')
        wait.until(lambda d: d.find_element(By.ID, "trail").is_displayed())
        trail = driver.find_element(By.ID, "trail-body").text
        check("conn_a" in trail and "sync_1" in trail and "succeeded" in trail and "start" in trail,
              "the trail of run 101: " + trail)
        click("#trail-close")

        # Hostile upstream text: a long error folds and wraps; U+202E is isolated.
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        check(width[0] <= width[1] + 1, "the page is no wider than the window: %s" % width)
        click('#runs tr[data-event="%s"] td:last-child a' % BIDI_EVENT)
        wait.until(lambda d: d.find_element(By.ID, "trail").is_displayed())
        ids = [e for e in driver.find_elements(By.CSS_SELECTOR, "#trail-body .mono") if BIDI_EVENT in e.text]
        check(bool(ids) and all(e.value_of_css_property("unicode-bidi") == "isolate" for e in ids),
              "the event id with U+202E is bidi-isolated")
        click("#trail-close")
        click('#runs tr[data-event="wev_ui_301"] td:last-child a')
        wait.until(lambda d: d.find_element(By.ID, "trail").is_displayed())
        folded = driver.find_elements(By.CSS_SELECTOR, "#trail-body details.long")
        check(len(folded) >= 1, "the long sync error is folded (%d)" % len(folded))
        if folded:
            summary = folded[0].find_element(By.TAG_NAME, "summary")
            check("characters; show all" in summary.text, "the fold says how to see the whole: " + summary.text[-60:])
            summary.click()
            whole = folded[0].find_element(By.CSS_SELECTOR, ".whole")
            check(whole.is_displayed() and len(whole.text) > 4000, "the whole error shows on demand (%d)" % len(whole.text))
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        check(width[0] <= width[1] + 1, "the open trail is no wider than the window: %s" % width)
        click("#trail-close")

        # Charts drawn by the page.
        bars = driver.find_elements(By.CSS_SELECTOR, "#chart-syncs svg rect")
        check(len(bars) >= 2, "the syncs chart has bars for succeeded and failed syncs (%d)" % len(bars))
        check(len(driver.find_elements(By.CSS_SELECTOR, "#chart-webhooks svg rect")) >= 1, "the webhooks chart has bars")

        check("Updated" in driver.find_element(By.ID, "live").text, "the page says when it last refreshed")
        stop_buttons = driver.find_elements(By.XPATH, '//table[@id="connections"]//button[text()="Stop"]')
        check(not stop_buttons, "no Stop button while nothing runs (%d)" % len(stop_buttons))
        if args.screenshot:
            os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
            driver.execute_script("window.scrollTo(0, 0);")
            driver.save_screenshot(args.screenshot)

        # An action: retry the dead trigger (confirmed); the fault is used up, so it starts.
        click("#dead tbody tr button")
        wait.until(lambda d: d.switch_to.alert)
        driver.switch_to.alert.accept()
        wait.until(lambda d: d.find_element(By.ID, "no-dead").is_displayed())
        wait.until(lambda d: "succeeded" in row("conn_b") or "running" in row("conn_b"))

        # A wrong token is refused and asked for again.
        driver.execute_script("sessionStorage.setItem('retl-relay-admin-token', 'wrong');")
        driver.get(base)
        wait.until(lambda d: d.find_element(By.ID, "auth").is_displayed())
        check("did not accept" in driver.find_element(By.ID, "auth-error").text, "a wrong token is refused")
        driver.find_element(By.ID, "token").send_keys(ADMIN_TOKEN)
        driver.find_element(By.CSS_SELECTOR, "#auth-form button").click()
        wait.until(lambda d: d.find_element(By.ID, "main").is_displayed())

        # A relay that stops answering shows as such, not as a frozen page.
        relay.proc.terminate()
        relay.proc.wait(10)
        wait.until(lambda d: "not answering" in d.find_element(By.ID, "live").text)
        check("stale" in driver.find_element(By.ID, "live").get_attribute("class"), "the stale indicator is marked")

        # A relay without an admin token: the page says the admin API is off.
        off = Relay(args.bin, work, admin_token=False)
        driver.execute_script("sessionStorage.clear();")
        driver.get("http://127.0.0.1:%d/ui/" % off.port)
        wait.until(lambda d: d.find_element(By.ID, "off").is_displayed())

        # Nothing went wrong in the browser. Expected: the network errors this test provokes (the
        # wrong token's 401, the relay without a token's 404, the stopped relay), nothing else.
        expected = ("status of 401", "status of 404", "ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET",
                    "ERR_EMPTY_RESPONSE")
        for entry in driver.get_log("browser"):
            message = entry.get("message", "")
            if entry.get("level") == "SEVERE" and not any(e in message for e in expected):
                check(False, "browser console error: " + message)
    except Exception as e:  # a broken flow is a failure with its reason, not a traceback only
        failures.append("%s: %s" % (type(e).__name__, e))
        print("FAIL: %s: %s" % (type(e).__name__, e), flush=True)
        if driver is not None and args.screenshot:
            try:
                driver.save_screenshot(args.screenshot)
            except Exception:
                pass
    finally:
        if driver is not None:
            driver.quit()
        for r in (relay, off):
            if r is not None:
                r.stop()
        shutil.rmtree(work, ignore_errors=True)
    failures = [f for f in failures if f]
    if failures:
        print("ui test: %d failure(s)" % len(failures))
        return 1
    print("ui test: ok (page checked in headless Chromium)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
