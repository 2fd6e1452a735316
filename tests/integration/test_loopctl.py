"""
API.md §8: loopctl, driven as a user would drive it, against the real daemon.

Every command and its exit statuses: 0 ok, 1 daemon or network error, 2 bad
usage; and for `schedule --wait` the command's own status, 128+N for a
signal, 124 for a timeout, 125 when the call cannot finish normally.
max_wait is kept short so that every wait has to poll again past the cap.
"""
import datetime
import http.server
import json
import os
import re
import socket
import threading
import time
import unittest

from harness import (DaemonTestCase, FUTURE_ID_RE, ID_RE, LOOPCTL,
                     wait_until)

MAX_WAIT = 1.0      # the daemon's cap on one long poll, in seconds


class LoopctlCase(DaemonTestCase):
    """Helpers shared by the loopctl tests."""
    opts = {"max_wait": "%gs" % MAX_WAIT, "kill_grace": "0.2"}

    def tearDown(self):
        for c in self.d.list_calls("state=pending"):
            self.d.request("DELETE", "/v1/calls/" + c["id"])
        super().tearDown()

    def ctl(self, *args, expect=0, **kw):
        """Run loopctl; check its exit status; return the process."""
        p = self.d.loopctl(*args, **kw)
        self.assertEqual(p.returncode, expect,
                         "loopctl %s\nstdout: %r\nstderr: %r"
                         % (" ".join(map(str, args)), p.stdout, p.stderr))
        return p

    def ctl_json(self, *args, expect=0, **kw):
        """Run loopctl --json; return the parsed output."""
        p = self.ctl("--json", *args, expect=expect, **kw)
        return json.loads(p.stdout)

    def new_future(self, *args):
        p = self.ctl("future", "new", *args)
        fid = p.stdout.strip()
        self.assertRegex(fid, FUTURE_ID_RE)
        return fid

    def later(self, after, *args):
        """Have the daemon itself run `loopctl ARGS` AFTER from now, so that
        a wait in the test is ended by the loop, not by a sleep."""
        env = ["--env", "LOOP_URL=" + self.d.url]
        if self.d.token_file:
            env += ["--env", "LOOP_TOKEN_FILE=" + self.d.token_file]
        return self.ctl("schedule", "--after", after, *env, "--",
                        LOOPCTL, *args).stdout.strip()

    def name(self):
        """A call name unique to this test."""
        return self.id().rsplit(".", 1)[-1]


