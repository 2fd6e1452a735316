"""
API.md §6 and §2, issue "Durable by default": the embedded store.

Whatever was acknowledged (a 2xx) survives kill -9, SIGTERM and a restart,
and runs exactly once: 10,000 pending calls; calls posted while the daemon
is killed under load; futures with results, exceptions and callbacks. Loop
time never goes back and counts the time the daemon was down; calls due
while it was down run at start, in due order, marked late. A command that
was running is Interrupted (or re-run when it asked). A full disk turns
writes into 503 while reads go on, and heals by itself once there is room.
A store that cannot be opened, or is in use, stops start-up.

Commands log their runs by appending one short line (< PIPE_BUF, so atomic)
to a file; "exactly once" is checked on those lines.
"""
import collections
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Daemon, PostStream, assert_problem, run_loopd, sh

TRUE = {"argv": ["true"]}


# -- helpers -------------------------------------------------------------------

def metrics(d):
    """GET /metrics as {sample name with labels: value}."""
    r = d.request("GET", "/metrics")
    if r.status != 200:
        raise AssertionError("GET /metrics: %s %r" % (r.status, r.body))
    out = {}
    for line in r.body.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def metric(d, name):
    return metrics(d)[name]


def read_lines(path):
    """The lines of a file ([] if it does not exist)."""
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def wait_no_pending(d, timeout):
    """Wait (bounded) until loopd has no call left that is not done."""
    d.wait_until(lambda: metric(d, "loopd_pending_calls") == 0,
                 timeout=timeout, what="every call to be done")


