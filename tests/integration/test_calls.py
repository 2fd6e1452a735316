"""
API.md §2-3: loop time, scheduling calls, running commands, listing,
cancelling, idempotency and the concurrent-command cap.
"""
import json
import os
import random
import time
import unittest

import harness
from harness import (DaemonTestCase, ID_RE, assert_problem, pid_alive, sh,
                     wait_until)

TRUE = {"argv": ["true"]}
EPS = 1e-6          # loop times travel with microsecond precision
LATE = 0.25         # how late a call may start on a busy test machine


class TimeTest(DaemonTestCase):

    def test_time_shape(self):
        r = self.d.request("GET", "/v1/time")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"))
        body = r.body
        self.assertEqual(set(body), {"loop_time", "unix_time"})
        for k in body:
            self.assertIsInstance(body[k], (int, float), k)
            self.assertNotIsInstance(body[k], bool, k)
        self.assertGreaterEqual(body["loop_time"], 0)
        self.assertAlmostEqual(body["unix_time"], time.time(), delta=5)

    def test_loop_time_is_monotonic_and_ticks(self):
        prev = self.d.loop_time()
        with self.d.session() as s:
            for _ in range(50):
                t = s.request("GET", "/v1/time").body["loop_time"]
                self.assertGreaterEqual(t, prev)
                prev = t
        a = self.d.get_json("/v1/time")
        m0 = time.monotonic()
        time.sleep(0.3)                  # let time pass, then measure it
        b = self.d.get_json("/v1/time")
        m1 = time.monotonic()
        elapsed = b["loop_time"] - a["loop_time"]
        self.assertGreaterEqual(elapsed, 0.3 - 0.02)
        self.assertLessEqual(elapsed, (m1 - m0) + 0.05)
        self.assertAlmostEqual(b["unix_time"] - a["unix_time"], elapsed,
                               delta=0.1)

    def test_healthz(self):
        r = self.d.request("GET", "/healthz", auth=False)
        self.assertEqual((r.status, r.body), (200, {"status": "ok"}))


