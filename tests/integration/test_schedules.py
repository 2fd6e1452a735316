"""
API.md section 10: recurring schedules. Every route, the policies
(catch-up, overlap, pause_on_failure, count, bounds, jitter), the limits,
and a schedule surviving kill -9 with its missed-run policy applied and no
occurrence run twice.
"""
import collections
import os
import subprocess
import time
import unittest

from harness import Daemon, sh, wait_until

TRUE = {"argv": ["true"]}


def occurrences(d, sid):
    """The calls of schedule sid, oldest first."""
    return [c for c in d.list_calls() if c.get("schedule") == sid]


def create(tc, d, body, status=201):
    r = d.request("POST", "/v1/schedules", body=body)
    tc.assertEqual(r.status, status, r.body)
    return r.body


class SchedulesApiTest(unittest.TestCase):
    """Routes, the object, bad input, limits."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(opts={"max_schedules": 6}).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def tearDown(self):
        for s in self.d.get_json("/v1/schedules")["items"]:
            self.d.request("DELETE", "/v1/schedules/" + s["id"])

    def test_object_and_next_across_spring_forward(self):
        # 02:30 does not exist in Berlin on 2027-03-28: it fires at the end
        # of the gap, 03:00 CEST (API.md's example, with the right unix).
        s = create(self, self.d, {
            "cron": "30 2 * * *", "tz": "Europe/Berlin", "name": "nightly",
            "start": "2027-03-26T12:00:00Z", "command": TRUE})
        self.assertRegex(s["id"], r"^s_[0-9a-f]{16}$")
        self.assertEqual((s["kind"], s["state"], s["cron"], s["tz"], s["name"]),
                         ("schedule", "active", "30 2 * * *", "Europe/Berlin",
                          "nightly"))
        self.assertEqual((s["catchup"], s["catchup_window"], s["overlap"],
                          s["jitter"], s["pause_on_failure"]),
                         ("skip", 60, "skip", 0, False))
        self.assertEqual(s["command"], TRUE)
        nxt = s["next"]
        self.assertGreaterEqual(len(nxt), 5)
        self.assertEqual(nxt[0], {"unix": 1806111000.0,
                                  "local": "2027-03-27T02:30:00+01:00"})
        self.assertEqual(nxt[1], {"unix": 1806195600.0,
                                  "local": "2027-03-28T03:00:00+02:00"})
        self.assertEqual(nxt[2]["local"], "2027-03-29T02:30:00+02:00")
        self.assertEqual(self.d.get_json("/v1/schedules/" + s["id"])["next"], nxt)

    def test_fall_back_fixed_hour_runs_once(self):
        s = create(self, self.d, {
            "cron": "30 2 * * *", "tz": "Europe/Berlin",
            "start": "2027-10-30T12:00:00Z", "command": TRUE})
        locs = [n["local"] for n in s["next"][:2]]
        self.assertEqual(locs, ["2027-10-31T02:30:00+02:00",
                                "2027-11-01T02:30:00+01:00"])

    def test_list_filters_and_pages(self):
        a = create(self, self.d, {"every": 3600, "name": "a", "command": TRUE})
        b = create(self, self.d, {"every": 3600, "name": "b", "command": TRUE})
        c = create(self, self.d, {"every": "2h", "name": "a", "command": TRUE})
        self.d.request("POST", "/v1/schedules/%s/pause" % b["id"])
        ids = lambda q: [x["id"] for x in self.d.get_json("/v1/schedules" + q)["items"]]
        self.assertEqual(ids(""), [a["id"], b["id"], c["id"]])
        self.assertEqual(ids("?name=a"), [a["id"], c["id"]])
        self.assertEqual(ids("?state=paused"), [b["id"]])
        self.assertEqual(ids("?state=active&name=a"), [a["id"], c["id"]])
        page = self.d.get_json("/v1/schedules?page_size=2")
        self.assertEqual([x["id"] for x in page["items"]], [a["id"], b["id"]])
        rest = self.d.get_json("/v1/schedules?page_size=2&page_token=" +
                               page["next_page_token"])
        self.assertEqual(([x["id"] for x in rest["items"]], rest["next_page_token"]),
                         ([c["id"]], ""))
        for q in ("?state=gone", "?page_size=0", "?color=red", "?page_token=zz"):
            self.assertEqual(self.d.request("GET", "/v1/schedules" + q).status, 400, q)

    def test_bad_input_names_the_field(self):
        cases = [
            ({"cron": "61 * * * *", "command": TRUE}, "cron:"),
            ({"cron": "0 0 30 2 *", "command": TRUE}, "never fires"),
            ({"calendar": "*-02-30 00:00", "command": TRUE}, "calendar:"),
            ({"cron": "* * * * *", "tz": "Mars/Olympus", "command": TRUE}, "tz:"),
            ({"cron": "* * * * *", "tz": "../etc/passwd", "command": TRUE}, "tz:"),
            ({"every": 0.2, "command": TRUE}, "minimum interval"),
            ({"every": -1, "command": TRUE}, "every:"),
            ({"every": 60}, "action:"),
            ({"command": TRUE}, "spec:"),
            ({"every": 60, "cron": "* * * * *", "command": TRUE}, "spec:"),
            ({"every": 60, "after": 5, "command": TRUE}, "after:"),
            ({"every": 60, "color": 1, "command": TRUE}, "color:"),
            ({"every": 60, "catchup": "some", "command": TRUE}, "catchup:"),
            ({"every": 60, "overlap": "queue", "command": TRUE}, "overlap:"),
            ({"every": 60, "start": "yesterday", "command": TRUE}, "start:"),
            ({"every": 60, "start": 200, "end": 100, "command": TRUE}, "end:"),
            ({"cron": "0 0 1 1 *", "end": "2001-01-02T00:00:00Z", "command": TRUE},
             "never fires"),
            ({"every": 60, "count": 0, "command": TRUE}, "count:"),
            ({"every": 60, "jitter": -1, "command": TRUE}, "jitter:"),
            ({"every": 60, "tz": "Europe/Berlin", "command": TRUE}, "tz:"),
        ]
        for body, want in cases:
            r = self.d.request("POST", "/v1/schedules", body=body)
            self.assertEqual(r.status, 400, (body, r.body))
            self.assertIn(want, r.body["detail"], body)

    def test_not_found_and_methods(self):
        for m, p in (("GET", "s_00000000000000ff"), ("DELETE", "s_00000000000000ff"),
                     ("POST", "s_00000000000000ff/pause"), ("GET", "c_0000000000000001"),
                     ("GET", "nope")):
            self.assertEqual(self.d.request(m, "/v1/schedules/" + p).status, 404, p)
        self.assertEqual(self.d.request("PUT", "/v1/schedules").status, 405)

    def test_cap(self):
        for i in range(6):
            create(self, self.d, {"every": 3600, "command": TRUE})
        r = self.d.request("POST", "/v1/schedules", body={"every": 3600, "command": TRUE})
        self.assertEqual(r.status, 429, r.body)
        self.assertIn("max_schedules", r.body["detail"])

    def test_patch(self):
        s = create(self, self.d, {"every": 3600, "name": "x", "command": TRUE})
        r = self.d.request("PATCH", "/v1/schedules/" + s["id"], body={
            "cron": "0 9 * * 1", "tz": "America/New_York", "name": None,
            "overlap": "allow_all"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.body["cron"], r.body["tz"], r.body["overlap"]),
                         ("0 9 * * 1", "America/New_York", "allow_all"))
        self.assertNotIn("every", r.body)
        self.assertNotIn("name", r.body)
        self.assertTrue(r.body["next"][0]["local"].endswith("T09:00:00-05:00") or
                        r.body["next"][0]["local"].endswith("T09:00:00-04:00"))
        r = self.d.request("PATCH", "/v1/schedules/" + s["id"], body={"cron": "nope"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.d.get_json("/v1/schedules/" + s["id"])["cron"],
                         "0 9 * * 1")
        # The call made ahead follows the new definition.
        pend = [c for c in occurrences(self.d, s["id"]) if c["state"] == "pending"]
        self.assertEqual(len(pend), 1)
        self.assertEqual(pend[0]["scheduled_for"],
                         self.d.get_json("/v1/schedules/" + s["id"])["next"][0]["unix"])

    def test_pause_resume_delete(self):
        s = create(self, self.d, {"every": 3600, "command": TRUE})
        sid = s["id"]
        pend = [c for c in occurrences(self.d, sid) if c["state"] == "pending"]
        self.assertEqual(len(pend), 1)
        r = self.d.request("POST", "/v1/schedules/%s/pause" % sid)
        self.assertEqual((r.status, r.body["state"]), (200, "paused"))
        self.assertEqual(self.d.call(pend[0]["id"])["state"], "cancelled")
        self.assertEqual(self.d.request("POST", "/v1/schedules/%s/pause" % sid).status, 409)
        r = self.d.request("POST", "/v1/schedules/%s/resume" % sid)
        self.assertEqual((r.status, r.body["state"]), (200, "active"))
        self.assertEqual(self.d.request("POST", "/v1/schedules/%s/resume" % sid).status, 409)
        pend = [c for c in occurrences(self.d, sid) if c["state"] == "pending"]
        self.assertEqual(len(pend), 1)
        r = self.d.request("DELETE", "/v1/schedules/" + sid)
        self.assertEqual((r.status, r.body["state"]), (200, "deleted"))
        self.assertEqual(self.d.call(pend[0]["id"])["state"], "cancelled")
        self.assertEqual(self.d.request("GET", "/v1/schedules/" + sid).status, 404)

    def test_trigger_and_backfill(self):
        s = create(self, self.d, {"every": 3600, "command": sh("sleep 0.2")})
        sid = s["id"]
        r = self.d.request("POST", "/v1/schedules/%s/trigger" % sid)
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.body["schedule"], sid)
        self.d.wait_done(r.body["id"])
        now = time.time()
        base = int(now // 3600) * 3600
        r = self.d.request("POST", "/v1/schedules/%s/backfill" % sid,
                           body={"from": base - 3 * 3600, "to": base - 1})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["backfilled"], 3)
        calls = [c for c in occurrences(self.d, sid) if c["scheduled_for"] < base]
        self.assertEqual(sorted(c["scheduled_for"] for c in calls),
                         [base - 3 * 3600, base - 2 * 3600, base - 3600])
        done = [self.d.wait_done(c["id"]) for c in calls]
        done.sort(key=lambda c: c["scheduled_for"])
        # One after another, never at once.
        for a, b in zip(done, done[1:]):
            self.assertGreaterEqual(b["started"], a["finished"])
        # Backfilling again makes nothing twice.
        r = self.d.request("POST", "/v1/schedules/%s/backfill" % sid,
                           body={"from": base - 3 * 3600, "to": base - 1})
        self.assertEqual((r.status, r.body["backfilled"]), (200, 0))
        for body in ({"from": now, "to": now + 7200}, {"from": 5}, {"from": base, "to": base - 10},
                     {"from": "x", "to": 1}):
            r = self.d.request("POST", "/v1/schedules/%s/backfill" % sid, body=body)
            self.assertEqual(r.status, 400, (body, r.body))


class SchedulesRunTest(unittest.TestCase):
    """Occurrences run as calls; policies."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon().start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def wait_finished(self, sid, n, timeout=15):
        def enough():
            done = [c for c in occurrences(self.d, sid) if c["state"] != "pending"]
            return done if len(done) >= n else None
        return self.d.wait_until(enough, timeout, "%d occurrences of %s" % (n, sid),
                                 interval=0.1)

    def test_backfill_then_catch_up_makes_each_time_once(self):
        # Paused, then the missed seconds backfilled, then resumed with
        # catchup all: the catch-up made those times again, and the
        # store's UNIQUE (schedule, nominal time) index failed the commit
        # (the store unwritable until its retry; whatever else was in that
        # commit dropped, its 201s turned 503).
        s = create(self, self.d, {"every": 1, "catchup": "all", "catchup_window": 3600,
                                  "command": TRUE})
        sid = s["id"]
        r = self.d.request("POST", "/v1/schedules/%s/pause" % sid)
        self.assertEqual(r.status, 200, r.body)
        mark = r.body["evaluated_up_to"]
        wait_until(lambda: time.time() >= mark + 3.5, 10, "three missed seconds",
                   interval=0.05)
        r = self.d.request("POST", "/v1/schedules/%s/backfill" % sid,
                           body={"from": mark + 0.5, "to": int(time.time())})
        self.assertEqual(r.status, 200, r.body)
        self.assertGreaterEqual(r.body["backfilled"], 3)
        r = self.d.request("POST", "/v1/schedules/%s/resume" % sid)
        self.assertEqual(r.status, 200, r.body)
        # Writes go on: the store took the commit.
        c = self.d.request("POST", "/v1/calls", body={"soon": True, "command": TRUE})
        self.assertEqual(c.status, 201, c.body)
        self.assertTrue(self.d.get_json("/v1/status")["store"]["writable"])
        self.d.request("DELETE", "/v1/schedules/" + sid)
        fors = collections.Counter(c["scheduled_for"] for c in occurrences(self.d, sid))
        self.assertEqual([t for t, n in fors.items() if n > 1], [])
        self.assertNotIn("commit failed", self.d.log())

    def test_every_second_makes_calls_once_each(self):
        s = create(self, self.d, {"every": 1, "name": "tick", "command": TRUE})
        done = self.wait_finished(s["id"], 3)
        self.d.request("DELETE", "/v1/schedules/" + s["id"])
        fors = [c["scheduled_for"] for c in occurrences(self.d, s["id"])]
        self.assertEqual(len(fors), len(set(fors)))
        for c in done:
            self.assertEqual((c["name"], c["trigger"]), ("tick", "at_unix"))
            self.assertEqual(c["scheduled_for"], int(c["scheduled_for"]))
            self.assertGreaterEqual(c["due_unix"], c["scheduled_for"])
        ran = sorted(c["scheduled_for"] for c in done if c["state"] == "finished")
        self.assertEqual(ran, [ran[0] + i for i in range(len(ran))])
        view = self.d.get_json("/v1/schedules/" + s["id"], status=404)
        self.assertIn("schedule", view["detail"])

    def test_count_and_end(self):
        s = create(self, self.d, {"every": 1, "count": 2, "command": TRUE})
        self.wait_finished(s["id"], 2)
        self.assertEqual(self.d.get_json("/v1/schedules/" + s["id"])["next"], [])
        self.assertEqual(len(occurrences(self.d, s["id"])), 2)

    def test_jitter_stays_before_the_next(self):
        s = create(self, self.d, {"every": 2, "jitter": 30, "command": TRUE})
        c = [c for c in occurrences(self.d, s["id"])][0]
        self.assertGreaterEqual(c["due_unix"], c["scheduled_for"])
        self.assertLess(c["due_unix"], c["scheduled_for"] + 2)
        # Deterministic: the same id and time give the same delay (PATCH
        # of the name keeps the schedule; the next one is delayed alike).
        self.d.request("DELETE", "/v1/schedules/" + s["id"])

    def overlap_run(self, overlap, n=3):
        s = create(self, self.d, {"every": 1, "overlap": overlap,
                                  "command": sh("sleep 1.6")})
        self.wait_finished(s["id"], n, timeout=20)
        self.d.request("POST", "/v1/schedules/%s/pause" % s["id"])
        calls = occurrences(self.d, s["id"])
        for c in calls:
            if c["state"] == "pending":
                self.d.wait_done(c["id"], timeout=15)
        calls = occurrences(self.d, s["id"])
        self.d.request("DELETE", "/v1/schedules/" + s["id"])
        return calls

    def running_at_once(self, calls, slack=0.0):
        spans = [(c["started"], c["finished"] - slack) for c in calls if "started" in c]
        most = 0
        for a, _ in spans:
            most = max(most, sum(1 for b, e in spans if b <= a < e))
        return most

    def test_overlap_skip(self):
        calls = self.overlap_run("skip")
        self.assertEqual(self.running_at_once(calls), 1)
        self.assertTrue(any(c["state"] == "cancelled" and "started" not in c
                            for c in calls), calls)

    def test_overlap_buffer_one(self):
        calls = self.overlap_run("buffer_one", 4)
        self.assertEqual(self.running_at_once(calls), 1)
        # A buffered one waited for the one running: it started well
        # after its nominal time (due, in loop time, became "now" then).
        off = calls[0]["due_unix"] - calls[0]["due"]
        waited = [c for c in calls if "started" in c and
                  c["started"] + off - c["due_unix"] > 0.3]
        self.assertTrue(waited, calls)

    def test_overlap_cancel_other(self):
        calls = self.overlap_run("cancel_other")
        # The one cancelled ends as its process group is stopped.
        self.assertEqual(self.running_at_once(calls, slack=0.5), 1)
        self.assertTrue(any(c["state"] == "cancelled" and "started" in c
                            for c in calls), calls)

    def test_overlap_allow_all(self):
        calls = self.overlap_run("allow_all", 4)
        self.assertGreaterEqual(self.running_at_once(calls), 2)

    def test_pause_on_failure(self):
        s = create(self, self.d, {"every": 1, "pause_on_failure": True,
                                  "command": {"argv": ["false"]}})
        self.d.wait_until(lambda: self.d.get_json("/v1/schedules/" + s["id"])["state"]
                          == "paused", 10, "the schedule to pause", interval=0.05)
        v = self.d.get_json("/v1/schedules/" + s["id"])
        self.assertEqual(v["recent"][0]["outcome"], "exception")
        self.d.request("DELETE", "/v1/schedules/" + s["id"])