def post_parallel(d, path, bodies, threads=8):
    """POST every body over `threads` keep-alive connections; the replies
    in the order of bodies."""
    replies = [None] * len(bodies)
    errors = []

    def worker(k):
        try:
            with d.session() as s:
                for i in range(k, len(bodies), threads):
                    replies[i] = s.request("POST", path, body=bodies[i])
        except Exception as e:      # reported below, not lost in the thread
            errors.append(e)
    ts = [threading.Thread(target=worker, args=(k,), daemon=True)
          for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
        if t.is_alive():
            raise AssertionError("a posting thread hung")
    if errors:
        raise errors[0]
    return replies


def callback_recorder(out, tag, order_log):
    """A command that stores LOOP_FUTURE_ID, LOOP_FUTURE_STATE and its stdin
    in out (atomically: written aside, then renamed) and appends tag to
    order_log."""
    return sh('{ printf "%s\\n%s\\n" "$LOOP_FUTURE_ID" "$LOOP_FUTURE_STATE";'
              ' cat; } > "$1.tmp" && mv "$1.tmp" "$1" && echo "$2" >> "$3"',
              out, tag, order_log)


def read_recorded(path):
    """(future id, future state, the future object from stdin)."""
    with open(path) as f:
        fid, state, stdin = f.read().split("\n", 2)
    return fid, state, json.loads(stdin)


# -- the tests -----------------------------------------------------------------

class CrashTest(unittest.TestCase):
    """kill -9 with a lot pending, under a stream of POSTs, and right after
    each kind of acknowledged write."""

    def test_10000_pending_calls_survive_kill_9_and_run_exactly_once(self):
        # 2,000 by default, so make check stays quick; 10,000 under CI=true
        # (issue 11).
        n = 1000 if harness.UNDER_VALGRIND else \
            10000 if os.environ.get("CI") == "true" else 2000
        threads = 32        # replies wait for the commit: many in flight
        with Daemon(opts={"max_commands": 64}) as d:
            log = d.path("ran.log")
            cmd = sh('echo "$LOOP_CALL_ID" >> "$1"', log)
            # How fast this machine stores a POST (fsync bound): time a
            # few futures, then let the calls fall due comfortably after
            # the last is posted.
            t0 = time.monotonic()
            post_parallel(d, "/v1/futures", [None] * 320, threads)
            estimate = (time.monotonic() - t0) * n / 320
            # Calls are claimed claim_ahead (1 s) before they are due, and
            # a call claimed before a crash is not run again (Interrupted):
            # the kill must come before the claims, with room to spare.
            window = max(5.0, 2.0 * estimate + 3.0)
            due = d.loop_time() + window
            t0 = time.monotonic()
            replies = post_parallel(d, "/v1/calls", [
                {"at": due, "command": cmd} for _ in range(n)], threads)
            took = time.monotonic() - t0
            bad = [r for r in replies if r.status != 201]
            self.assertFalse(bad, "%d POSTs not 201, e.g. %r"
                             % (len(bad), bad[:1]))
            ids = [r.body["id"] for r in replies]
            self.assertEqual(len(set(ids)), n, "ids are not unique")
            self.assertLess(d.loop_time(), due - 1.5,
                            "scheduling %d calls took %.1fs, too long for "
                            "the %.1fs window (estimate %.1fs)"
                            % (n, took, window, estimate))
            d.kill()
            self.assertEqual(read_lines(log), [], "calls ran before the kill")
            d.start()
            pending = metric(d, "loopd_pending_calls")
            if d.loop_time() < due:
                self.assertEqual(pending, n, "pending calls after the restart")
            # As long as they keep running: 10,000 commands take 60 s and
            # more under ASan on a busy 2-core machine (7,898 had run after
            # 90 s in one CI run), none at all means something is wrong.
            # (counted from when they fall due)
            t_start = time.monotonic()
            ran_before, t_progress = -1, t_start + max(0.0, due - d.loop_time())
            while True:
                ran_now = count_lines(log)
                if ran_now >= n:
                    break
                now = time.monotonic()
                if ran_now > ran_before:
                    ran_before, t_progress = ran_now, now
                if now - t_progress > 30 or now - t_start > 600:
                    raise AssertionError(
                        "%d of %d calls ran; none for %.0f s (loop time %.1f, due %.1f; "
                        "pending %s, running %s)\n%s"
                        % (ran_now, n, now - t_progress, d.loop_time(), due,
                           metric(d, "loopd_pending_calls"),
                           metric(d, "loopd_commands_running"), d.log_tail(40)))
                d.check_alive()
                time.sleep(0.05)
            wait_no_pending(d, 10)
            ran = collections.Counter(read_lines(log))
            twice = [i for i, k in ran.items() if k > 1]
            self.assertEqual(twice, [], "calls that ran more than once")
            self.assertEqual(set(ran), set(ids),
                             "the calls that ran are not the ones accepted")
            calls = d.list_calls()
            self.assertEqual(sorted(c["id"] for c in calls), sorted(ids))
            notok = [c for c in calls if c["state"] != "finished" or
                     c.get("result", {}).get("exit_code") != 0 or
                     c.get("attempts") != 1]
            self.assertEqual(notok[:3], [], "%d calls did not finish once, "
                             "with exit 0" % len(notok))

    def test_kill_9_while_clients_post(self):
        threads = 8
        with Daemon() as d:
            log = d.path("ran.log")
            cmd = sh('echo "$2" >> "$1"', log)
            stream = PostStream(d, threads, lambda tag: {
                "after": 2.0, "name": tag, "args": [tag], "command": cmd}).start()
            t0 = time.monotonic()
            # Kill mid-stream: after a good number of acknowledgements,
            # and well before the first call (2 s) could fall due.
            while time.monotonic() - t0 < 1.0:
                with stream.lock:
                    if len(stream.acked) >= 500 or stream.other:
                        break
                time.sleep(0.002)
            d.kill()
            self.assertTrue(stream.stop(), "a client thread hung")
            acked, unacked, odd = stream.acked, stream.unacked, stream.other
            self.assertEqual(odd, [], "replies other than 201")
            self.assertGreater(len(acked), 0, "no POST was acknowledged")
            self.assertEqual(read_lines(log), [], "calls ran before the kill")
            d.start()
            before_new = set(d.call_ids())
            missing = [t for t, i in acked.items() if i not in before_new]
            self.assertEqual(missing[:5], [], "%d acknowledged calls lost"
                             % len(missing))
            wait_no_pending(d, 20)
            ran = collections.Counter(read_lines(log))
            twice = [t for t, k in ran.items() if k > 1]
            self.assertEqual(twice, [], "calls that ran more than once")
            for tag, cid in acked.items():
                self.assertEqual(ran[tag], 1, "acknowledged %s (%s) ran %d "
                                 "times" % (tag, cid, ran[tag]))
            calls = d.list_calls()
            names = collections.Counter(c["name"] for c in calls)
            self.assertEqual([t for t, k in names.items() if k > 1], [],
                             "one POST stored twice")
            self.assertEqual(set(names), set(ran),
                             "stored calls and calls that ran differ")
            self.assertLessEqual(set(names) - set(acked), unacked,
                                 "a stored call nobody posted")
            for c in calls:
                self.assertEqual((c["state"], c["result"]["exit_code"]),
                                 ("finished", 0), c)
            # Ids given out before the crash are not given out again.
            fresh = d.schedule({"after": 3600, "command": TRUE})
            self.assertNotIn(fresh["id"], before_new)

    def test_every_acknowledged_write_survives_an_immediate_kill_9(self):
        # A 2xx is sent only once the change is on disk, so a kill -9 the
        # moment the reply arrives loses nothing.
        with Daemon() as d:
            lost = []

            def crash():
                d.kill()
                d.start()

            def get(path):
                r = d.request("GET", path)
                return r.body if r.status == 200 else {"status": r.status}

            def post(path, body=None, status=201):
                r = d.request("POST", path, body=body)
                self.assertEqual(r.status, status, "%s: %r" % (path, r.body))
                return r.body

            def kept(what, path, key, want):
                got = get(path).get(key)
                if got != want:
                    lost.append("%s (round %d): %s %r, not %r"
                                % (what, i, key, got, want))
                return got == want

            for i in range(5):
                c = d.schedule({"after": 3600, "command": TRUE})
                crash()
                if not kept("POST /v1/calls", "/v1/calls/" + c["id"],
                            "state", "pending"):
                    continue
                r = d.request("DELETE", "/v1/calls/" + c["id"])
                self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
                crash()
                kept("DELETE /v1/calls", "/v1/calls/" + c["id"], "state",
                     "cancelled")
                f = post("/v1/futures")
                crash()
                if not kept("POST /v1/futures", "/v1/futures/" + f["id"],
                            "state", "pending"):
                    continue
                cb = post("/v1/futures/%s/callbacks" % f["id"],
                          {"command": TRUE})
                crash()
                kept("POST callbacks", "/v1/calls/" + cb["id"], "phase",
                     "waiting")
                post("/v1/futures/%s/result" % f["id"], {"result": [i]}, 200)
                crash()
                kept("POST result", "/v1/futures/" + f["id"], "result", [i])
                g = post("/v1/futures")
                post("/v1/futures/%s/exception" % g["id"],
                     {"type": "E", "message": "m"}, 200)
                crash()
                kept("POST exception", "/v1/futures/" + g["id"], "exception",
                     {"type": "E", "message": "m"})
                h = post("/v1/futures")
                post("/v1/futures/%s/cancel" % h["id"], None, 200)
                crash()
                kept("POST cancel", "/v1/futures/" + h["id"], "state",
                     "cancelled")
            self.assertEqual(lost, [], "acknowledged, then lost to kill -9")


class FutureDurabilityTest(unittest.TestCase):

    RESULT = {"nested": {"list": [1, -7, 2.5, 0.1, 12345678901234, None,
                                  True, False, [], {}]},
              "text": "ünïcødé ✓ 😀 \"quoted\" back\\slash\nnew line \t\x01",
              "empty": "", "ключ": ["значение"], "日本": {"a": {"b": {}}}}

    def test_futures_results_exceptions_callbacks_survive_kill_9(self):
        # One command at a time: with the blocker running, a callback on a
        # done future is queued but cannot start before the kill.
        with Daemon(opts={"max_commands": 1}) as d:
            order = d.path("order.log")

            def post(path, body=None, status=201):
                r = d.request("POST", path, body=body)
                self.assertEqual(r.status, status, "%s: %r" % (path, r.body))
                return r.body

            pending = post("/v1/futures", {"name": "pending"})
            fin = post("/v1/futures", {"name": "finished"})
            post("/v1/futures/%s/result" % fin["id"],
                 {"result": self.RESULT}, 200)
            null = post("/v1/futures")
            post("/v1/futures/%s/result" % null["id"], {"result": None}, 200)
            scalar = post("/v1/futures")
            post("/v1/futures/%s/result" % scalar["id"],
                 {"result": "just a string ✓"}, 200)
            exc = post("/v1/futures")
            post("/v1/futures/%s/exception" % exc["id"],
                 {"type": "ValueError", "message": "bad ✗ value"}, 200)
            canc = post("/v1/futures")
            self.assertEqual(post("/v1/futures/%s/cancel" % canc["id"],
                                  None, 200), {"cancelled": True})
            # Callbacks waiting on a pending future, in this order.
            waited = post("/v1/futures", {"name": "waited"})
            cb1 = post("/v1/futures/%s/callbacks" % waited["id"], {
                "command": callback_recorder(d.path("cb1"), "cb1", order)})
            cb2 = post("/v1/futures/%s/callbacks" % waited["id"], {
                "command": callback_recorder(d.path("cb2"), "cb2", order)})
            gone = post("/v1/futures/%s/callbacks" % waited["id"], {
                "command": callback_recorder(d.path("gone"), "gone", order)})
            self.assertEqual(d.request(
                "DELETE", "/v1/futures/%s/callbacks/%s"
                % (waited["id"], gone["id"])).body, {"removed": 1})
            # The blocker takes the one command slot ...
            pidf = d.path("blocker.pid")
            blocker = d.schedule({"soon": True, "command": sh(
                'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 30',
                pidf)})
            d.wait_until(lambda: d.call(blocker["id"])["phase"] == "running",
                         what="the blocker to run")
            # ... so a callback on an already-done future waits its turn.
            done = post("/v1/futures")
            post("/v1/futures/%s/result" % done["id"], {"result": 42}, 200)
            late_cb = post("/v1/futures/%s/callbacks" % done["id"], {
                "command": callback_recorder(d.path("late"), "late", order)})
            got = d.call(late_cb["id"])
            self.assertEqual(got["phase"], "scheduled", got)
            self.assertIsNone(got.get("started"), got)
            self.assertEqual(metric(d, "loopd_commands_queued"), 1)
            t = d.loop_time()

            d.kill()
            d.start()

            def fut(f):
                return d.get_json("/v1/futures/" + f["id"])
            self.assertEqual(fut(pending)["state"], "pending")
            self.assertEqual(fut(pending)["name"], "pending")
            self.assertEqual(fut(pending)["created"], pending["created"])
            g = fut(fin)
            self.assertEqual((g["state"], g["result"]),
                             ("finished", self.RESULT))
            g = fut(null)
            self.assertEqual(g["state"], "finished")
            self.assertIn("result", g, "result null was lost: %r" % g)
            self.assertIsNone(g["result"])
            self.assertNotIn("exception", g)
            self.assertEqual(fut(scalar)["result"], "just a string ✓")
            g = fut(exc)
            self.assertEqual(g["state"], "finished")
            self.assertEqual((g["exception"]["type"],
                              g["exception"]["message"]),
                             ("ValueError", "bad ✗ value"))
            self.assertNotIn("result", g)
            self.assertEqual(fut(canc)["state"], "cancelled")
            self.assertEqual(fut(waited)["state"], "pending")
            self.assertGreaterEqual(d.loop_time(), t)

            # The running blocker was interrupted; the queued callback on
            # the done future runs at start.
            self.assertEqual(d.wait_done(blocker["id"])["exception"]["type"],
                             "Interrupted")
            got = d.wait_done(late_cb["id"])
            self.assertEqual((got["state"], got["result"]["exit_code"]),
                             ("finished", 0), got)
            self.assertIs(got.get("late"), True, got)
            fid, state, obj = read_recorded(d.path("late"))
            self.assertEqual((fid, state), (done["id"], "finished"))
            self.assertEqual((obj["id"], obj["result"]), (done["id"], 42))

            # The stored callbacks still wait, and fire in their order.
            for cb in (cb1, cb2):
                got = d.call(cb["id"])
                self.assertEqual((got["state"], got["phase"]),
                                 ("pending", "waiting"), got)
            self.assertEqual(d.call(gone["id"])["state"], "cancelled")
            self.assertEqual(read_lines(order), ["late"])
            post("/v1/futures/%s/result" % waited["id"],
                 {"result": {"k": "v ✓"}}, 200)
            for cb in (cb1, cb2):
                got = d.wait_done(cb["id"])
                self.assertEqual(got["result"]["exit_code"], 0, got)
            self.assertEqual(read_lines(order), ["late", "cb1", "cb2"])
            for name in ("cb1", "cb2"):
                fid, state, obj = read_recorded(d.path(name))
                self.assertEqual((fid, state), (waited["id"], "finished"))
                self.assertEqual(obj["result"], {"k": "v ✓"})
            self.assertFalse(os.path.exists(d.path("gone")),
                             "a removed callback ran")


class ClockTest(unittest.TestCase):

    def test_loop_time_never_goes_back_and_counts_downtime(self):
        down = 0.5          # deliberate downtime, measured below
        with Daemon() as d:
            last = d.loop_time()
            for how in ("kill", "term", "kill", "term"):
                m0 = time.monotonic()
                before = d.loop_time()
                m1 = time.monotonic()
                self.assertGreaterEqual(before, last, "loop time went back")
                if how == "kill":
                    d.kill()
                else:
                    d.signal(signal.SIGTERM)
                    self.assertEqual(d.wait_exit(), 0, d.log_tail())
                # Stay down for a while: the downtime under test, not a
                # wait for something to happen.
                time.sleep(max(0.0, down - (time.monotonic() - m1)))
                m2 = time.monotonic()
                d.start()
                after = d.loop_time()
                m3 = time.monotonic()
                # At least the time from reading `before` to restarting,
                # at most the time from asking for `before` to `after`.
                self.assertGreaterEqual(after, before + (m2 - m1) - 0.05,
                                        "after %s: downtime not counted"
                                        % how)
                self.assertLessEqual(after, before + (m3 - m0) + 0.1,
                                     "after %s: loop time jumped ahead"
                                     % how)
                last = after


class LateCallsTest(unittest.TestCase):

    def test_calls_due_while_down_run_at_start_in_due_order_late(self):
        # Every call falls due `lead` seconds and more after it is accepted
        # (time to accept them all and kill the daemon before the first is
        # due), and the due times lie 0.25 s apart and more, so the POSTs
        # may take a while each on a loaded machine without changing their
        # order (gaps of 0.05 s and a lead of 0.2 s were not always enough).
        lead = 1.0
        down = lead + 2.0
        # One command at a time, so the order of the log is start order.
        with Daemon(opts={"max_commands": 1}) as d:
            log = d.path("order.log")
            spec = [("a", lead + 1.5), ("b", lead + 0.25), ("c", lead + 1.0),
                    ("d", lead + 1.0), ("e", lead + 0.75), ("f", 0.25)]
            calls = []
            for name, delay in spec:
                body = {"name": name, "command": sh('echo "$2" >> "$1"',
                                                    log, name)}
                if name == "f":
                    # A time, not a delay: 0.25 s after b's.
                    body["at"] = calls[1]["due"] + delay
                else:
                    body["after"] = delay
                calls.append(d.schedule(body))
            far = d.schedule({"after": 3600, "command": TRUE})
            k = d.loop_time()
            self.assertLess(k, min(c["due"] for c in calls),
                            "scheduling was too slow for this test")
            d.kill()
            m1 = time.monotonic()
            time.sleep(down)    # the downtime under test
            downtime = time.monotonic() - m1
            d.start()
            r0 = d.loop_time()
            done = {c["name"]: d.wait_done(c["id"]) for c in calls}
            end = d.loop_time()
            # Due order; equal due times in the order accepted.
            want = [c["name"] for c in sorted(
                calls, key=lambda c: (c["due"], calls.index(c)))]
            if harness.UNDER_VALGRIND and want != ["b", "f", "e", "c", "d", "a"]:
                self.skipTest("under valgrind the POSTs are too slow for the due "
                              "times this test needs")
            self.assertEqual(want, ["b", "f", "e", "c", "d", "a"])
            self.assertEqual(read_lines(log), want, "start order")
            starts = [done[n]["started"] for n in want]
            self.assertEqual(starts, sorted(starts), "started times")
            self.assertLessEqual(starts[0], r0 + 1.0,
                                 "the first late call did not run at start")
            for n in want:
                c = done[n]
                self.assertEqual((c["state"], c["result"]["exit_code"]),
                                 ("finished", 0), c)
                self.assertIs(c.get("late"), True, c)
                lateness = c["started"] - c["due"]
                self.assertGreaterEqual(lateness,
                                        k + downtime - c["due"] - 0.05,
                                        "%s: lateness %.3f" % (n, lateness))
                self.assertLessEqual(lateness, end - c["due"])
            got = d.call(far["id"])
            self.assertEqual((got["state"], got["phase"]),
                             ("pending", "scheduled"))
            self.assertNotEqual(got.get("late"), True, got)
            self.assertAlmostEqual(got["due"], far["due"], delta=1e-6)


class SigtermTest(unittest.TestCase):

    def test_sigterm_keeps_pending_calls(self):
        with Daemon() as d:
            after = d.schedule({"after": 3600, "command": TRUE, "name": "a",
                                "args": [1, "two", {"3": [4]}],
                                "retry": {"attempts": 3, "backoff": 1}})
            at = d.schedule({"at": d.loop_time() + 7200, "command": TRUE})
            at_unix = d.schedule({"at_unix": time.time() + 5000,
                                  "command": TRUE})
            f = d.request("POST", "/v1/futures", body={"name": "f"}).body
            cb = d.request("POST", "/v1/futures/%s/callbacks" % f["id"],
                           body={"command": TRUE}).body
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(), 0, d.log_tail())
            d.start()
            for c in (after, at):
                got = d.call(c["id"])
                for key in ("state", "phase", "name", "args", "command",
                            "trigger", "attempts", "created"):
                    self.assertEqual(got.get(key), c.get(key), key)
                self.assertAlmostEqual(got["due"], c["due"], delta=1e-6)
                self.assertAlmostEqual(got["due_unix"], c["due_unix"],
                                       delta=1e-6)
            got = d.call(at_unix["id"])
            self.assertEqual((got["state"], got["phase"]),
                             ("pending", "scheduled"))
            self.assertAlmostEqual(got["due_unix"], at_unix["due_unix"],
                                   delta=1e-6)
            self.assertAlmostEqual(got["due"], at_unix["due"], delta=0.1)
            self.assertEqual(d.get_json("/v1/futures/" + f["id"])["state"],
                             "pending")
            got = d.call(cb["id"])
            self.assertEqual((got["state"], got["phase"], got["on_done"]),
                             ("pending", "waiting", f["id"]))
            self.assertEqual(metric(d, "loopd_pending_calls"), 4)