class InspectTest(LoopctlCase):

    def test_time(self):
        p = self.ctl("time")
        self.assertRegex(p.stdout, r"(?m)^loop_time: +[0-9.]+$")
        self.assertRegex(p.stdout, r"(?m)^unix_time: +[0-9.]+ \(\d{4}-")
        t = self.ctl_json("time")
        self.assertEqual(set(t), {"loop_time", "unix_time"})
        self.assertEqual(set(json.loads(self.ctl("time", "--json").stdout)),
                         set(t), "global options after the command")
        self.assertAlmostEqual(t["unix_time"], time.time(), delta=5)

    def test_status(self):
        p = self.ctl("status")
        self.assertIn(": ok", p.stdout)
        self.assertIn("pending calls:", p.stdout)
        s = self.ctl_json("status")
        self.assertEqual(s["status"], "ok")
        self.assertEqual(s["url"], self.d.url)

    def test_status_unreachable(self):
        with socket.socket() as s:          # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = "http://127.0.0.1:%d" % port
        for args in (["status"], ["time"], ["show", "c_0000000000000000"]):
            p = self.ctl(*args, expect=1, env={"LOOP_URL": url})
            self.assertIn("127.0.0.1:%d" % port, p.stderr)
            self.assertEqual(p.stdout, "")
        self.ctl("--url", self.d.url, "time", env={"LOOP_URL": url})

    def test_show_and_lateness(self):
        mark = self.d.path("touched")
        p = self.ctl("schedule", "--after", "0.5", "--", "touch", mark)
        cid = p.stdout.strip()
        self.assertRegex(cid, ID_RE)
        self.assertEqual(p.stdout, cid + "\n", "the id alone on stdout")
        c = self.ctl_json("show", cid)
        self.assertAlmostEqual(c["due"] - c["created"], 0.5, delta=0.01)
        self.d.wait_until(lambda: os.path.exists(mark), what="the file")
        self.d.wait_done(cid)
        out = self.ctl("show", cid).stdout
        self.assertRegex(out, r"(?m)^id: +%s$" % cid)
        self.assertRegex(out, r"(?m)^state: +finished$")
        m = re.search(r"(?m)^lateness: +(-?[0-9.]+) ms$", out)
        self.assertIsNotNone(m, out)
        c = self.ctl_json("show", cid)
        self.assertAlmostEqual(float(m.group(1)),
                               (c["started"] - c["due"]) * 1e3, delta=0.01)
        self.assertGreaterEqual(c["started"], c["due"])

    def test_show_future(self):
        fid = self.new_future("--name", "shown")
        out = self.ctl("show", fid).stdout
        self.assertRegex(out, r"(?m)^kind: +future$")
        self.assertRegex(out, r"(?m)^name: +shown$")
        self.assertNotIn("lateness", out)

    def test_ls(self):
        name = self.name()
        ids = [self.ctl("schedule", "--after", "1h", "--name", name, "--",
                        "echo", "it's").stdout.strip() for _ in range(3)]
        newest = ids[::-1]
        out = self.ctl("ls", "--name", name).stdout.splitlines()
        self.assertEqual(out[0].split(), ["ID", "STATE", "PHASE", "WHEN",
                                          "OUTCOME", "NAME", "ACTION"])
        self.assertEqual([l.split()[0] for l in out[1:]], newest)
        for line in out[1:]:
            self.assertRegex(line, r"pending +scheduled +in 59m +- +%s +"
                             r"echo 'it'\\''s'$" % name)
        items = self.ctl_json("ls", "--name", name)["items"]
        self.assertEqual([c["id"] for c in items], newest)
        out = self.ctl("ls", "--name", name, "--limit", "2").stdout
        self.assertEqual([l.split()[0] for l in out.splitlines()[1:]],
                         newest[:2], "the newest two")
        self.ctl("cancel", ids[0])
        items = self.ctl_json("ls", "--name", name, "--state", "cancelled")
        self.assertEqual([c["id"] for c in items["items"]], ids[:1])
        items = self.ctl_json("ls", "--name", name, "--phase", "scheduled")
        self.assertEqual([c["id"] for c in items["items"]], newest[:2])
        self.ctl("ls", "--phase", "bogus", expect=1)

    def test_unknown_id(self):
        nope = "c_00000000000000ff"
        for args in (["show", nope], ["cancel", nope], ["await", nope],
                     ["future", "set", "f_00000000000000ff", "1"],
                     ["future", "fail", "f_00000000000000ff", "E", "m"],
                     ["future", "cancel", "f_00000000000000ff"],
                     ["on-done", nope, "--", "true"],
                     ["wait", nope], ["gather", nope]):
            p = self.ctl(*args, expect=1)
            self.assertRegex(p.stderr, r"^loopctl: 404 NotFound: ", args)
            self.assertEqual(p.stdout, "", args)

    def test_token(self):
        if self.d.token is None:
            self.skipTest("auth is off")
        # No token file anywhere loopctl looks by default.
        no_file = {"LOOP_TOKEN_FILE": None, "LOOP_TOKEN": None,
                   "STATE_DIRECTORY": self.d.path("nowhere")}
        p = self.ctl("time", expect=1, env=dict(no_file, LOOP_TOKEN="nope"))
        self.assertIn("401", p.stderr)
        self.assertIn("LOOP_TOKEN", p.stderr, "says where the token came from")
        self.ctl("time", env=dict(no_file, LOOP_TOKEN=self.d.token))
        self.ctl("--token-file", self.d.token_file, "time", env=no_file)
        p = self.ctl("time", expect=1, env=no_file)
        self.assertIn("no token", p.stderr)
        # /healthz needs no token, the calls count does.
        self.ctl("status", expect=1, env=no_file)