class SchedulesLoopctlTest(unittest.TestCase):
    """loopctl cron add, ls, show, pause, resume, trigger, rm."""

    def test_cron_commands(self):
        with Daemon() as d:
            def ctl(*a, rc=0):
                p = d.loopctl(*a)
                self.assertEqual(p.returncode, rc, (a, p.stdout, p.stderr))
                return p
            flag = d.path("ran")
            sid = ctl("cron", "add", "--every", "1s", "--name", "tick",
                      "--catchup", "latest", "--overlap=buffer_one", "--",
                      "/bin/sh", "-c", 'echo x >> "$1"', "sh", flag).stdout.strip()
            self.assertRegex(sid, r"^s_[0-9a-f]{16}$")
            v = d.get_json("/v1/schedules/" + sid)
            self.assertEqual((v["every"], v["name"], v["catchup"], v["overlap"]),
                             (1, "tick", "latest", "buffer_one"))
            berlin = ctl("cron", "add", "--cron", "30 2 * * *", "--tz", "Europe/Berlin",
                         "--jitter", "10s", "--pause-on-failure", "--count", "3",
                         "--", "true").stdout.strip()
            v = d.get_json("/v1/schedules/" + berlin)
            self.assertEqual((v["cron"], v["tz"], v["jitter"], v["pause_on_failure"],
                              v["count"]), ("30 2 * * *", "Europe/Berlin", 10, True, 3))
            hook = ctl("cron", "add", "--calendar", "Mon *-*-01..07 09:00",
                       "--webhook", "https://example.com/hook").stdout.strip()
            self.assertEqual(d.get_json("/v1/schedules/" + hook)["webhook"]["url"],
                             "https://example.com/hook")
            p = ctl("cron", "add", "--cron", "0 0 30 2 *", "--", "true", rc=1)
            self.assertIn("never fires", p.stderr)
            p = ctl("cron", "add", "--", "true", rc=2)
            self.assertIn("--every", p.stderr)
            ls = ctl("cron", "ls").stdout
            for x in (sid, berlin, hook, "Europe/Berlin", "tick"):
                self.assertIn(x, ls)
            d.wait_until(lambda: os.path.exists(flag) and
                         len(open(flag).read().split()) >= 2, 10, "two runs",
                         interval=0.05)
            show = ctl("cron", "show", sid).stdout
            self.assertIn("next:", show)
            self.assertIn("last runs:", show)
            self.assertRegex(show, r"c_[0-9a-f]{16} .* ok +late ")
            self.assertIn("paused", ctl("cron", "pause", sid).stdout)
            self.assertIn(sid, ctl("cron", "ls", "--paused").stdout)
            self.assertNotIn(sid, ctl("cron", "ls", "--active").stdout)
            self.assertIn("active", ctl("cron", "resume", sid).stdout)
            cid = ctl("cron", "trigger", sid).stdout.strip()
            self.assertEqual(d.call(cid)["schedule"], sid)
            self.assertIn("deleted", ctl("cron", "rm", sid).stdout)
            p = ctl("cron", "show", sid, rc=1)
            self.assertIn("404", p.stderr)
            import json
            j = json.loads(ctl("--json", "cron", "show", berlin).stdout)
            self.assertEqual(j["id"], berlin)