class InterruptedTest(unittest.TestCase):

    def test_running_command_interrupted_or_rerun(self):
        with Daemon() as d:
            runs = d.path("runs.log")
            once = d.schedule({"soon": True, "command": sh(
                'echo once >> "$2"; echo $$ > "$1.tmp"; mv "$1.tmp" "$1";'
                ' exec sleep 30', d.path("once.pid"), runs)})
            again = d.schedule({"soon": True, "on_restart": "rerun",
                                "command": sh(
                'echo again >> "$2"; if [ -e "$1" ]; then echo second run;'
                ' exit 0; fi; echo $$ > "$1.tmp"; mv "$1.tmp" "$1";'
                ' exec sleep 30', d.path("again.pid"), runs)})
            for c in (once, again):
                # A reply that shows "running" is sent after that is stored.
                d.wait_until(lambda: d.call(c["id"])["phase"] == "running",
                             what="%s to run" % c["id"])
            d.wait_until(lambda: os.path.exists(d.path("once.pid")) and
                         os.path.exists(d.path("again.pid")),
                         what="both commands to start")
            d.kill()
            d.start()
            got = d.wait_done(once["id"])
            self.assertEqual(got["state"], "finished")
            self.assertNotIn("result", got)
            self.assertEqual(got["exception"]["type"], "Interrupted", got)
            self.assertTrue(got["exception"].get("message"))
            got = d.wait_done(again["id"])
            self.assertEqual(got["state"], "finished", got)
            self.assertNotIn("exception", got)
            self.assertEqual(got["result"]["exit_code"], 0)
            self.assertEqual(got["result"]["stdout"], "second run\n")
            self.assertEqual(got["attempts"], 2, got)
            self.assertEqual(sorted(read_lines(runs)),
                             ["again", "again", "once"],
                             "the interrupted command ran again")