class UsageTest(LoopctlCase):

    def test_usage_errors_exit_2(self):
        cases = [
            [], ["bogus"], ["future"], ["future", "bogus"], ["--bogus"],
            ["time", "extra"], ["time", "--bogus"],
            ["schedule", "--", "true"],
            ["schedule", "--soon"],
            ["schedule", "--soon", "--after", "1", "--", "true"],
            ["schedule", "--after", "5x", "--", "true"],
            ["schedule", "--after", "-1", "--", "true"],
            ["schedule", "--after", "", "--", "true"],
            ["schedule", "--at", "tomorrow", "--", "true"],
            ["schedule", "--at", "2030-02-30T00:00:00Z", "--", "true"],
            ["schedule", "--soon", "--webhook", "http://x/", "--", "true"],
            ["schedule", "--soon", "--data", "{}", "--", "true"],
            ["schedule", "--soon", "--webhook", "http://x/", "--data", "{"],
            ["schedule", "--soon", "--webhook", "http://x/", "--env", "A=1"],
            ["schedule", "--soon", "--env", "novalue", "--", "true"],
            ["schedule", "--soon", "--header", "x", "--webhook", "http://x/"],
            ["schedule", "--soon", "--retry", "0", "--", "true"],
            ["schedule", "--soon", "--", "echo", "\udcff"],  # not UTF-8
            ["schedule", "--soon", "--stdin-file", self.d.path("nope"), "--",
             "cat"],
            ["cancel"], ["show"], ["show", "a", "b"], ["ls", "--limit", "x"],
            ["future", "new", "--timeout", "soon"], ["future", "set", "f_1"],
            ["future", "set", "f_1", "{bad json"],
            ["future", "set", "f_1", "[1,"],
            ["future", "fail", "f_1", "E"], ["future", "cancel"],
            ["await"], ["await", "f_1", "--timeout", "x"],
            ["on-done"], ["on-done", "f_1"],
            ["on-done", "f_1", "--soon", "--", "true"],
            ["wait"], ["wait", "--timeout", "x", "f_1"], ["gather"],
        ]
        for args in cases:
            with self.subTest(args=args):
                p = self.ctl(*args, expect=2)
                self.assertIn("usage: loopctl", p.stderr)
                self.assertEqual(p.stdout, "")

    def test_help_exit_0(self):
        for args in (["--help"], ["help"], ["-h"]):
            p = self.ctl(*args)
            for cmd in ("schedule", "future new", "await", "on-done", "wait",
                        "gather", "ls", "show", "status", "time", "cancel"):
                self.assertIn("  " + cmd + " ", p.stdout)
        for args, words in ((["schedule", "--help"], "schedule"),
                            (["help", "schedule"], "schedule"),
                            (["future", "set", "-h"], "future set"),
                            (["help", "future", "set"], "future set")):
            p = self.ctl(*args)
            self.assertTrue(p.stdout.startswith("usage: loopctl %s " % words),
                            p.stdout)