class CallsTest(DaemonTestCase):
    opts = {"kill_grace": "0.2", "max_output": "1K"}

    def run_call(self, command, timeout=10, **fields):
        body = {"soon": True, "command": command}
        body.update(fields)
        c = self.d.schedule(body)
        return self.d.wait_done(c["id"], timeout=timeout)

    def assertCallShape(self, c, trigger):
        self.assertRegex(c["id"], ID_RE)
        self.assertEqual(c["kind"], "call")
        for k in ("due", "due_unix", "created"):
            self.assertIsInstance(c[k], (int, float), k)
        self.assertEqual(c["attempts"], 0)
        self.assertIsInstance(c["args"], list)
        self.assertEqual(c.get("trigger"), trigger)
        self.assertIn("command", c)

    # -- scheduling ------------------------------------------------------------

    def test_create_soon(self):
        t0 = self.d.loop_time()
        r = self.d.request("POST", "/v1/calls", body={
            "soon": True, "command": {"argv": ["echo", "hi"]},
            "name": "greet"})
        self.assertEqual(r.status, 201, r.body)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"))
        c = r.body
        self.assertCallShape(c, "soon")
        self.assertEqual(c["command"]["argv"], ["echo", "hi"])
        self.assertEqual(c["args"], [])
        self.assertEqual(c["name"], "greet")
        self.assertIn(c["state"], ("pending", "finished"))
        self.assertGreaterEqual(c["created"], t0)
        self.assertLessEqual(c["due"], c["created"] + EPS)
        self.assertAlmostEqual(c["due_unix"], time.time(), delta=2)
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["result"]["stdout"], "hi\n")

    def test_create_after(self):
        t0 = self.d.loop_time()
        c = self.d.schedule({"after": 60, "command": TRUE, "args": [1, "a"]})
        self.assertCallShape(c, "after")
        self.assertEqual((c["state"], c["phase"]), ("pending", "scheduled"))
        self.assertEqual(c["args"], [1, "a"])
        self.assertNotIn("started", c)
        self.assertAlmostEqual(c["due"], c["created"] + 60, delta=0.01)
        self.assertGreaterEqual(c["created"], t0)
        self.assertAlmostEqual(c["due_unix"], time.time() + 60, delta=2)
        self.assertEqual(self.d.call(c["id"])["state"], "pending")
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_create_at(self):
        now = self.d.loop_time()
        at = round(now + 60.25, 6)
        c = self.d.schedule({"at": at, "command": TRUE})
        self.assertCallShape(c, "at")
        self.assertEqual((c["state"], c["phase"]), ("pending", "scheduled"))
        self.assertAlmostEqual(c["due"], at, delta=EPS)
        self.assertAlmostEqual(c["due_unix"], time.time() + 60.25, delta=2)
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_at_is_kept_to_the_microsecond(self):
        """An `at` with six decimals is due at exactly that microsecond,
        also when its double times 1e6 falls just below the integer
        (16541.884991 * 1e6 = 16541884990.999998: truncated, it was due
        a microsecond early)."""
        # Such times are rare and depend on the magnitude: draw six-decimal
        # times up to 12 days ahead (a fixed seed) until three are found.
        rnd, ats, lt = random.Random(7), [], self.d.loop_time() + 60
        for _ in range(1000000):
            x = float("%.6f" % (lt + rnd.uniform(0, 2 ** 20)))
            if int(x * 1e6) != round(x * 1e6):
                ats.append(x)
                if len(ats) == 3:
                    break
        self.assertEqual(len(ats), 3)
        for at in ats:
            c = self.d.schedule({"at": at, "command": TRUE})
            self.assertEqual(round(c["due"] * 1e6), round(at * 1e6), (at, c["due"]))
            self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_create_at_unix(self):
        at_unix = round(time.time() + 60.5, 6)
        now = self.d.loop_time()
        c = self.d.schedule({"at_unix": at_unix, "command": TRUE})
        self.assertCallShape(c, "at_unix")
        self.assertEqual((c["state"], c["phase"]), ("pending", "scheduled"))
        self.assertAlmostEqual(c["due_unix"], at_unix, delta=EPS)
        self.assertAlmostEqual(c["due"], now + 60.5, delta=2)
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_past_deadlines_run_at_once(self):
        now = self.d.get_json("/v1/time")
        a = self.d.schedule({"at": now["loop_time"] - 100, "command": TRUE})
        b = self.d.schedule({"at_unix": now["unix_time"] - 100,
                             "command": TRUE})
        c = self.d.schedule({"after": 0, "command": TRUE})
        for x in (a, b, c):
            done = self.d.wait_done(x["id"], timeout=5)
            self.assertEqual(done["state"], "finished")
            self.assertGreaterEqual(done["started"], done["due"] - EPS)
            self.assertLess(done["started"] - done["created"], LATE)

    # -- running a command -----------------------------------------------------

    def test_command_runs(self):
        out = self.d.path("ran.txt")
        c = self.run_call(sh('echo hi > "$1"', out))
        self.assertEqual(c["state"], "finished")
        self.assertEqual(c["phase"], "done")
        with open(out) as f:
            self.assertEqual(f.read(), "hi\n")
        res = c["result"]
        self.assertEqual(res["exit_code"], 0)
        self.assertEqual(res["stdout"], "")
        self.assertEqual(res["stderr"], "")
        self.assertIsInstance(res["duration"], (int, float))
        self.assertGreaterEqual(res["duration"], 0)
        self.assertNotIn("exception", c)
        self.assertNotIn("stdout_truncated", res)
        self.assertEqual(c["attempts"], 1)
        self.assertGreaterEqual(c["started"], c["due"] - EPS)
        self.assertGreaterEqual(c["finished"], c["started"])

    def test_stdout_and_stderr(self):
        c = self.run_call(sh("echo out; echo err >&2; printf tail"))
        self.assertEqual(c["result"]["stdout"], "out\ntail")
        self.assertEqual(c["result"]["stderr"], "err\n")

    def test_exit_status_nonzero(self):
        c = self.run_call(sh("echo partial; exit 3"))
        self.assertEqual(c["state"], "finished")
        self.assertNotIn("result", c)
        e = c["exception"]
        self.assertEqual(e["type"], "CommandFailed")
        self.assertEqual(e["exit_code"], 3)
        self.assertIsInstance(e["message"], str)
        self.assertEqual(e.get("stdout"), "partial\n")

    def test_killed_by_signal(self):
        c = self.run_call(sh("kill -KILL $$"))
        e = c["exception"]
        self.assertEqual(e["type"], "CommandFailed")
        self.assertIn(e.get("signal"), (9, "SIGKILL", "KILL"))
        self.assertIsNone(e.get("exit_code"))

    def test_timeout(self):
        t0 = time.monotonic()
        c = self.run_call({"argv": ["sleep", "30"], "timeout": 0.2})
        self.assertLess(time.monotonic() - t0, 5)
        e = c["exception"]
        self.assertEqual(e["type"], "TimeoutError")
        self.assertIsInstance(e["message"], str)
        self.assertGreaterEqual(c["finished"] - c["started"], 0.2 - 0.01)
        self.assertLess(c["finished"] - c["started"], 0.2 + 0.2 + LATE)

    def test_timeout_kills_process_group_after_grace(self):
        # The shell ignores SIGTERM (and notes it got one); its background
        # child must die too: TERM to the group, KILL after kill_grace.
        log = self.d.path("term.log")
        pidf = self.d.path("child.pid")
        script = ('trap \'echo term >> "$1"\' TERM; '
                  '(trap "" TERM; exec sleep 30) & echo $! > "$2"; '
                  'while :; do sleep 0.02; done')
        c = self.run_call(sh(script, log, pidf, timeout=0.3))
        e = c["exception"]
        self.assertEqual(e["type"], "TimeoutError")
        took = c["finished"] - c["started"]
        self.assertGreaterEqual(took, 0.3 + 0.2 - 0.02,
                                "KILL came before the grace period ended")
        self.assertLess(took, 0.3 + 0.2 + 1.0)
        with open(log) as f:
            self.assertIn("term", f.read(), "the group never got SIGTERM")
        with open(pidf) as f:
            child = int(f.read())
        wait_until(lambda: not pid_alive(child), timeout=3,
                   what="background child %d to die" % child)

    @unittest.skipIf(harness.UNDER_VALGRIND, "valgrind runs posix_spawn's vfork-style "
                     "clone as a fork, so a failed exec looks like exit 127")
    def test_spawn_errors(self):
        for cmd in [{"argv": ["/nonexistent/loopd-it-no-such-binary"]},
                    {"argv": ["loopd-it-no-such-command-xyz"]},
                    {"argv": ["true"], "cwd": "/nonexistent-loopd-it-dir"}]:
            c = self.run_call(cmd)
            with self.subTest(cmd=cmd):
                self.assertEqual(c["state"], "finished")
                self.assertEqual(c["exception"]["type"], "SpawnError")
                self.assertIsInstance(c["exception"]["message"], str)
        self.d.check_alive()

    def test_env_cwd_stdin(self):
        work = self.d.path("work dir")
        os.makedirs(work, exist_ok=True)
        c = self.run_call(sh('printf "%s|%s|" "$FOO" "$EMPTY"; pwd -P; cat',
                             env={"FOO": "bar baz", "EMPTY": ""},
                             cwd=work, stdin="line1\nline2"))
        want = "bar baz||%s\nline1\nline2" % os.path.realpath(work)
        self.assertEqual(c["result"]["stdout"], want)

    def test_stdin_may_hold_nul(self):
        c = self.run_call({"argv": ["wc", "-c"], "stdin": "a\u0000b"})
        self.assertEqual(c["result"]["stdout"].strip(), "3")

    def test_no_stdin_is_eof(self):
        c = self.run_call({"argv": ["cat"], "timeout": 5})
        self.assertEqual(c["state"], "finished")
        self.assertEqual(c["result"]["stdout"], "")

    def test_loop_call_id_in_env(self):
        c = self.run_call(sh('printf %s "$LOOP_CALL_ID"'))
        self.assertEqual(c["result"]["stdout"], c["id"])

    def test_args_appended(self):
        args = ["x y", 1, 2.5, True, None, {"a": [1, 2]}, [1, "b"], "",
                "ü", "-n"]
        c = self.run_call(sh('for a; do printf "[%s]" "$a"; done'),
                          args=args)
        self.assertEqual(c["args"], args)
        self.assertEqual(c["result"]["stdout"],
                         '[x y][1][2.5][true][null][{"a":[1,2]}][[1,"b"]][]'
                         '[ü][-n]')

    def test_output_cap(self):
        c = self.run_call(sh("head -c 5000 /dev/zero | tr '\\0' a; "
                             "echo small >&2"))
        res = c["result"]
        self.assertEqual(res["exit_code"], 0)
        self.assertLessEqual(len(res["stdout"]), 1024)
        self.assertGreater(len(res["stdout"]), 0)
        self.assertTrue(set(res["stdout"]) <= {"a"})
        self.assertIs(res.get("stdout_truncated"), True)
        self.assertEqual(res["stderr"], "small\n")
        self.assertNotIn("stderr_truncated", res)

    def test_output_cap_stderr_and_big_output(self):
        # A command writing far more than the cap must not block on a
        # full pipe: loopd keeps reading and throws the rest away.
        c = self.run_call(sh("head -c 3000000 /dev/zero; "
                             "head -c 3000 /dev/zero | tr '\\0' e >&2"),
                          timeout=20)
        res = c["result"]
        self.assertEqual(res["exit_code"], 0)
        self.assertLessEqual(len(res["stdout"]), 1024)
        self.assertLessEqual(len(res["stderr"]), 1024)
        self.assertIs(res.get("stdout_truncated"), True)
        self.assertIs(res.get("stderr_truncated"), True)

    def test_never_early_and_not_late(self):
        calls = [self.d.schedule({"after": 0.05 * i, "command": TRUE})
                 for i in range(1, 9)]
        for c in calls:
            done = self.d.wait_done(c["id"])
            self.assertEqual(done["state"], "finished")
            self.assertGreaterEqual(done["started"], done["due"] - EPS,
                                    "started before it was due")
            self.assertLess(done["started"] - done["due"], LATE)
            self.assertAlmostEqual(done["due"], c["due"], delta=EPS)

    # -- cancelling --------------------------------------------------------------

    def test_cancel_pending_never_runs(self):
        flag = self.d.path("cancelled-ran")
        c = self.d.schedule({"after": 0.3, "command": sh('touch "$1"', flag)})
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        got = self.d.call(c["id"])
        self.assertEqual(got["state"], "cancelled")
        self.assertEqual(got["phase"], "done")
        self.assertNotIn("started", got)
        # A call due after it has run: the cancelled one would have run
        # before it.
        later = self.d.schedule({"after": 0.5, "command": TRUE})
        self.d.wait_done(later["id"])
        self.assertFalse(os.path.exists(flag), "a cancelled call ran")
        self.assertEqual(self.d.call(c["id"])["state"], "cancelled")
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": False}))

    def test_cancel_running_command(self):
        pidf = self.d.path("running.pid")
        c = self.d.schedule({"soon": True, "command": sh(
            'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 30', pidf)})
        self.d.wait_until(lambda: os.path.exists(pidf),
                          what="the command to start")
        with open(pidf) as f:
            pid = int(f.read())
        self.assertEqual(self.d.call(c["id"])["phase"], "running")
        t0 = time.monotonic()
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        done = self.d.wait_done(c["id"], timeout=5)
        self.assertEqual(done["state"], "cancelled")
        self.assertEqual(done["phase"], "done")
        self.assertLess(time.monotonic() - t0, 3)
        wait_until(lambda: not pid_alive(pid), timeout=3,
                   what="the cancelled command to die")

    def test_cancel_running_command_ignoring_term(self):
        pidf = self.d.path("stubborn.pid")
        c = self.d.schedule({"soon": True, "command": sh(
            "trap '' TERM; echo $$ > \"$1.tmp\"; mv \"$1.tmp\" \"$1\"; "
            "while :; do sleep 0.02; done", pidf)})
        self.d.wait_until(lambda: os.path.exists(pidf),
                          what="the command to start")
        with open(pidf) as f:
            pid = int(f.read())
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        done = self.d.wait_done(c["id"], timeout=5)
        self.assertEqual(done["state"], "cancelled")
        wait_until(lambda: not pid_alive(pid), timeout=3,
                   what="SIGKILL after the grace period")

    def test_cancel_done(self):
        c = self.run_call(TRUE)
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": False}))
        again = self.d.call(c["id"])
        self.assertEqual(again["state"], "finished")
        self.assertEqual(again["result"], c["result"])

    # -- reading -----------------------------------------------------------------

    def test_get_call(self):
        c = self.d.schedule({"after": 60, "command": TRUE, "name": "one"})
        got = self.d.call(c["id"])
        for k in ("id", "kind", "state", "phase", "due", "due_unix",
                  "created", "command", "args", "attempts", "name"):
            self.assertEqual(got[k], c[k], k)
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_name_filter_is_url_decoded(self):
        import urllib.parse
        name = "we%ird & name/ü+x"
        c = self.d.schedule({"after": 60, "command": TRUE, "name": name})
        q = urllib.parse.quote(name, safe="")
        self.assertEqual(self.d.call_ids("name=" + q), [c["id"]])
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    # -- idempotency -------------------------------------------------------------

    def test_idempotency_key_field(self):
        body = {"soon": True, "command": TRUE, "idempotency_key": "same-1"}
        before = len(self.d.call_ids())
        a = self.d.request("POST", "/v1/calls", body=body)
        self.assertEqual(a.status, 201, a.body)
        self.d.wait_done(a.body["id"])
        b = self.d.request("POST", "/v1/calls", body=body)
        self.assertEqual(b.status, 200, b.body)
        self.assertEqual(b.body["id"], a.body["id"])
        self.assertEqual(len(self.d.call_ids()), before + 1)

    def test_idempotency_key_header(self):
        body = {"after": 60, "command": TRUE}
        h = {"Idempotency-Key": "same-2"}
        before = len(self.d.call_ids())
        a = self.d.request("POST", "/v1/calls", body=body, headers=h)
        self.assertEqual(a.status, 201, a.body)
        b = self.d.request("POST", "/v1/calls", body=body, headers=h)
        self.assertEqual(b.status, 200, b.body)
        self.assertEqual(b.body["id"], a.body["id"])
        self.assertEqual(b.body["due"], a.body["due"])
        self.assertEqual(len(self.d.call_ids()), before + 1)
        r = self.d.request("POST", "/v1/calls", body=dict(body, after=61),
                           headers=h)
        assert_problem(self, r, 422, "IdempotencyMismatch")
        # Without the key, the same body is a new call.
        c = self.d.schedule(body)
        self.assertNotEqual(c["id"], a.body["id"])
        for i in (a.body["id"], c["id"]):
            self.d.request("DELETE", "/v1/calls/" + i)