class SpecInStoreTest(unittest.TestCase):
    """Issue 7: a call waiting for its time or its future keeps its action
    (spec) only in the store; views, starts, retries, cancels and restarts
    read it back, and a later write never loses it."""

    ACTION = ("name", "args", "command", "retry", "on_restart")

    def assert_action(self, got, posted, what):
        for key in self.ACTION:
            self.assertEqual(got.get(key), posted.get(key),
                             "%s: %s" % (what, key))

    def test_waiting_calls_show_and_run_their_action_across_kill_9(self):
        with Daemon() as d:
            x = "x" * 90
            timed = d.schedule({
                "after": 2.0, "name": "timed", "args": [1, "two", {"3": [4]}],
                "on_restart": "rerun", "retry": {"attempts": 2, "backoff": 0.1},
                "command": sh('printf "%s" "$1"', x)})
            f = d.request("POST", "/v1/futures").body
            cb = d.request("POST", "/v1/futures/%s/callbacks" % f["id"], body={
                "name": "cb", "command": sh('printf "cb %s" "$1"', x)}).body
            self.assertEqual((cb["phase"], cb["command"]["argv"][-1]),
                             ("waiting", x))
            listed = {c["id"]: c for c in d.list_calls()}
            for c in (timed, cb):
                self.assert_action(d.call(c["id"]), c, "GET " + c["id"])
                self.assert_action(listed[c["id"]], c, "listed " + c["id"])
            d.kill()
            d.start()
            listed = {c["id"]: c for c in d.list_calls()}
            for c in (timed, cb):
                self.assert_action(d.call(c["id"]), c, "after kill -9")
                self.assert_action(listed[c["id"]], c, "listed after kill -9")
            r = d.request("POST", "/v1/futures/%s/result" % f["id"],
                          body={"result": 1})
            self.assertEqual(r.status, 200, r.body)
            got = d.wait_done(cb["id"])
            self.assertEqual(got["state"], "finished", got)
            self.assertEqual(got["result"]["stdout"], "cb " + x)
            self.assert_action(got, cb, "callback done")
            got = d.wait_done(timed["id"])
            self.assertEqual(got["state"], "finished", got)
            self.assertEqual(got["result"]["stdout"], x)
            self.assert_action(got, timed, "timed done")
            d.kill()
            d.start()
            for c in (timed, cb):
                self.assert_action(d.call(c["id"]), c, "done, after kill -9")

    def test_timed_call_retries_with_its_action(self):
        with Daemon() as d:
            log = d.path("tries.log")
            c = d.schedule({"after": 0.3, "retry": {"attempts": 3, "backoff": 0.05},
                            "command": sh('echo try >> "$1"; exit 3', log)})
            got = d.wait_done(c["id"])
            self.assertEqual(got["exception"]["type"], "CommandFailed", got)
            self.assertEqual(got["attempts"], 3)
            self.assertEqual(read_lines(log), ["try"] * 3)
            self.assert_action(got, c, "retried")

    def test_call_cancelled_while_waiting_keeps_its_action(self):
        with Daemon() as d:
            c = d.schedule({"after": 3600, "name": "c", "args": ["a"],
                            "command": sh('exit 0', "y" * 90)})
            f = d.request("POST", "/v1/futures").body
            cb = d.request("POST", "/v1/futures/%s/callbacks" % f["id"],
                           body={"command": TRUE}).body
            r = d.request("DELETE", "/v1/calls/" + c["id"])
            self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
            r = d.request("DELETE", "/v1/futures/%s/callbacks/%s"
                          % (f["id"], cb["id"]))
            self.assertEqual((r.status, r.body), (200, {"removed": 1}))
            for how in ("now", "SIGTERM", "kill -9"):
                if how == "SIGTERM":
                    d.signal(signal.SIGTERM)
                    self.assertEqual(d.wait_exit(), 0, d.log_tail())
                    d.start()
                elif how == "kill -9":
                    d.kill()
                    d.start()
                for x in (c, cb):
                    got = d.call(x["id"])
                    self.assertEqual(got["state"], "cancelled", how)
                    self.assert_action(got, x, "cancelled, " + how)

    def test_idempotent_repeat_of_a_waiting_call_shows_its_action(self):
        with Daemon() as d:
            body = {"after": 3600, "command": TRUE, "idempotency_key": "k-7"}
            first = d.schedule(body)
            r = d.request("POST", "/v1/calls", body=body)
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.body["id"], first["id"])
            self.assert_action(r.body, first, "repeat")
            d.kill()
            d.start()
            r = d.request("POST", "/v1/calls", body=body)
            self.assertEqual((r.status, r.body["id"]), (200, first["id"]))
            self.assert_action(r.body, first, "repeat after kill -9")