class ScheduleTest(LoopctlCase):

    def test_durations(self):
        for dur, secs in (("0.5", 0.5), ("500ms", 0.5), ("2m", 120),
                          ("1h30m", 5400), ("1.5s", 1.5)):
            with self.subTest(dur=dur):
                c = self.ctl_json("schedule", "--after", dur, "--", "true")
                self.assertRegex(c["id"], ID_RE)
                self.assertAlmostEqual(c["due"] - c["created"], secs,
                                       delta=0.01)
                # Clean up; the 0.5 s ones may have run already (a slow
                # loopctl start under ASan in a parallel run).
                p = self.d.loopctl("cancel", c["id"])
                if p.returncode != 0:
                    self.assertIn("already done", p.stdout)

    def test_at(self):
        now = time.time()
        target = now + 3600.25
        utc = datetime.datetime.fromtimestamp(target, datetime.timezone.utc)
        plus2 = utc.astimezone(datetime.timezone(datetime.timedelta(hours=2)))
        for text in (utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                     plus2.isoformat(),
                     "%.6f" % target):
            with self.subTest(at=text):
                before = time.time()
                c = self.ctl_json("schedule", "--at", text, "--", "true")
                after = time.time()
                self.assertAlmostEqual(c["due_unix"], target, delta=0.01)
                # Due in loop time as far ahead as the target was when the
                # call was created (between before and after: the earlier
                # subtests' time is not counted, as it was with one "now").
                self.assertGreaterEqual(c["due"] - c["created"], target - after - 0.05)
                self.assertLessEqual(c["due"] - c["created"], target - before + 0.05)
                self.ctl("cancel", c["id"])
        # A time in the past is refused, unless --allow-past: then it runs
        # at once.
        p = self.ctl("schedule", "--at", "2001-09-09T01:46:40Z", "--", "true",
                     expect=2)
        self.assertIn("in the past", p.stderr)
        self.assertIn("--allow-past", p.stderr)
        p = self.ctl("schedule", "--at", "2001-09-09T01:46:40Z",
                     "--allow-past", "--wait", "--", "echo", "past")
        self.assertEqual(p.stdout, "past\n")

    def test_at_natural(self):
        """The times at(1) users type, read in the caller's zone (TZ)."""
        for tz in ("UTC", "Asia/Kolkata", "America/New_York"):
            env = {"TZ": tz}
            with self.subTest(tz=tz):
                # "now" is when loopctl ran: between these two.
                now = time.time()
                c = self.ctl_json("schedule", "--at", "now + 5 minutes", "--",
                                  "true", env=env)
                then = time.time()
                self.assertGreaterEqual(c["due_unix"], now + 300 - 0.01)
                self.assertLessEqual(c["due_unix"], then + 300 + 0.01)
                self.ctl("cancel", c["id"])
                c = self.ctl_json("schedule", "--at", "tomorrow 10:00", "--",
                                  "true", env=env)
                import zoneinfo
                z = zoneinfo.ZoneInfo(tz)
                local = datetime.datetime.fromtimestamp(c["due_unix"], z)
                today = datetime.datetime.fromtimestamp(now, z).date()
                self.assertEqual((local.date() - today).days, 1)
                self.assertEqual((local.hour, local.minute, local.second),
                                 (10, 0, 0))
                self.ctl("cancel", c["id"])
                day = (datetime.datetime.fromtimestamp(now, z) +
                       datetime.timedelta(days=3)).strftime("%Y-%m-%d")
                for text in (day + " 09:05", day + "T09:05"):
                    c = self.ctl_json("schedule", "--at", text, "--", "true",
                                      env=env)
                    local = datetime.datetime.fromtimestamp(c["due_unix"], z)
                    self.assertEqual(local.strftime("%Y-%m-%d %H:%M:%S"),
                                     day + " 09:05:00")
                    self.ctl("cancel", c["id"])
        p = self.ctl("schedule", "--at", "teatime", "--", "true", expect=2)
        self.assertIn("teatime", p.stderr)

    def test_wait_passes_exit_status(self):
        p = self.ctl("schedule", "--after", "300ms", "--wait", "--",
                     "sh", "-c", "echo hi; exit 3", expect=3)
        self.assertEqual(p.stdout, "hi\n")
        self.assertEqual(p.stderr, "", "nothing extra when not a terminal")
        p = self.ctl("schedule", "--soon", "--wait", "--",
                     "sh", "-c", "echo out; echo err >&2")
        self.assertEqual((p.stdout, p.stderr), ("out\n", "err\n"))

    def test_wait_longer_than_max_wait(self):
        p = self.ctl("schedule", "--after", "%g" % (MAX_WAIT * 1.5),
                     "--wait", "--", "echo", "late")
        self.assertEqual(p.stdout, "late\n")

    def test_wait_signal(self):
        for sig, num in (("TERM", 15), ("KILL", 9)):
            with self.subTest(sig=sig):
                p = self.ctl("schedule", "--soon", "--wait", "--", "sh",
                             "-c", "kill -%s $$" % sig, expect=128 + num)
                self.assertIn("loopctl: c_", p.stderr)

    def test_wait_timeout(self):
        name = self.name()
        p = self.ctl("schedule", "--after", "1h", "--name", name,
                     "--wait-timeout", "300ms", "--", "true", expect=124)
        self.assertIn("timed out", p.stderr)
        self.assertEqual(p.stdout, "")
        left = self.d.list_calls("name=%s&state=pending" % name)
        self.assertEqual(len(left), 1, "the call is left alone")

    def test_command_timeout(self):
        p = self.ctl("schedule", "--soon", "--timeout", "200ms", "--wait",
                     "--", "sleep", "30", expect=124)
        self.assertIn("TimeoutError", p.stderr)

    def test_wait_cancelled(self):
        name = self.name()

        def cancel():
            calls = self.d.wait_until(
                lambda: self.d.list_calls("name=" + name), what="the call")
            self.d.request("DELETE", "/v1/calls/" + calls[0]["id"])
        t = threading.Thread(target=cancel)
        t.start()
        try:
            p = self.ctl("schedule", "--after", "1h", "--name", name,
                         "--wait", "--", "true", expect=125)
        finally:
            t.join()
        self.assertIn("cancelled", p.stderr)

    def test_wait_json(self):
        c = self.ctl_json("schedule", "--soon", "--wait", "--", "sh", "-c",
                          "echo x; exit 4", expect=4)
        self.assertEqual(c["state"], "finished")
        self.assertEqual(c["exception"]["exit_code"], 4)
        self.assertEqual(c["exception"]["stdout"], "x\n")

    def test_command_options(self):
        data = self.d.path("input")
        with open(data, "w") as f:
            f.write("from a file\n")
        work = self.d.path()
        script = 'cat; echo "$FOO $BAR"; pwd; echo "$LOOP_CALL_ID"'
        p = self.ctl("schedule", "--soon", "--wait", "--stdin-file", data,
                     "--env", "FOO=foo", "--env", "BAR=a=b", "--cwd", work,
                     "--", "sh", "-c", script)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[:3], ["from a file", "foo a=b",
                                     os.path.realpath(work)])
        self.assertRegex(lines[3], ID_RE)
        p = self.ctl("schedule", "--soon", "--wait", "--stdin-file", "-",
                     "--", "cat", input="piped\n")
        self.assertEqual(p.stdout, "piped\n")

    def test_command_without_double_dash(self):
        p = self.ctl("schedule", "--soon", "--wait", "echo", "-n", "x")
        self.assertEqual(p.stdout, "x")

    def test_idempotency_key(self):
        key = "k-" + self.name()
        a = self.ctl("schedule", "--after", "1h", "--idempotency-key", key,
                     "--", "true").stdout
        b = self.ctl("schedule", "--after", "1h", "--idempotency-key", key,
                     "--", "true").stdout
        self.assertEqual(a, b)
        p = self.ctl("schedule", "--after", "1h", "--idempotency-key", key,
                     "--", "false", expect=1)
        self.assertIn("422", p.stderr)

    def test_daemon_refusal_exits_1(self):
        p = self.ctl("schedule", "--soon", "--webhook", "ftp://x/", expect=1)
        self.assertRegex(p.stderr, r"^loopctl: 400 BadRequest: ")
        p = self.ctl("schedule", "--soon", "--webhook", "ftp://x/", "--wait",
                     expect=125)
        self.assertIn("400", p.stderr)

    def test_cancel(self):
        cid = self.ctl("schedule", "--after", "1h", "--", "true").stdout
        cid = cid.strip()
        self.assertEqual(self.ctl("cancel", cid).stdout, "cancelled\n")
        # Nothing cancelled: exit 1.
        p = self.ctl("cancel", cid, expect=1)
        self.assertTrue(p.stdout.startswith("not cancelled"), p.stdout)
        self.assertEqual(self.ctl_json("show", cid)["state"], "cancelled")
        self.assertEqual(self.ctl_json("cancel", cid, expect=1),
                         {"cancelled": False})


