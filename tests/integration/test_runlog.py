"""Every run logged (issue 14): a line per start and per end of a call's
action in the daemon's log (call id, name, what it runs, lateness; exit or
HTTP status, duration, attempts, the error), fields for the journal under
systemd (checked through a fake native journal socket in a private mount
namespace, when this runs as root with unshare), a rate limit with a
"N run lines suppressed" summary; GET /v1/logs and `loopctl logs [-f]`
(across a restart); GET /v1/status and `loopctl status`; GET /v1/calls
with order=desc, outcome= and since=, and `loopctl ls` reading only the
pages it shows."""

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from harness import LOOPCTL, Daemon, DaemonTestCase, assert_problem, sh, wait_until

RUN_LINE = re.compile(r"(?m)^(?:<\d>)?loopd: (info|warn): run (c_[0-9a-f]{16})(?: \(([^)]*)\))? (.*)$")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_lines(d, cid):
    """(level, rest) of the daemon's run lines about call cid."""
    return [(m.group(1), m.group(4)) for m in RUN_LINE.finditer(d.log())
            if m.group(2) == cid]


class RunLogTest(DaemonTestCase):

    def wait_lines(self, cid, n):
        return self.d.wait_until(lambda: len(run_lines(self.d, cid)) >= n and
                                 run_lines(self.d, cid),
                                 what="%d run lines of %s" % (n, cid))

    def test_start_and_finish_of_a_command(self):
        c = self.d.schedule({"soon": True, "name": "fine", "command": sh("exit 0")})
        self.d.wait_done(c["id"])
        lines = self.wait_lines(c["id"], 2)
        self.assertEqual(lines[0][0], "info")
        self.assertRegex(lines[0][1], r"^started: command /bin/sh, attempt 1$")
        self.assertEqual(lines[1][0], "info")
        self.assertRegex(lines[1][1], r"^ok: command /bin/sh: exit 0 in \d+\.\d{3}s, 1 attempt$")
        self.assertIn("run %s (fine) started" % c["id"], self.d.log())

    def test_failure_says_why_at_warn(self):
        c = self.d.schedule({"soon": True, "name": "bad", "command": sh("exit 3")})
        self.d.wait_done(c["id"])
        lines = self.wait_lines(c["id"], 2)
        self.assertEqual(lines[1][0], "warn")
        self.assertRegex(lines[1][1], r"^failed: command /bin/sh: exit 3 in [\d.]+s, "
                         r"CommandFailed: exited with status 3, 1 attempt$")
        spawn = self.d.schedule({"soon": True, "command": sh("kill -9 $$")})
        self.d.wait_done(spawn["id"])
        lines = self.wait_lines(spawn["id"], 2)
        self.assertRegex(lines[1][1], r"^failed: command /bin/sh: signal 9 in .*CommandFailed")

    def test_a_name_cannot_forge_a_line(self):
        c = self.d.schedule({"soon": True, "name": "x\nloopd: warn: forged",
                             "command": sh("true")})
        self.d.wait_done(c["id"])
        self.wait_lines(c["id"], 2)
        self.assertNotRegex(self.d.log(), r"(?m)^loopd: warn: forged")
        self.assertIn("(x?loopd: warn: forged)", self.d.log())

    def test_webhook_retry_and_failure(self):
        port = free_port()      # nobody listens there
        c = self.d.schedule({"soon": True, "name": "hook",
                             "webhook": {"url": "http://127.0.0.1:%d/x" % port},
                             "retry": {"attempts": 2, "backoff": 0.05}})
        self.d.wait_done(c["id"])
        lines = self.wait_lines(c["id"], 4)
        self.assertRegex(lines[0][1], r"^started: webhook 127\.0\.0\.1:%d, attempt 1$" % port)
        self.assertEqual(lines[1][0], "warn")
        self.assertRegex(lines[1][1], r"^attempt 1 failed: webhook 127\.0\.0\.1:%d: .*"
                         r"WebhookFailed: .*; retrying in [\d.]+s$" % port)
        self.assertRegex(lines[2][1], r"attempt 2$")
        self.assertRegex(lines[3][1], r"^failed: webhook .*WebhookFailed.*, 2 attempts$")

    def test_lateness_is_told(self):
        c = self.d.schedule({"after": 0.05, "command": sh("true")})
        self.d.wait_done(c["id"])
        lines = self.wait_lines(c["id"], 2)
        self.assertRegex(lines[0][1], r"attempt 1, \d+\.\d{3}s late$")

    def test_cancel_of_a_running_command_is_an_end(self):
        c = self.d.schedule({"soon": True, "command": sh("sleep 30")})
        self.d.wait_until(lambda: self.d.call(c["id"])["phase"] == "running")
        self.assertEqual(self.d.request("DELETE", "/v1/calls/" + c["id"]).status, 200)
        self.d.wait_done(c["id"])
        lines = self.wait_lines(c["id"], 2)
        self.assertRegex(lines[1][1], r"^cancelled: command /bin/sh")

    # -- GET /v1/logs ----------------------------------------------------

    def records(self, cid, n):
        """The records of call cid in GET /v1/logs once there are n."""
        recs = [r for r in self.d.get_json("/v1/logs")["items"] if r["id"] == cid]
        return recs if len(recs) == n else None

    def test_logs_records(self):
        c = self.d.schedule({"soon": True, "name": "rec", "command": sh("exit 7")})
        self.d.wait_done(c["id"])
        start, end = self.d.wait_until(lambda: self.records(c["id"], 2),
                                       what="two records")
        self.assertEqual((start["event"], start["name"], start["kind"], start["action"],
                          start["attempt"]), ("start", "rec", "command", "/bin/sh", 1))
        self.assertEqual((end["event"], end["outcome"], end["exit_code"], end["attempts"],
                          end["error"]["type"]), ("end", "failed", 7, 1, "CommandFailed"))
        self.assertGreater(end["seq"], start["seq"])
        self.assertIsInstance(end["duration"], float)

    def test_logs_after_limit_and_stale(self):
        c = self.d.schedule({"soon": True, "command": sh("true")})
        self.d.wait_done(c["id"])
        self.d.wait_until(lambda: len(self.d.get_json("/v1/logs")["items"]) >= 2)
        body = self.d.get_json("/v1/logs")
        last = body["items"][-1]["seq"]
        self.assertEqual(body["next_after"], last)
        one = self.d.get_json("/v1/logs?after=0&limit=1")
        self.assertEqual(len(one["items"]), 1)
        self.assertEqual(one["next_after"], one["items"][0]["seq"])
        nxt = self.d.get_json("/v1/logs?after=%d&limit=1" % one["next_after"])
        self.assertEqual(nxt["items"][0]["seq"], one["next_after"] + 1)
        self.assertEqual(self.d.get_json("/v1/logs?after=%d" % last),
                         {"items": [], "next_after": last})
        # A number from an earlier run (past the newest): from the oldest.
        stale = self.d.get_json("/v1/logs?after=%d" % (last + 10 ** 9))
        self.assertEqual(stale["items"], body["items"])
        for q in ("after=-1", "after=x", "limit=0", "limit=5000", "wait=-1", "nope=1"):
            assert_problem(self, self.d.request("GET", "/v1/logs?" + q), 400)
        assert_problem(self, self.d.request("GET", "/v1/logs", auth=False), 401)

    def test_logs_long_poll(self):
        last = self.d.get_json("/v1/logs")["next_after"]
        with self.d.begin("GET", "/v1/logs?after=%d&wait=20" % last) as pending:
            self.assertFalse(pending.replied(within=0.2))
            c = self.d.schedule({"soon": True, "command": sh("true")})
            r = pending.response()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["items"][0]["id"], c["id"])
        self.assertGreater(r.body["items"][0]["seq"], last)
        # Nothing comes: the wait ends empty.
        self.d.wait_until(lambda: self.records(c["id"], 2), what="two records")
        last = self.d.get_json("/v1/logs")["next_after"]
        t0 = time.monotonic()
        body = self.d.get_json("/v1/logs?after=%d&wait=0.3" % last)
        self.assertEqual(body, {"items": [], "next_after": last})
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)

    def test_loopctl_logs(self):
        c = self.d.schedule({"soon": True, "name": "ctl", "command": sh("exit 2")})
        self.d.wait_done(c["id"])
        self.d.wait_until(lambda: "failed" in self.d.loopctl("logs").stdout)
        p = self.d.loopctl("logs")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  %s \(ctl\)  started "
                         r"+command /bin/sh, attempt 1$" % c["id"])
        self.assertRegex(p.stdout, r"(?m)^.*%s \(ctl\)  failed +command /bin/sh: exit 2 in "
                         r"\S+: CommandFailed: exited with status 2 \(1 attempt\)$" % c["id"])
        p = self.d.loopctl("logs", "-n", "1")
        self.assertEqual(len(p.stdout.splitlines()), 1)
        p = self.d.loopctl("--json", "logs", "-n", "2")
        recs = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(len(recs), 2)
        self.assertTrue(all("seq" in r for r in recs))