class RetryTest(DaemonTestCase):

    def test_failing_command_is_retried_with_backoff(self):
        log = self.d.path("attempts.log")
        c = self.d.schedule({"soon": True, "retry": {
            "attempts": 3, "backoff": 0.2, "max_backoff": 0.3},
            "command": sh('date +%s.%N >> "$1"; exit 5', log)})
        self.assertEqual(c["attempts"], 0)
        done = self.d.wait_done(c["id"], timeout=10)
        self.assertEqual(done["attempts"], 3)
        self.assertEqual(done["exception"]["type"], "CommandFailed")
        self.assertEqual(done["exception"]["exit_code"], 5)
        with open(log) as f:
            times = [float(x) for x in f.read().split()]
        self.assertEqual(len(times), 3)
        gaps = [b - a for a, b in zip(times, times[1:])]
        # Delay before attempt n+1: between half and all of
        # backoff * 2^(n-1), capped at max_backoff.
        self.assertGreaterEqual(gaps[0], 0.1 - 0.01)
        self.assertLess(gaps[0], 0.2 + LATE)
        self.assertGreaterEqual(gaps[1], 0.15 - 0.01)
        self.assertLess(gaps[1], 0.3 + LATE)

    def test_succeeding_command_is_not_retried(self):
        c = self.d.schedule({"soon": True, "retry": {"attempts": 3,
                                                     "backoff": 0.1},
                             "command": TRUE})
        done = self.d.wait_done(c["id"])
        self.assertEqual((done["state"], done["attempts"]), ("finished", 1))