class WebhookTest(LoopctlCase):

    def setUp(self):
        super().setUp()
        r = self.d.request("POST", "/v1/calls", body={
            "after": 3600, "webhook": {"url": "http://127.0.0.1:9/"}})
        if r.status == 501:
            self.skipTest("the daemon has no webhooks yet")
        self.d.request("DELETE", "/v1/calls/" + r.body["id"])
        got = self.got = []

        class Receiver(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                got.append((self.command, self.path, dict(self.headers),
                            self.rfile.read(n)))
                data = b'{"thanks": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            do_PUT = do_POST

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Receiver)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_port
        t = threading.Thread(target=self.server.serve_forever, daemon=True)
        t.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)

    def test_webhook_wait(self):
        p = self.ctl("schedule", "--soon", "--webhook", self.url, "--data",
                     '{"k": [1, 2]}', "--header", "X-Test: yes", "--method",
                     "PUT", "--wait")
        self.assertEqual(json.loads(p.stdout), {"thanks": True})
        method, path, headers, body = self.got[0]
        self.assertEqual((method, path), ("PUT", "/hook"))
        self.assertEqual(json.loads(body), {"k": [1, 2]})
        self.assertEqual(headers.get("X-Test"), "yes")

    def test_webhook_failure_exits_1(self):
        # One attempt: the retries' pauses are not what this is about.
        p = self.ctl("schedule", "--soon", "--timeout", "2s", "--retry", "1",
                     "--webhook", "http://127.0.0.1:9/", "--wait", expect=1)
        self.assertIn("WebhookFailed", p.stderr)


