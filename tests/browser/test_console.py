#!/usr/bin/env python3
"""
test_console: the web console in real headless Chromium against a real
loopd (tests/integration/harness.py starts it; cdp.py drives Chromium).

    python3 tests/browser/test_console.py [-v] [TestName...]

Skips (exit 0, saying so) when no Chromium is installed. Screenshots of
each view go to build/screenshots/ (not committed):
  login.png          the login form
  upcoming.png       a call scheduled from the page, with its countdown
  history.png        that call fired, its stdout shown in History
  running.png        a running command, before it is cancelled from the page
  futures.png        a pending future with its resolve/reject/cancel form
  health.png         the lateness histogram and the counters
  readonly.png       console = read-only: the same views without buttons
  restarted.png      after a daemon restart: the page caught up and is live
  phone.png          Upcoming at phone width (390 px)
  schedules.png      a schedule made through the API (every 2 s): spec, zone,
                     next fires with countdowns, its last runs filled in live
  waiters.png        Futures: a pending future with a held waiter ("1 waiter")
  readonly-token.png console = on, logged in with a read-scoped token: no buttons
"""
import hashlib
import json
import os
import secrets
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import cdp  # noqa: E402
import harness  # noqa: E402

SHOTS = os.environ.get("SCREENSHOTS", os.path.join(ROOT, "build", "screenshots"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def js(s):
    return json.dumps(s)


class ConsoleCase(unittest.TestCase):
    opts = {}

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = harness.Daemon(opts=dict(cls.opts), listen="127.0.0.1:%d" % cls.port).start()
        cls.b = cdp.Browser()
        cls.url = "http://127.0.0.1:%d/ui/" % cls.port

    @classmethod
    def tearDownClass(cls):
        cls.b.close()
        cls.d.close()

    def shot(self, name):
        self.b.screenshot(os.path.join(SHOTS, name))

    def login(self, token=None):
        b = self.b
        b.goto(self.url)
        b.wait("!document.getElementById('login').hidden || !document.getElementById('app').hidden")
        if b.eval("document.getElementById('app').hidden"):
            b.eval("document.getElementById('token').value = %s;"
                   "document.getElementById('login-form').requestSubmit(); true"
                   % js(token or self.d.token))
        b.wait("!document.getElementById('app').hidden", what="the console after login")
        # The page knows what the token may do (GET /v1/status): the
        # buttons are there, or not, from now on.
        b.wait("document.getElementById('app').dataset.scopes === 'known'", what="the scopes")
        b.wait("document.getElementById('live').textContent === 'live'", what="the live stream")

    def go(self, hash_):
        self.b.eval("location.hash = %s; true" % js(hash_))
        self.b.wait("location.hash === %s" % js(hash_))

    def card_text(self, oid):
        return self.b.eval("(document.querySelector('.card[data-id=\"%s\"]') || {}).textContent || ''"
                           % oid)

    def click(self, oid, label):
        ok = self.b.eval("(() => { const b = [...document.querySelectorAll("
                         "'.card[data-id=\"%s\"] button')].find(x => x.textContent === %s);"
                         " if (!b) return false; b.click(); return true; })()" % (oid, js(label)))
        self.assertTrue(ok, "no %s button on %s" % (label, oid))


class ConsoleTest(ConsoleCase):
    def test_1_login(self):
        b = self.b
        b.goto(self.url)
        b.wait("!document.getElementById('login').hidden", what="the login form")
        self.shot("login.png")
        b.eval("document.getElementById('token').value = 'wrong-token-0123456789';"
               "document.getElementById('login-form').requestSubmit(); true")
        b.wait("document.getElementById('login-error').textContent !== ''", what="a refusal")
        self.assertTrue(b.eval("document.getElementById('app').hidden"))
        self.assertIsNone(b.eval("sessionStorage.getItem('loopd.token')"))
        self.login()
        self.assertEqual(b.eval("sessionStorage.getItem('loopd.token')"), self.d.token)
        self.assertEqual(b.eval("document.cookie"), "")
        # This daemon has schedules (GET /v1/schedules answers): the view
        # shows itself (it hides when the route is 404, on an older loopd).
        b.wait("!document.getElementById('nav-schedules').hidden", what="schedules shown")

    def test_2_schedule_countdown_then_history(self):
        b = self.b
        self.login()
        self.go("#/upcoming")
        b.eval("document.querySelector('details.card').open = true;"
               "document.getElementById('new-name').value = 'console-hello';"
               "document.getElementById('new-after').value = '3';"
               "document.getElementById('new-command').value = 'echo hello-from-the-console';"
               "document.getElementById('new-submit').click(); true")
        cid = b.wait("(() => { const c = [...document.querySelectorAll('.card[data-id]')]"
                     ".find(x => x.textContent.includes('console-hello'));"
                     " return c && c.querySelector('.countdown').textContent.startsWith('in ')"
                     " && c.dataset.id; })()", what="the new call with a countdown")
        self.assertTrue(cid.startswith("c_"))
        self.assertEqual(self.d.call(cid)["name"], "console-hello")
        self.shot("upcoming.png")
        self.go("#/history")
        b.wait("(document.querySelector('.card[data-id=\"%s\"] pre.stdout') || {}).textContent"
               " === 'hello-from-the-console\\n'" % cid, timeout=20, what="its output in History")
        b.eval("document.querySelectorAll('details.output').forEach(d => d.open = true); true")
        text = self.card_text(cid)
        self.assertIn("result", text)
        self.assertIn("exitcode0", text.replace(" ", ""))
        self.shot("history.png")
        # A deep link shows the call alone.
        self.go("#/calls/" + cid)
        b.wait("document.querySelector('h2') && document.querySelector('h2').textContent"
               ".includes(%s)" % js(cid), what="the call's own page")
        # Re-run makes a new call with the same action.
        self.click(cid, "Re-run")
        b.wait("location.hash.startsWith('#/calls/') && location.hash !== %s" % js("#/calls/" + cid))
        new = b.eval("location.hash.slice(8)")
        self.d.wait_done(new)
        self.assertEqual(self.d.call(new)["result"]["stdout"], "hello-from-the-console\n")

    def test_3_cancel_running(self):
        b = self.b
        self.login()
        c = self.d.schedule({"soon": True, "name": "sleeper", "command": {"argv": ["sleep", "60"]}})
        harness.wait_until(lambda: self.d.call(c["id"])["phase"] == "running", what="running")
        self.go("#/running")
        b.wait("document.querySelector('.card[data-id=\"%s\"] .elapsed') !== null" % c["id"],
               what="the running call")
        self.shot("running.png")
        self.click(c["id"], "Cancel")
        harness.wait_until(lambda: self.d.call(c["id"])["state"] == "cancelled", what="cancelled")
        b.wait("document.querySelector('.card[data-id=\"%s\"]') === null" % c["id"],
               what="the call gone from Running")

    def test_4_resolve_future(self):
        b = self.b
        self.login()
        st, _, f = self.d.request("POST", "/v1/futures", {"name": "approval"})
        self.assertEqual(st, 201)
        got = {}

        def waiter():
            got["reply"] = self.d.request("GET", "/v1/futures/%s?wait=30" % f["id"], timeout=40)

        t = threading.Thread(target=waiter)
        t.start()
        self.go("#/futures")
        b.wait("document.querySelector('.card[data-id=\"%s\"] .result-value') !== null" % f["id"],
               what="the pending future")
        self.shot("futures.png")
        b.eval("document.querySelector('.card[data-id=\"%s\"] .result-value').value ="
               " '{\"approved\": true}'; true" % f["id"])
        self.click(f["id"], "Resolve")
        t.join(20)
        self.assertFalse(t.is_alive(), "the waiter did not return")
        st, _, body = got["reply"]
        self.assertEqual(st, 200)
        self.assertEqual(body["state"], "finished")
        self.assertEqual(body["result"], {"approved": True})
        b.wait("(document.querySelector('.card[data-id=\"%s\"] .outcome') || {}).textContent"
               " === 'result'" % f["id"], what="the future shown finished")

    def test_5_health_and_phone(self):
        b = self.b
        self.login()
        self.go("#/health")
        b.wait("document.querySelectorAll('#lateness-chart .bar').length > 5", what="the histogram")
        b.wait("[...document.querySelectorAll('.stat')].some(s => s.textContent.includes('event streams'))")
        self.shot("health.png")
        b.send("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1,
               mobile=True)
        try:
            self.go("#/upcoming")
            time.sleep(0.3)
            self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 392)
            self.shot("phone.png")
        finally:
            b.send("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                   deviceScaleFactor=1, mobile=False)

    def test_6_text_is_text(self):
        """A name full of markup is shown as text, never parsed."""
        b = self.b
        self.login()
        evil = "<img src=x onerror=\"window.pwned=1\">"
        c = self.d.schedule({"after": 300, "name": evil, "command": {"argv": ["true"]}})
        self.go("#/upcoming")
        b.wait("(document.querySelector('.card[data-id=\"%s\"]') || {}).textContent"
               " !== undefined" % c["id"])
        self.assertIn(evil, self.card_text(c["id"]))
        self.assertFalse(b.eval("!!window.pwned"))
        self.assertEqual(b.eval("document.querySelectorAll('#view img').length"), 0)
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_7_stream_survives_restart(self):
        b = self.b
        self.login()
        self.go("#/upcoming")
        self.d.stop()
        b.wait("document.getElementById('live').textContent !== 'live'", what="the stream lost")
        self.d.start()
        # Made while the page may still be reconnecting: it must catch up.
        c = self.d.schedule({"after": 300, "name": "after-restart", "command": {"argv": ["true"]}})
        b.wait("document.getElementById('live').textContent === 'live'", timeout=30,
               what="the stream back")
        try:
            b.wait("document.querySelector('.card[data-id=\"%s\"]') !== null" % c["id"], timeout=20,
                   what="the call made after the restart")
        except AssertionError:
            print(b.eval("document.getElementById('view').textContent.slice(0, 2000)"),
                  b.eval("location.hash"), b.eval("document.activeElement.outerHTML"))
            print([e for e in b.events if 'console' in e.get('method', '').lower() or 'exception' in e.get('method', '').lower()][-10:])
            raise
        self.shot("restarted.png")
        # And it is live again: a change now arrives through the stream.
        d = self.d.schedule({"after": 300, "name": "live-again", "command": {"argv": ["true"]}})
        b.wait("document.querySelector('.card[data-id=\"%s\"]') !== null" % d["id"],
               what="a call made once live again")
        for x in (c, d):
            self.d.request("DELETE", "/v1/calls/" + x["id"])


    def test_8_schedules(self):
        b = self.b
        self.login()
        st, _, sch = self.d.request("POST", "/v1/schedules", {
            "every": 2, "name": "console-tick", "command": {"argv": ["echo", "tick"]}})
        self.assertEqual(st, 201)
        sid = sch["id"]
        try:
            self.go("#/schedules")
            card = "document.querySelector('.card[data-id=\"%s\"]')" % sid
            b.wait("%s !== null" % card, what="the schedule's card")
            self.assertEqual(b.eval("%s.querySelector('.spec').textContent" % card), "every 2.0 s")
            self.assertEqual(b.eval("%s.querySelector('.tz').textContent" % card), "UTC")
            self.assertEqual(b.eval("%s.querySelector('.sched-state').textContent" % card), "active")
            b.wait("%s.querySelectorAll('.next .countdown').length >= 3" % card, what="next fires")
            # Runs appear without reloading the page: the stream brings the
            # occurrences (calls of the schedule) and their outcome.
            b.wait("[...%s.querySelectorAll('.recent .run-state')].filter("
                   "x => x.textContent === 'result').length >= 2" % card, timeout=20,
                   what="two finished runs shown live")
            done = b.eval("[...%s.querySelectorAll('.recent li')].filter(li => li.querySelector("
                          "'.run-state').textContent === 'result').map(li => li.dataset.call)" % card)
            for cid in done:
                c = self.d.call(cid)
                self.assertEqual(c["schedule"], sid)
                self.assertEqual(c["result"]["stdout"], "tick\n")
            self.shot("schedules.png")
            # Pause, resume and trigger from the page change the API's state.
            self.click(sid, "Pause")
            harness.wait_until(lambda: self.d.request("GET", "/v1/schedules/" + sid)[2]["state"]
                               == "paused", what="paused through the page")
            b.wait("%s.querySelector('.sched-state').textContent === 'paused'" % card,
                   what="shown paused")
            self.assertEqual(b.eval("%s.querySelectorAll('.next li').length" % card), 0)
            fired = self.d.request("GET", "/v1/schedules/" + sid)[2]["fired"]
            self.click(sid, "Resume")
            harness.wait_until(lambda: self.d.request("GET", "/v1/schedules/" + sid)[2]["state"]
                               == "active", what="resumed through the page")
            b.wait("%s.querySelector('.sched-state').textContent === 'active'" % card,
                   what="shown active")
            # Pause again, so that only the trigger makes an occurrence.
            self.click(sid, "Pause")
            harness.wait_until(lambda: self.d.request("GET", "/v1/schedules/" + sid)[2]["state"]
                               == "paused", what="paused again")
            b.wait("[...%s.querySelectorAll('button')].some(x => x.textContent === 'Resume')" % card)
            before = self.d.request("GET", "/v1/schedules/" + sid)[2]
            self.assertGreaterEqual(before["fired"], fired)
            seen = {x["call"] for x in before["recent"]}

            def made():
                rec = self.d.request("GET", "/v1/schedules/" + sid)[2]["recent"]
                return [r["call"] for r in rec if r["call"] not in seen]
            self.click(sid, "Trigger now")
            harness.wait_until(lambda: made(), what="an occurrence triggered from the page")
            new = made()
            self.assertEqual(len(new), 1)
            self.assertEqual(self.d.request("GET", "/v1/schedules/" + sid)[2]["state"], "paused")
            self.d.wait_done(new[0])
            b.wait("(%s.querySelector('.recent li[data-call=\"%s\"] .run-state') || {})"
                   ".textContent === 'result'" % (card, new[0]), timeout=20,
                   what="the triggered run shown finished")
        finally:
            self.d.request("DELETE", "/v1/schedules/" + sid)

    def test_9_future_waiters(self):
        b = self.b
        self.login()
        st, _, f = self.d.request("POST", "/v1/futures", {"name": "held"})
        self.assertEqual(st, 201)
        fid = f["id"]
        got = {}

        def waiter():
            got["reply"] = self.d.request("GET", "/v1/futures/%s?wait=30" % fid, timeout=40)

        t = threading.Thread(target=waiter)
        t.start()
        try:
            harness.wait_until(lambda: self.d.request("GET", "/v1/futures/" + fid)[2]["waiters"]
                               == 1, what="the waiter held")
            st, _, listing = self.d.request("GET", "/v1/futures?state=pending")
            self.assertEqual([x["waiters"] for x in listing["items"] if x["id"] == fid], [1])
            self.go("#/futures/" + fid)
            sel = "document.querySelector('.card[data-id=\"%s\"] .waiters')" % fid
            b.wait("(%s || {}).textContent === '1 waiter'" % sel, what="1 waiter shown")
            self.assertEqual(b.eval("document.querySelector('.card[data-id=\"%s\"] .callbacks')"
                                    ".textContent" % fid), "0 callbacks")
            self.shot("waiters.png")
            # A done-callback added meanwhile shows up (the view reads the
            # pending futures again while it is open).
            st, _, _ = self.d.request("POST", "/v1/futures/%s/callbacks" % fid,
                                      {"command": {"argv": ["true"]}})
            self.assertEqual(st, 201)
            b.wait("document.querySelector('.card[data-id=\"%s\"] .callbacks').textContent"
                   " === '1 callback'" % fid, what="1 callback shown")
        finally:
            self.d.request("POST", "/v1/futures/%s/result" % fid, {"result": "done"})
            t.join(20)
        self.assertEqual(got["reply"][0], 200)
        b.wait("document.querySelector('.card[data-id=\"%s\"] .waiters') === null" % fid,
               what="no waiter count once done")


class ReadOnlyTest(ConsoleCase):
    opts = {"console": "read-only"}

    def test_no_buttons_and_writes_refused(self):
        b = self.b
        c = self.d.schedule({"after": 300, "name": "ro", "command": {"argv": ["true"]}})
        st, _, f = self.d.request("POST", "/v1/futures", {})
        self.login()
        b.wait("!document.getElementById('readonly').hidden", what="the read-only badge")
        for view, oid in (("#/upcoming", c["id"]), ("#/futures", f["id"]), ("#/history", None),
                          ("#/running", None), ("#/calls/" + c["id"], None)):
            self.go(view)
            if oid:
                b.wait("document.querySelector('.card[data-id=\"%s\"]') !== null" % oid)
            else:
                time.sleep(0.3)
            self.assertEqual(b.eval("document.querySelectorAll('#view button, #view input').length"),
                             0, "buttons on " + view)
        self.go("#/upcoming")
        self.shot("readonly.png")
        # The page's own writes are refused by the API...
        status = b.eval("fetch('/v1/calls/%s', {method: 'DELETE', headers: {'Authorization':"
                        " 'Bearer ' + sessionStorage.getItem('loopd.token'), 'Loop-Console': '1'}})"
                        ".then(r => r.status)" % c["id"])
        self.assertEqual(status, 403)
        self.assertEqual(self.d.call(c["id"])["state"], "pending")
        st, _, _ = self.d.request("POST", "/v1/futures/%s/result" % f["id"], {"result": 1},
                                  headers={"Loop-Console": "1"})
        self.assertEqual(st, 403)
        # ... while reads are served.
        st, _, _ = self.d.request("GET", "/v1/futures/" + f["id"], headers={"Loop-Console": "1"})
        self.assertEqual(st, 200)
        # The page cannot get round it by leaving out its marker: the
        # browser's own headers (Origin, Sec-Fetch-Site) give it away.
        status = b.eval("fetch('/v1/futures/%s/result', {method: 'POST', headers: {'Authorization':"
                        " 'Bearer ' + sessionStorage.getItem('loopd.token'), 'Content-Type':"
                        " 'application/json'}, body: '{\"result\": 1}'}).then(r => r.status)" % f["id"])
        self.assertEqual(status, 403)
        self.assertEqual(self.d.request("GET", "/v1/futures/" + f["id"])[2]["state"], "pending")
        scopes = b.eval("fetch('/v1/status', {headers: {'Authorization': 'Bearer ' +"
                        " sessionStorage.getItem('loopd.token')}}).then(r => r.json())"
                        ".then(j => j.token.scopes.join(','))")
        self.assertEqual(scopes, "read,metrics")
        # Other clients (loopctl, scripts) keep what their token allows.
        st, _, _ = self.d.request("POST", "/v1/futures/%s/result" % f["id"], {"result": 1})
        self.assertEqual(st, 200)


class ReadScopedTokenTest(ConsoleCase):
    """console = on, but the token may only read: the page offers nothing
    that the token cannot do, and the API refuses it anyway."""

    @classmethod
    def setUpClass(cls):
        cls.port = free_port()
        cls.d = harness.Daemon(config="# tokens_file below\n", listen="127.0.0.1:%d" % cls.port)
        cls.ro_token = secrets.token_hex(32)
        path = cls.d.path("tokens")
        with open(path, "w") as fh:
            fh.write("viewer sha256:%s read\n" % hashlib.sha256(cls.ro_token.encode()).hexdigest())
        os.chmod(path, 0o600)
        cls.d.opts["tokens_file"] = path
        cls.d.start()
        cls.b = cdp.Browser()
        cls.url = "http://127.0.0.1:%d/ui/" % cls.port

    def test_read_token_shows_no_buttons(self):
        b = self.b
        c = self.d.schedule({"after": 300, "name": "ro-token", "command": {"argv": ["true"]}})
        st, _, f = self.d.request("POST", "/v1/futures", {})
        st, _, sch = self.d.request("POST", "/v1/schedules", {"every": 3600, "command": {"argv": ["true"]}})
        self.login(self.ro_token)
        b.wait("!document.getElementById('readonly').hidden", what="the read-only badge")
        for view, oid in (("#/upcoming", c["id"]), ("#/futures", f["id"]), ("#/schedules", sch["id"]),
                          ("#/history", None), ("#/running", None), ("#/calls/" + c["id"], None)):
            self.go(view)
            if oid:
                b.wait("document.querySelector('.card[data-id=\"%s\"]') !== null" % oid)
            else:
                time.sleep(0.3)
            self.assertEqual(b.eval("document.querySelectorAll('#view button, #view input').length"),
                             0, "buttons on " + view)
        self.go("#/futures")
        self.shot("readonly-token.png")
        status = b.eval("fetch('/v1/calls/%s', {method: 'DELETE', headers: {'Authorization':"
                        " 'Bearer ' + sessionStorage.getItem('loopd.token')}}).then(r => r.status)"
                        % c["id"])
        self.assertEqual(status, 403)
        self.assertEqual(self.d.call(c["id"])["state"], "pending")
        self.d.request("DELETE", "/v1/schedules/" + sch["id"])


def main():
    if cdp.find_chromium() is None:
        print("browser: SKIPPED - no Chromium (install Debian's chromium: make test-deps)")
        return 0
    prog = unittest.main(exit=False, verbosity=2 if "-v" in sys.argv else 1)
    r = prog.result
    failed = len(r.failures) + len(r.errors)
    print("browser: %d passed, %d failed" % (r.testsRun - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