class RateLimitTest(unittest.TestCase):

    def test_flood_is_summarised(self):
        with Daemon(opts={"log_runs_per_second": 5}) as d:
            ids = [d.schedule({"soon": True, "command": sh("true")})["id"]
                   for _ in range(40)]
            for cid in ids:
                d.wait_done(cid)

            def told():
                shown = len(RUN_LINE.findall(d.log()))
                suppressed = sum(int(n) for n in
                                 re.findall(r"(\d+) run lines suppressed", d.log()))
                return shown + suppressed == 80 and (shown, suppressed)
            shown, suppressed = d.wait_until(told, timeout=20,
                                             what="every run line shown or counted")
            self.assertGreater(suppressed, 0)
            self.assertLess(shown, 80)
            # All of them are still in GET /v1/logs.
            self.assertEqual(len(d.get_json("/v1/logs")["items"]), 80)


def _journal_capable():
    return (os.geteuid() == 0 and shutil.which("unshare") is not None and
            subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0)


class JournalDaemon(Daemon):
    """loopd in a private mount namespace whose /run/systemd/journal is a
    directory of the test's, where the test listens as the journal's
    native socket; JOURNAL_STREAM names loopd's stderr, as systemd does."""

    def __init__(self, jdir, **kw):
        super().__init__(**kw)
        self.jdir = jdir

    def command_line(self):
        inner = super().command_line()
        script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
                  'mount --bind "$0" /run/systemd/journal && '
                  'st=$(stat -L -c %d:%i /dev/stderr) && JOURNAL_STREAM=$st exec "$@"')
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                self.jdir] + inner