class FullDiskTest(unittest.TestCase):
    """The state directory on a small tmpfs, filled up."""

    SIZE = "1m"     # under SQLite's 1000-page checkpoint: the WAL only grows

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs for the state dir")
        self.d = Daemon()
        self.mounted = False
        self.addCleanup(self.cleanup)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                            "size=%s,mode=0700" % self.SIZE, "loopd-it-full",
                            self.d.state_dir], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (%s)" % r.stderr.strip())
        self.mounted = True

    def cleanup(self):
        try:
            self.d.stop(check=False)
        finally:
            if self.mounted:
                r = subprocess.run(["umount", self.d.state_dir],
                                   capture_output=True)
                if r.returncode != 0:
                    subprocess.run(["umount", "-l", self.d.state_dir],
                                   capture_output=True)
            self.d.close(check=False)

    def fill(self, path):
        """Write path until the file system is full."""
        chunk = b"\0" * 4096
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    if os.write(fd, chunk) < len(chunk):
                        break
                except OSError as e:
                    if e.errno == 28:       # ENOSPC
                        break
                    raise
        finally:
            os.close(fd)

    def assert_unavailable(self, r, what):
        body = assert_problem(self, r, 503)
        self.assertIn("full", body["detail"], "%s: %r" % (what, body))
        self.assertIn("retry-after", r.headers, what)

    def assert_same_calls(self, d, acked):
        """loopd has exactly the calls that got a 201."""
        have = set(d.call_ids())
        self.assertEqual(sorted(set(acked) - have), [],
                         "calls acknowledged with 201, then lost")
        self.assertEqual(sorted(have - set(acked)), [],
                         "calls stored though their POST was refused")

    def test_full_disk_writes_503_reads_work_then_heal(self):
        d = self.d
        d.start()
        self.assertEqual(metric(d, "loopd_store_writable"), 1)
        kept = [d.schedule({"after": 3600, "command": TRUE, "name": "k%d" % i,
                            "args": ["x" * 1000]}) for i in range(5)]
        fut = d.request("POST", "/v1/futures").body
        fin = d.request("POST", "/v1/futures").body
        r = d.request("POST", "/v1/futures/%s/result" % fin["id"],
                      body={"result": [1, "two"]})
        self.assertEqual(r.status, 200, r.body)

        filler = os.path.join(d.state_dir, "filler")
        self.fill(filler)
        # The next write, or the loop-time anchor written every second,
        # finds no room. Keep posting (bounded) until one is refused.
        body = {"after": 3600, "command": TRUE, "args": ["y" * 4000]}
        refused = None
        for _ in range(500):
            r = d.request("POST", "/v1/calls", body=body)
            if r.status == 201:
                kept.append(r.body)
                continue
            refused = r
            break
        self.assertIsNotNone(refused, "no write was refused on a full disk")
        self.assert_unavailable(refused, "POST /v1/calls")
        d.wait_until(lambda: metric(d, "loopd_store_writable") == 0,
                     timeout=5, what="loopd_store_writable 0")

        # Writes: 503 with a clear detail, nothing changes.
        self.assert_unavailable(d.request("POST", "/v1/calls", body={
            "soon": True, "command": TRUE}), "POST /v1/calls")
        self.assert_unavailable(d.request("POST", "/v1/futures"),
                                "POST /v1/futures")
        self.assert_unavailable(d.request(
            "POST", "/v1/futures/%s/result" % fut["id"],
            body={"result": 1}), "POST result")
        self.assert_unavailable(d.request(
            "DELETE", "/v1/calls/" + kept[0]["id"]), "DELETE /v1/calls")
        # Reads go on, and are not kept waiting for the store's retry.
        slow = []
        for path in ("/v1/calls", "/v1/time", "/healthz", "/metrics",
                     "/v1/calls/" + kept[0]["id"], "/v1/futures/" + fut["id"]):
            t0 = time.monotonic()
            r = d.request("GET", path)
            took = time.monotonic() - t0
            self.assertEqual(r.status, 200, "%s: %r" % (path, r.body))
            if took > 0.5:
                slow.append("%s %.2fs" % (path, took))
        self.assertEqual(slow, [], "reads held while the disk is full")
        self.assertEqual(d.get_json("/v1/futures/" + fut["id"])["state"],
                         "pending")
        self.assertEqual(d.call(kept[0]["id"])["state"], "pending")
        d.check_alive()
        self.assert_same_calls(d, [c["id"] for c in kept])

        # Room again: the store retries every second and writes come back.
        os.remove(filler)
        d.wait_until(lambda: metric(d, "loopd_store_writable") == 1,
                     timeout=5, what="loopd_store_writable 1")
        new = d.schedule({"after": 3600, "command": TRUE})
        f2 = d.request("POST", "/v1/futures")
        self.assertEqual(f2.status, 201, f2.body)
        r = d.request("POST", "/v1/futures/%s/result" % fut["id"],
                      body={"result": "late"})
        self.assertEqual(r.status, 200, r.body)
        self.assertIn("disk is full", d.log())

        # Everything acknowledged is on disk; nothing refused was stored.
        d.kill()
        d.start()
        self.assert_same_calls(d, [c["id"] for c in kept] + [new["id"]])
        got = {c["id"]: c for c in d.list_calls()}
        for c in kept:
            self.assertEqual((got[c["id"]]["state"], got[c["id"]]["args"]),
                             ("pending", c["args"]))
        g = d.get_json("/v1/futures/" + fut["id"])
        self.assertEqual((g["state"], g.get("result")), ("finished", "late"),
                         "an acknowledged result was lost: %r" % g)
        self.assertEqual(d.get_json("/v1/futures/" + fin["id"])["result"],
                         [1, "two"])
        self.assertEqual(d.get_json("/v1/futures/" + f2.body["id"])["state"],
                         "pending")
        self.assertEqual(metric(d, "loopd_store_writable"), 1)
        d.stop()


    def test_result_whose_commit_fails_waits_for_the_retry(self):
        """A 503 means nothing happened (issue 12): a change to a stored
        object whose commit fails stays in memory and is written by the
        store's retry, so its reply waits for that commit."""
        d = self.d
        d.start()
        filler = os.path.join(d.state_dir, "filler")
        outcomes = []
        for attempt in range(6):
            fut = d.request("POST", "/v1/futures").body
            self.fill(filler)
            # Posted at once: its commit is the first to find no room
            # (unless the anchor's commit found it first: then it is
            # refused before anything changes).
            pending = d.begin("POST", "/v1/futures/%s/result" % fut["id"],
                              body={"result": attempt})
            time.sleep(0.3)     # the state under test: a fault in progress
            held = not pending.replied()
            os.remove(filler)
            r = pending.response()
            outcomes.append((r.status, held))
            d.wait_until(lambda: metric(d, "loopd_store_writable") == 1,
                         timeout=5, what="loopd_store_writable 1")
            g = d.get_json("/v1/futures/" + fut["id"])
            if r.status == 200:
                self.assertEqual((g["state"], g["result"]), ("finished", attempt))
            else:
                self.assertEqual(r.status, 503, r.body)
                self.assertEqual(g["state"], "pending",
                                 "answered 503, yet the result was set: %r" % g)
                again = d.request("POST", "/v1/futures/%s/result" % fut["id"],
                                  body={"result": attempt})
                self.assertEqual(again.status, 200,
                                 "a retry after 503 must succeed: %r" % again.body)
            d.kill()
            d.start()
            g = d.get_json("/v1/futures/" + fut["id"])
            self.assertEqual((g["state"], g.get("result")), ("finished", attempt),
                             "attempt %d: %r" % (attempt, g))
            if (200, True) in outcomes:
                break
        self.assertIn((200, True), outcomes,
                      "no result reply was ever held across a failed commit: %r"
                      % outcomes)
        d.stop()