class FutureTest(LoopctlCase):

    def test_set_and_await(self):
        fid = self.new_future("--name", "answer")
        self.ctl("future", "set", fid, '{"x": [1, 2]}')
        p = self.ctl("await", fid)
        self.assertEqual(json.loads(p.stdout), {"x": [1, 2]})
        f = self.ctl_json("await", fid)
        self.assertEqual((f["id"], f["state"], f["result"]),
                         (fid, "finished", {"x": [1, 2]}))
        p = self.ctl("future", "set", fid, "2", expect=1)
        self.assertIn("409 InvalidStateError", p.stderr)
        fid = self.new_future()
        self.ctl("future", "set", fid, "-5")      # not an option
        self.assertEqual(self.ctl("await", fid).stdout, "-5\n")

    def test_fail_and_await(self):
        fid = self.new_future()
        self.ctl("future", "fail", fid, "ValueError", "no good")
        p = self.ctl("await", fid, expect=1)
        self.assertIn("ValueError: no good", p.stderr)
        self.assertEqual(p.stdout, "")
        f = self.ctl_json("await", fid, expect=1)
        self.assertEqual(f["exception"]["type"], "ValueError")
        self.ctl("future", "fail", fid, "E", "again", expect=1)

    def test_cancel_and_await(self):
        fid = self.new_future()
        self.assertEqual(self.ctl("future", "cancel", fid).stdout,
                         "cancelled\n")
        p = self.ctl("future", "cancel", fid)
        self.assertTrue(p.stdout.startswith("not cancelled"))
        p = self.ctl("await", fid, expect=1)
        self.assertIn("cancelled", p.stderr)
        fid = self.new_future()
        self.assertEqual(self.ctl("cancel", fid).stdout, "cancelled\n")

    def test_future_timeout(self):
        fid = self.new_future("--timeout", "300ms")
        p = self.ctl("await", fid, expect=1)
        self.assertIn("cancelled", p.stderr)

    def test_await_timeout(self):
        fid = self.new_future()
        p = self.ctl("await", fid, "--timeout", "300ms", expect=124)
        self.assertIn("timed out", p.stderr)
        f = self.ctl_json("await", fid, "--timeout", "0", expect=124)
        self.assertEqual(f["state"], "pending")

    def test_await_past_max_wait(self):
        fid = self.new_future()
        self.later("%g" % (MAX_WAIT * 1.5), "future", "set", fid, '"done"')
        p = self.ctl("await", fid, "--timeout", "20s")
        self.assertEqual(p.stdout, '"done"\n')

    def test_await_call(self):
        cid = self.ctl("schedule", "--soon", "--", "echo", "hi").stdout
        r = json.loads(self.ctl("await", cid.strip()).stdout)
        self.assertEqual((r["exit_code"], r["stdout"]), (0, "hi\n"))

    def test_on_done(self):
        fid = self.new_future()
        out = self.d.path("on-done")
        p = self.ctl("on-done", fid, "--", "sh", "-c",
                     'cat > "$1.json"; echo "$LOOP_FUTURE_ID $LOOP_FUTURE_STATE"'
                     ' > "$1.env"', "sh", out)
        cid = p.stdout.strip()
        self.assertRegex(cid, ID_RE)
        self.assertEqual(self.ctl_json("show", cid)["phase"], "waiting")
        self.ctl("future", "set", fid, "42")
        self.ctl("await", cid)
        with open(out + ".json") as f:
            self.assertEqual(json.load(f)["result"], 42)
        with open(out + ".env") as f:
            self.assertEqual(f.read(), fid + " finished\n")
        c = self.ctl_json("on-done", fid, "--name", "w", "--wait", "--",
                          "true")
        self.assertEqual(c["state"], "finished")

    def test_wait(self):
        a, b = self.new_future(), self.new_future()
        p = self.ctl("wait", a, b, "--timeout", "300ms", expect=124)
        self.assertEqual(p.stdout, "done:\npending: %s %s\n" % (a, b))
        self.ctl("future", "set", a, "1")
        p = self.ctl("wait", "--any", a, b)
        self.assertEqual(p.stdout, "done: %s\npending: %s\n" % (a, b))
        self.ctl("wait", "--all", a, b, "--timeout", "200ms", expect=124)
        w = self.ctl_json("wait", "--first-exception", a, b, "--timeout",
                          "200ms", expect=124)
        self.assertEqual((w["done"], w["pending"]), ([a], [b]))
        self.later("%g" % (MAX_WAIT * 1.5), "future", "fail", b, "E", "x")
        w = self.ctl_json("wait", "--first-exception", a, b)
        self.assertEqual((sorted(w["done"]), w["pending"]),
                         (sorted([a, b]), []))
        self.ctl("wait", a, b)

    def test_gather(self):
        a, b, c = self.new_future(), self.new_future(), self.new_future()
        self.ctl("future", "set", a, "1")
        self.ctl("future", "set", b, '"two"')
        self.assertEqual(json.loads(self.ctl("gather", a, b).stdout),
                         [1, "two"])
        self.assertEqual(self.ctl_json("gather", a, b)["results"], [1, "two"])
        p = self.ctl("gather", a, c, "--timeout", "300ms", expect=124)
        self.assertIn(c, p.stdout)
        self.later("%g" % (MAX_WAIT * 1.5), "future", "fail", c, "KeyError",
                   "k")
        p = self.ctl("gather", a, c, expect=1)
        self.assertIn("KeyError: k", p.stderr)
        r = json.loads(self.ctl("gather", "--return-exceptions", a,
                                c).stdout)
        self.assertEqual(r[0], 1)
        self.assertEqual(r[1]["type"], "KeyError")


if __name__ == "__main__":
    unittest.main()