def parse_native(data):
    """The fields of one datagram of the journal's native protocol."""
    fields = {}
    while data:
        nl = data.index(b"\n")
        line = data[:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            data = data[nl + 1:]
        else:
            k = line
            (n,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + n]
            data = data[nl + 9 + n + 1:]
        fields[k.decode()] = v.decode()
    return fields


@unittest.skipUnless(_journal_capable(), "needs root and unshare -m (a private mount "
                     "namespace for a fake /run/systemd/journal/socket)")
class JournalTest(unittest.TestCase):

    def test_fields_through_the_native_socket(self):
        jdir = tempfile.mkdtemp(prefix="loopd-journal-")
        self.addCleanup(shutil.rmtree, jdir, True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(os.path.join(jdir, "socket"))
        sock.settimeout(0.2)
        with JournalDaemon(jdir) as d:
            c = d.schedule({"soon": True, "name": "jn", "command": sh("exit 4")})
            d.wait_done(c["id"])
            got = []

            def two():
                try:
                    got.append(parse_native(sock.recv(65536)))
                except socket.timeout:
                    pass
                return len([g for g in got if g.get("LOOPD_CALL_ID") == c["id"]]) >= 2
            d.wait_until(two, what="two journal entries")
            start, end = [g for g in got if g.get("LOOPD_CALL_ID") == c["id"]][:2]
            self.assertEqual((start["LOOPD_NAME"], start["LOOPD_OUTCOME"], start["PRIORITY"]),
                             ("jn", "started", "6"))
            self.assertEqual((end["LOOPD_OUTCOME"], end["PRIORITY"]), ("failed", "4"))
            self.assertIn("exit 4", end["MESSAGE"])
            self.assertEqual(end["SYSLOG_IDENTIFIER"], "loopd")
            # Not on stderr as well.
            self.assertNotIn("run %s" % c["id"], d.log())


class StatusTest(DaemonTestCase):

    def test_status_route(self):
        s = self.d.get_json("/v1/status")
        self.assertRegex(s["version"], r"^\d+\.\d+\.\d+$")
        self.assertGreaterEqual(s["uptime"], 0)
        self.assertIn(self.d.url, s["listen"])
        self.assertEqual(os.path.realpath(s["state_dir"]), os.path.realpath(self.d.state_dir))
        self.assertEqual(s["store"], {"writable": True, "fault": None})
        for k in ("pending_calls", "pending_futures", "objects", "running_calls",
                  "running_commands", "queued_commands", "running_webhooks",
                  "queued_webhooks", "held_requests"):
            self.assertIsInstance(s["counts"][k], int, k)
        self.d.schedule({"after": 3600, "command": sh("true")})
        counts = self.d.get_json("/v1/status")["counts"]
        self.assertEqual(counts["pending_calls"], 1)
        self.assertEqual(counts["pending_calls_by_phase"],
                         {"scheduled": 1, "waiting": 0, "running": 0})
        assert_problem(self, self.d.request("GET", "/v1/status", auth=False), 401)

    def test_loopctl_status(self):
        p = self.d.loopctl("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in (r"^loopd: +\d+\.\d+\.\d+ \(pid \d+\), up \d+s$",
                     r"^listening on: +%s$" % re.escape(self.d.url),
                     r"^state directory: +%s$" % re.escape(self.d.state_dir),
                     r"^store: +writable$"):
            self.assertRegex(p.stdout, "(?m)" + line)
        s = json.loads(self.d.loopctl("--json", "status").stdout)
        self.assertEqual(s["daemon"]["listen"], [self.d.url])
        # The phases come from the daemon's counts, not a listing.
        fid = self.d.get_json("/v1/status")["counts"]["pending_calls"]
        p = self.d.loopctl("status")
        self.assertRegex(p.stdout, r"(?m)^pending calls: %d \(%d scheduled, 0 waiting, "
                         r"0 running\)$" % (fid, fid))
        self.assertNotIn('route="/v1/calls",method="GET"',
                         self.d.request("GET", "/metrics").body)


class ListOrderTest(DaemonTestCase):

    def requests_of_calls(self):
        text = self.d.request("GET", "/metrics").body
        m = re.search(r'(?m)^loopd_http_requests_total\{route="/v1/calls",method="GET",'
                      r'code="200"\} (\d+)', text)
        return int(m.group(1)) if m else 0

    def test_desc_outcome_since(self):
        t0 = self.d.loop_time()
        ok = self.d.schedule({"soon": True, "name": "o", "command": sh("true")})
        bad = self.d.schedule({"soon": True, "name": "o", "command": sh("exit 1")})
        later = self.d.schedule({"after": 3600, "name": "o", "command": sh("true")})
        gone = self.d.schedule({"after": 3600, "name": "o", "command": sh("true")})
        self.d.request("DELETE", "/v1/calls/" + gone["id"])
        for c in (ok, bad):
            self.d.wait_done(c["id"])
        ids = lambda q: [c["id"] for c in self.d.get_json("/v1/calls?name=o&" + q)["items"]]
        self.assertEqual(ids("order=desc"), [gone["id"], later["id"], bad["id"], ok["id"]])
        self.assertEqual(ids("order=asc"), [ok["id"], bad["id"], later["id"], gone["id"]])
        self.assertEqual(ids("outcome=failed"), [bad["id"]])
        self.assertEqual(ids("outcome=ok"), [ok["id"]])
        self.assertEqual(ids("outcome=cancelled"), [gone["id"]])
        self.assertEqual(ids("since=%f&order=desc" % later["created"]),
                         [gone["id"], later["id"]])
        self.assertEqual(ids("since=%f" % (t0 - 1)), ids("order=asc"))
        page = self.d.get_json("/v1/calls?name=o&order=desc&page_size=3")
        self.assertEqual(len(page["items"]), 3)
        rest = self.d.get_json("/v1/calls?name=o&order=desc&page_size=3&page_token=" +
                               page["next_page_token"])
        self.assertEqual([c["id"] for c in rest["items"]], [ok["id"]])
        for q in ("order=up", "outcome=bad", "since=-1", "since=x"):
            assert_problem(self, self.d.request("GET", "/v1/calls?" + q), 400)

    def test_loopctl_ls_reads_only_what_it_shows(self):
        with self.d.session() as s:
            for i in range(1005):
                r = s.request("POST", "/v1/calls", body={"after": 3600, "name": "many",
                                                         "command": sh("true")})
                self.assertEqual(r.status, 201)
        newest = self.d.get_json("/v1/calls?name=many&order=desc&page_size=3")["items"]
        before = self.requests_of_calls()
        p = self.d.loopctl("ls", "--name", "many", "--limit", "3", "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split(), [c["id"] for c in newest])
        # One page of three, not every page of the 1005.
        self.assertEqual(self.requests_of_calls() - before, 1)
        p = self.d.loopctl("ls", "--name", "many", "-q")
        self.assertEqual(len(p.stdout.split()), 1005)
        self.assertEqual(p.stdout.split()[:3], [c["id"] for c in newest])


class FollowTest(unittest.TestCase):

    def test_follow_goes_on_across_a_restart(self):
        d = Daemon(listen="127.0.0.1:%d" % free_port())
        self.addCleanup(d.close)
        d.start()
        env = dict(os.environ, LOOP_URL=d.url, LOOP_TOKEN_FILE=d.token_file)
        env.pop("LOOP_TOKEN", None)
        out = open(d.path("follow.out"), "w+")
        self.addCleanup(out.close)
        p = subprocess.Popen([LOOPCTL, "logs", "-f"], stdout=out, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, env=env, text=True)

        def stop():
            if p.poll() is None:
                p.kill()
            p.wait(10)
            p.stderr.close()
        self.addCleanup(stop)

        def text():
            with open(out.name) as f:
                return f.read()
        a = d.schedule({"soon": True, "name": "before", "command": sh("true")})
        d.wait_until(lambda: re.search(r"%s \(before\)  ok" % a["id"], text()),
                     what="the first run followed")
        d.stop()
        d.start()
        b = d.schedule({"soon": True, "name": "after", "command": sh("exit 1")})
        d.wait_until(lambda: re.search(r"%s \(after\)  failed" % b["id"], text()),
                     timeout=20, what="a run after the restart followed")
        self.assertIsNone(p.poll())
        self.assertEqual(text().count("(before)  ok"), 1, text())


if __name__ == "__main__":
    unittest.main()