class OpenFailureTest(unittest.TestCase):

    def run_loopd_on(self, state_dir):
        """Start loopd on state_dir; it must refuse (bounded wait)."""
        try:
            return run_loopd(["--state-dir", state_dir, "--listen",
                              "127.0.0.1:0"], timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("loopd started on %s instead of refusing"
                                 % state_dir)

    def assert_refused(self, r, *phrases):
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("listening on", r.stderr)
        for p in phrases:
            self.assertIn(p, r.stderr)

    def test_unopenable_store_stops_start_up(self):
        top = tempfile.mkdtemp(prefix="loopd-it-")
        self.addCleanup(shutil.rmtree, top, ignore_errors=True)
        cases = {}
        sd = os.path.join(top, "db-is-a-dir")
        os.makedirs(os.path.join(sd, "loopd.db"))
        cases["loopd.db is a directory"] = sd
        sd = os.path.join(top, "garbage")
        os.makedirs(sd)
        garbage = bytes(range(256)) * 32
        with open(os.path.join(sd, "loopd.db"), "wb") as f:
            f.write(garbage)
        cases["garbage in loopd.db"] = sd
        try:
            import sqlite3
        except ImportError:
            sqlite3 = None
        if sqlite3 is not None:
            sd = os.path.join(top, "newer")
            os.makedirs(sd)
            db = sqlite3.connect(os.path.join(sd, "loopd.db"))
            db.execute("PRAGMA user_version = 999")
            db.commit()
            db.close()
            cases["schema from a newer loopd"] = sd
        for what, sd in cases.items():
            with self.subTest(what):
                r = self.run_loopd_on(sd)
                self.assert_refused(r, "store", sd)
        with open(os.path.join(top, "garbage", "loopd.db"), "rb") as f:
            self.assertEqual(f.read(), garbage,
                             "a damaged store was overwritten")

    def test_second_loopd_on_same_state_dir_refused(self):
        with Daemon() as d:
            c = d.schedule({"after": 3600, "command": TRUE})
            r = self.run_loopd_on(d.state_dir)
            self.assert_refused(r, "another loopd is using")
            d.check_alive()
            self.assertEqual(d.call(c["id"])["state"], "pending")
            d.schedule({"after": 3600, "command": TRUE})


if __name__ == "__main__":
    unittest.main()


class RunOnceTest(unittest.TestCase):
    """The claim (issue 12) from the outside: what a stop or a full disk
    does to calls that have not started."""

    def test_clean_stop_lets_claims_lapse(self):
        # Due within the claim window (so claimed on acceptance), then a
        # drain that outlasts its due time (a running command holds it),
        # so the final commits' lease covers it: a clean stop must not make
        # it "possibly started" (Interrupted) at the next start.
        with Daemon() as d:
            log = d.path("ran.log")
            blocker = d.schedule({"soon": True, "command": sh("sleep 1.5")})
            d.wait_until(lambda: d.call(blocker["id"])["phase"] == "running",
                         what="the blocker to run")
            c = d.schedule({"after": 0.2, "command": sh('echo x >> "$1"', log)})
            d.stop()
            if os.path.exists(log):
                self.skipTest("the stop began after the call's time: it ran first")
            d.start()
            got = d.wait_done(c["id"])
            self.assertEqual((got["state"], got.get("exception")), ("finished", None), got)
            self.assertEqual(read_lines(log), ["x"])

    def test_soon_call_refused_on_full_disk_never_runs(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs for the state dir")
        d = Daemon()
        self.addCleanup(d.close, check=False)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700",
                            "loopd-it-once", d.state_dir], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (%s)" % r.stderr.strip())
        self.addCleanup(lambda: subprocess.run(["umount", "-l", d.state_dir],
                                               capture_output=True))
        self.addCleanup(d.stop, check=False)
        d.start()
        ran = os.path.join(d.dir, "ran")
        os.mkdir(ran)
        filler = os.path.join(d.state_dir, "filler")
        FullDiskTest.fill(None, filler)
        refused = acked = 0
        for i in range(40):
            r = d.request("POST", "/v1/calls", body={
                "soon": True, "name": "s%d" % i,
                "command": sh('touch "$1/$2"', ran, "s%d" % i)})
            if r.status == 201:
                acked += 1
            else:
                self.assertEqual(r.status, 503, r.body)
                refused += 1
        self.assertGreater(refused, 0, "no POST was refused on a full disk")
        os.remove(filler)
        d.wait_until(lambda: metric(d, "loopd_store_writable") == 1, timeout=5,
                     what="loopd_store_writable 1")
        names = {c["name"] for c in d.list_calls()}
        d.wait_until(lambda: all(c["state"] != "pending" for c in d.list_calls()),
                     timeout=20, what="the acknowledged calls to finish")
        ran_names = set(os.listdir(ran))
        self.assertEqual(ran_names - names, set(),
                         "calls answered 503 ran their command")
        self.assertEqual(len(names), acked)