class SchedulesRestartTest(unittest.TestCase):
    """kill -9 and restart: missed runs per policy, nothing twice."""

    def run_and_kill(self, d, body, down):
        flag = d.path("runs")
        body = dict(body, command=sh('echo "$1" >> "$2"', "x", flag))
        s = create(self, d, body)
        d.wait_until(lambda: os.path.exists(flag) and
                     len(open(flag).read().split()) >= 2, 10, "two runs",
                     interval=0.05)
        d.kill()
        t = time.time()
        wait_until(lambda: time.time() - t >= down, down + 5, "downtime",
                   interval=0.1)
        d.start()
        return s, flag

    def check_once(self, d, sid, flag):
        calls = occurrences(d, sid)
        fors = collections.Counter(c["scheduled_for"] for c in calls)
        self.assertEqual([k for k, n in fors.items() if n > 1], [])
        started = [c for c in calls if "started" in c and c["state"] != "pending"]
        runs = len(open(flag).read().split())
        # Every run is a started call (an interrupted one may not have run).
        self.assertLessEqual(runs, len(started))
        return calls

    def test_catchup_all_after_kill_9(self):
        with Daemon() as d:
            s, flag = self.run_and_kill(d, {"every": 1, "catchup": "all",
                                            "catchup_window": 0}, 4)
            sid = s["id"]
            d.wait_until(lambda: self.d_caught_up(d, sid), 20, "catch-up",
                         interval=0.1)
            calls = self.check_once(d, sid, flag)
            fors = sorted(c["scheduled_for"] for c in calls if c["state"] == "finished")
            # No hole: every second from the first run on ran (all).
            self.assertEqual(fors, [fors[0] + i for i in range(len(fors))])
            d.request("DELETE", "/v1/schedules/" + sid)

    def d_caught_up(self, d, sid):
        calls = occurrences(d, sid)
        pend = [c for c in calls if c["state"] == "pending"]
        return len(pend) <= 1 and len(calls) >= 7

    def test_catchup_skip_after_kill_9(self):
        with Daemon() as d:
            s, flag = self.run_and_kill(d, {"every": 1, "catchup": "skip",
                                            "catchup_window": 0}, 4)
            sid = s["id"]
            t0 = time.time()
            d.wait_until(lambda: any(c["state"] == "finished" and
                                     c["scheduled_for"] > t0
                                     for c in occurrences(d, sid)),
                         10, "a run after the restart", interval=0.1)
            calls = self.check_once(d, sid, flag)
            fors = sorted(c["scheduled_for"] for c in calls)
            # A hole of at least 3 s: the missed ones were skipped.
            self.assertTrue(any(b - a >= 3 for a, b in zip(fors, fors[1:])), fors)
            d.request("DELETE", "/v1/schedules/" + sid)

    def test_paused_and_definition_survive(self):
        with Daemon() as d:
            s = create(self, d, {"cron": "0 3 * * *", "tz": "Asia/Tokyo",
                                 "overlap": "buffer_all", "jitter": 5,
                                 "name": "kept", "command": TRUE})
            d.request("POST", "/v1/schedules/%s/pause" % s["id"])
            d.kill()
            d.start()
            v = d.get_json("/v1/schedules/" + s["id"])
            for k in ("cron", "tz", "overlap", "jitter", "name", "command", "next"):
                self.assertEqual(v[k], s[k], k)
            self.assertEqual(v["state"], "paused")
            # Ids go on after the schedule's.
            c = d.schedule({"soon": True, "command": TRUE})
            self.assertGreater(int(c["id"][2:], 16), int(s["id"][2:], 16))