class ListTest(DaemonTestCase):
    """A daemon of its own, so the lists hold exactly what we made."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = cls.d
        cls.alpha = [d.schedule({"after": 3600, "command": TRUE,
                                 "name": "alpha"})["id"] for _ in range(7)]
        cls.beta = [d.schedule({"soon": True, "command": TRUE,
                                "name": "beta"})["id"] for _ in range(5)]
        for i in cls.beta:
            d.wait_done(i)
        cls.gone = d.schedule({"after": 3600, "command": TRUE,
                               "name": "gamma"})["id"]
        r = d.request("DELETE", "/v1/calls/" + cls.gone)
        assert r.status == 200, r

    def ids(self, query):
        return sorted(self.d.call_ids(query))

    def test_list_shape(self):
        r = self.d.request("GET", "/v1/calls")
        self.assertEqual(r.status, 200)
        self.assertEqual(set(r.body), {"items", "next_page_token"})
        self.assertEqual(r.body["next_page_token"], "")
        self.assertEqual(len(r.body["items"]), 13)
        one = [c for c in r.body["items"] if c["id"] == self.alpha[0]][0]
        self.assertEqual(one, self.d.call(self.alpha[0]))

    def test_filters(self):
        everything = sorted(self.alpha + self.beta + [self.gone])
        self.assertEqual(self.ids(""), everything)
        self.assertEqual(self.ids("name=alpha"), sorted(self.alpha))
        self.assertEqual(self.ids("name=beta"), sorted(self.beta))
        self.assertEqual(self.ids("name=nope"), [])
        self.assertEqual(self.ids("state=pending"), sorted(self.alpha))
        self.assertEqual(self.ids("state=finished"), sorted(self.beta))
        self.assertEqual(self.ids("state=cancelled"), [self.gone])
        self.assertEqual(self.ids("phase=scheduled"), sorted(self.alpha))
        self.assertEqual(self.ids("phase=done"),
                         sorted(self.beta + [self.gone]))
        self.assertEqual(self.ids("phase=running"), [])
        self.assertEqual(self.ids("state=pending&name=beta"), [])
        for c in self.d.list_calls("name=alpha"):
            self.assertEqual(c["name"], "alpha")
        r = self.d.request("GET", "/v1/calls?name=nope")
        self.assertEqual(r.body, {"items": [], "next_page_token": ""})

    def test_paging(self):
        for size, query in [(3, ""), (1, ""), (2, "name=alpha"),
                            (5, "state=finished"), (1000, "")]:
            seen, token, pages = [], "", 0
            while True:
                q = "page_size=%d" % size + ("&" + query if query else "")
                if token:
                    q += "&page_token=" + token
                body = self.d.get_json("/v1/calls?" + q)
                pages += 1
                self.assertLessEqual(len(body["items"]), size)
                seen += [c["id"] for c in body["items"]]
                token = body["next_page_token"]
                self.assertIsInstance(token, str)
                if not token:
                    break
                self.assertLess(pages, 100, "paging never ends")
            with self.subTest(size=size, query=query):
                self.assertEqual(len(seen), len(set(seen)), "duplicates")
                self.assertEqual(sorted(seen), self.ids(query))
                self.assertLessEqual(pages, len(seen) // size + 2)

    def test_bad_list_queries(self):
        for q in ["page_size=0", "page_size=abc", "page_size=-1",
                  "state=bogus", "phase=bogus", "page_token=garbage"]:
            r = self.d.request("GET", "/v1/calls?" + q)
            with self.subTest(q):
                assert_problem(self, r, 400, "BadRequest")


class ConcurrencyCapTest(DaemonTestCase):
    opts = {"max_commands": "2"}

    def test_at_most_two_commands_at_once(self):
        log = self.d.path("concurrency.log")
        ids = []
        for i in range(5):
            ids.append(self.d.schedule({"soon": True, "args": [i, log],
                                        "command": sh(
                'echo "s $1" >> "$2"; sleep 0.3; echo "e $1" >> "$2"')})["id"])
        running_max = 0

        def all_done():
            nonlocal running_max
            running = self.d.list_calls("phase=running")
            running_max = max(running_max, len(running))
            return all(self.d.call(i)["state"] != "pending" for i in ids)
        self.d.wait_until(all_done, timeout=15, what="all five sleepers")
        self.assertLessEqual(running_max, 2)
        calls = [self.d.call(i) for i in ids]
        for c in calls:
            self.assertEqual(c["state"], "finished")
            self.assertEqual(c["result"]["exit_code"], 0)
        # Replay the log: never more than two between their s and e.
        with open(log) as f:
            lines = f.read().split("\n")[:-1]
        self.assertEqual(len(lines), 10)
        now = peak = 0
        for line in lines:
            now += 1 if line.startswith("s") else -1
            peak = max(peak, now)
        self.assertLessEqual(peak, 2, lines)
        self.assertEqual(peak, 2, "the cap held them to one at a time")
        # Started in the order accepted.
        started = [c["started"] for c in calls]
        self.assertEqual(started, sorted(started))
        # The third could only start once one of the first two finished.
        self.assertGreaterEqual(started[2] + EPS,
                                min(calls[0]["finished"],
                                    calls[1]["finished"]))


if __name__ == "__main__":
    unittest.main()