class SchedulesFailedCommitTest(unittest.TestCase):
    """A failed commit (a full disk): a 503 means nothing happened. A
    schedule created in it, and calls a backfill made in it, are not kept,
    neither in memory nor after a restart."""

    NOT_SAVED = "the change was not saved"

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs for the state dir")
        self.d = Daemon()
        self.addCleanup(self.d.close, check=False)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700",
                            "loopd-it-sched", self.d.state_dir],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (%s)" % r.stderr.strip())
        self.addCleanup(lambda: subprocess.run(["umount", "-l", self.d.state_dir],
                                               capture_output=True))
        self.addCleanup(self.d.stop, check=False)
        self.filler = os.path.join(self.d.state_dir, "filler")

    def fill(self):
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) == 4096:
                pass
        except OSError as e:
            if e.errno != 28:       # ENOSPC
                raise
        finally:
            os.close(fd)

    def heal(self):
        os.remove(self.filler)
        self.d.wait_until(lambda: self.d.get_json("/v1/status")["store"]["writable"],
                          timeout=5, what="the store writable again")

    def until_commit_fails(self, method, path, body):
        """Fill the disk and send the request until its own commit fails
        (a held 2xx turned 503), not a 503 refused before any change
        (the store already faulty): retried after healing, a few times."""
        for _ in range(5):
            self.fill()
            r = self.d.request(method, path, body=body)
            if r.status == 503 and self.NOT_SAVED in r.body.get("detail", ""):
                return r
            self.heal()
        self.skipTest("the store faulted before the request could change anything, "
                      "five times in a row")

    def names(self):
        return sorted(s.get("name") for s in self.d.get_json("/v1/schedules")["items"])

    def test_create_in_a_failed_commit_is_not_kept(self):
        d = self.d
        d.start()
        big = {"every": 3600, "command": TRUE, "args": ["y" * 4000]}
        create(self, d, dict(big, name="kept"))
        r = self.until_commit_fails("POST", "/v1/schedules", dict(big, name="refused"))
        self.assertEqual(r.status, 503, r.body)
        self.assertEqual(self.names(), ["kept"])
        self.assertEqual([c for c in d.list_calls() if c.get("name") == "refused"], [])
        self.heal()
        self.assertEqual(self.names(), ["kept"])
        self.assertIn("not created", d.log())
        # Nothing of it on disk either.
        d.kill()
        d.start()
        self.assertEqual(self.names(), ["kept"])
        kept = d.get_json("/v1/schedules")["items"][0]
        self.assertEqual(len([c for c in occurrences(d, kept["id"])
                              if c["state"] == "pending"]), 1)
        # The schedule kept still works: a trigger runs.
        r = d.request("POST", "/v1/schedules/%s/trigger" % kept["id"])
        self.assertEqual(r.status, 201, r.body)

    def test_backfill_in_a_failed_commit_is_a_503_and_makes_nothing(self):
        d = self.d
        d.start()
        s = create(self, d, {"every": 3600, "command": TRUE, "args": ["y" * 4000]})
        base = int(time.time() // 3600) * 3600
        before = sorted(c["id"] for c in occurrences(d, s["id"]))
        r = self.until_commit_fails("POST", "/v1/schedules/%s/backfill" % s["id"],
                                    {"from": base - 3 * 3600, "to": base - 1})
        self.assertEqual(r.status, 503, r.body)
        self.heal()
        self.assertEqual(sorted(c["id"] for c in occurrences(d, s["id"])), before)
        d.kill()
        d.start()
        self.assertEqual(sorted(c["id"] for c in occurrences(d, s["id"])), before)
        # Asked again, the backfill makes them.
        r = d.request("POST", "/v1/schedules/%s/backfill" % s["id"],
                      body={"from": base - 3 * 3600, "to": base - 1})
        self.assertEqual((r.status, r.body.get("backfilled")), (200, 3), r.body)


if __name__ == "__main__":
    unittest.main()
