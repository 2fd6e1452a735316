"""
API.md §4: futures, done-callbacks (ordering guarantee 4), wait, gather
and retention, with asyncio's rules.
"""
import json
import os
import time
import unittest

from harness import (DaemonTestCase, FUTURE_ID_RE, ID_RE, assert_problem, hold_until,
                     sh, wait_until)

TRUE = {"argv": ["true"]}
APPEND = 'echo "$1" >> "$2"'
SHOW = 'printf "%s %s %s\\n" "$LOOP_FUTURE_ID" "$LOOP_FUTURE_STATE" ' \
       '"$LOOP_CALL_ID"; cat'


class FuturesBase(DaemonTestCase):
    opts = {"max_commands": "1", "max_wait": "5s"}

    def new(self, body=None):
        r = self.d.request("POST", "/v1/futures", body=body)
        self.assertEqual(r.status, 201, r.body)
        return r.body

    def post(self, path, body=None):
        return self.d.request("POST", path, body=body)

    def set_result(self, fid, value):
        r = self.post("/v1/futures/%s/result" % fid, {"result": value})
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def set_exception(self, fid, type_="ValueError", message="bad"):
        r = self.post("/v1/futures/%s/exception" % fid,
                      {"type": type_, "message": message})
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def cancel(self, fid):
        r = self.post("/v1/futures/%s/cancel" % fid)
        self.assertEqual(r.status, 200, r.body)
        return r.body

    def future(self, fid):
        return self.d.get_json("/v1/futures/" + fid)

    def add_callback(self, fid, command, status=201, **fields):
        body = {"command": command}
        body.update(fields)
        r = self.post("/v1/futures/%s/callbacks" % fid, body)
        self.assertEqual(r.status, status, r.body)
        return r.body


class FuturesTest(FuturesBase):

    # -- futures -----------------------------------------------------------------

    def test_create(self):
        t0 = self.d.loop_time()
        f = self.new()
        self.assertRegex(f["id"], FUTURE_ID_RE)
        self.assertEqual(f["kind"], "future")
        self.assertEqual(f["state"], "pending")
        self.assertGreaterEqual(f["created"], t0)
        self.assertNotIn("result", f)
        self.assertNotIn("exception", f)
        self.assertEqual(self.future(f["id"]), f)
        g = self.new({"name": "named"})
        self.assertEqual(g["name"], "named")
        r = self.d.request("POST", "/v1/futures", raw=b"",
                           headers={"Content-Length": "0"})
        self.assertEqual(r.status, 201, r.body)
        self.assertNotEqual(r.body["id"], f["id"])

    def test_create_bad(self):
        for body in [{"bogus": 1}, {"name": 5}, {"timeout": -1},
                     {"timeout": "1s"}, [1]]:
            r = self.post("/v1/futures", body)
            with self.subTest(body=body):
                assert_problem(self, r, 400, "BadRequest")
        r = self.d.request("POST", "/v1/futures", auth=False)
        assert_problem(self, r, 401, "Unauthorized")

    def test_set_result_any_json(self):
        for value in [{"a": [1, 2]}, None, 0, "s", [1, "x"], True, 1.5,
                      {"nested": {"deep": [None, False]}}]:
            f = self.new()
            got = self.set_result(f["id"], value)
            with self.subTest(value=value):
                self.assertEqual(got["id"], f["id"])
                self.assertEqual(got["state"], "finished")
                self.assertIn("result", got)
                self.assertEqual(got["result"], value)
                self.assertNotIn("exception", got)
                self.assertEqual(self.future(f["id"]), got)

    def test_set_twice_is_invalid_state(self):
        f = self.new()
        first = self.set_result(f["id"], 1)
        for path, body in [("result", {"result": 2}),
                           ("exception", {"type": "E", "message": "m"})]:
            r = self.post("/v1/futures/%s/%s" % (f["id"], path), body)
            assert_problem(self, r, 409, "InvalidStateError")
        self.assertEqual(self.future(f["id"]), first)

    def test_set_exception(self):
        f = self.new()
        got = self.set_exception(f["id"], "ValueError", "bad value")
        self.assertEqual(got["state"], "finished")
        self.assertEqual(got["exception"]["type"], "ValueError")
        self.assertEqual(got["exception"]["message"], "bad value")
        self.assertNotIn("result", got)
        r = self.post("/v1/futures/%s/result" % f["id"], {"result": 1})
        assert_problem(self, r, 409, "InvalidStateError")
        self.assertEqual(self.future(f["id"]), got)

    def test_bad_result_and_exception_bodies(self):
        f = self.new()
        for path, body in [("result", {}), ("result", {"result": 1, "x": 2}),
                           ("exception", {}),
                           ("exception", {"type": 5, "message": "m"}),
                           ("exception", {"message": "m"})]:
            r = self.post("/v1/futures/%s/%s" % (f["id"], path), body)
            with self.subTest(path=path, body=body):
                assert_problem(self, r, 400, "BadRequest")
        self.assertEqual(self.future(f["id"])["state"], "pending")

    def test_cancel(self):
        f = self.new()
        self.assertEqual(self.cancel(f["id"]), {"cancelled": True})
        self.assertEqual(self.future(f["id"])["state"], "cancelled")
        self.assertEqual(self.cancel(f["id"]), {"cancelled": False})
        for path, body in [("result", {"result": 2}),
                           ("exception", {"type": "E", "message": "m"})]:
            r = self.post("/v1/futures/%s/%s" % (f["id"], path), body)
            assert_problem(self, r, 409, "InvalidStateError")
        self.assertEqual(self.future(f["id"])["state"], "cancelled")

    def test_cancel_done_is_false(self):
        f = self.new()
        self.set_result(f["id"], "kept")
        self.assertEqual(self.cancel(f["id"]), {"cancelled": False})
        got = self.future(f["id"])
        self.assertEqual((got["state"], got["result"]), ("finished", "kept"))

    def test_cancel_a_call_through_futures_route(self):
        c = self.d.schedule({"after": 3600, "command": TRUE})
        self.assertEqual(self.cancel(c["id"]), {"cancelled": True})
        self.assertEqual(self.d.call(c["id"])["state"], "cancelled")

    def test_unknown_future(self):
        fid = "f_0123456789abcdef"
        for method, path, body in [
            ("GET", "/v1/futures/" + fid, None),
            ("POST", "/v1/futures/%s/result" % fid, {"result": 1}),
            ("POST", "/v1/futures/%s/exception" % fid,
             {"type": "E", "message": "m"}),
            ("POST", "/v1/futures/%s/cancel" % fid, None),
            ("POST", "/v1/futures/%s/callbacks" % fid, {"command": TRUE}),
            ("DELETE", "/v1/futures/%s/callbacks/c_0123456789abcdef" % fid,
             None),
        ]:
            r = self.d.request(method, path, body=body)
            with self.subTest(method=method, path=path):
                assert_problem(self, r, 404, "NotFound")

    def test_future_timeout(self):
        f = self.new({"timeout": 0.3})
        g = self.new({"timeout": 0.3})
        self.set_result(g["id"], 1)
        t0 = time.monotonic()
        r = self.d.request("GET", "/v1/futures/%s?wait=4" % f["id"])
        self.assertEqual(r.body["state"], "cancelled")
        self.assertLess(time.monotonic() - t0, 2)
        self.assertGreaterEqual(self.d.loop_time(), f["created"] + 0.3)
        self.d.wait_until(lambda: self.d.loop_time() > g["created"] + 0.4,
                          what="g's timeout to pass")
        got = self.future(g["id"])
        self.assertEqual((got["state"], got["result"]), ("finished", 1))

    def test_wait_on_future(self):
        f = self.new()
        with self.d.begin("GET", "/v1/futures/%s?wait=4" % f["id"]) as p:
            self.assertFalse(p.replied(0.2), "replied before it was done")
            self.set_result(f["id"], [1])
            r = p.response()
        self.assertEqual(r.body["state"], "finished")
        self.assertEqual(r.body["result"], [1])
        self.assertLess(p.elapsed, 2)

    def test_waiters_and_callbacks_counted(self):
        f = self.new()
        self.assertEqual((f["waiters"], f["callbacks"]), (0, 0))
        with self.d.begin("GET", "/v1/futures/%s?wait=4" % f["id"]) as p:
            wait_until(lambda: self.d.request("GET", "/v1/futures/" + f["id"])[2]["waiters"] == 1,
                       what="the long-poll counted")
            st, _, cb = self.d.request("POST", "/v1/futures/%s/callbacks" % f["id"],
                                       {"command": {"argv": ["true"]}})
            self.assertEqual(st, 201)
            st, _, page = self.d.request("GET", "/v1/futures?state=pending")
            mine = [x for x in page["items"] if x["id"] == f["id"]]
            self.assertEqual((mine[0]["waiters"], mine[0]["callbacks"]), (1, 1))
            # loopctl ls --futures says so in its WAITING column.
            out = self.d.loopctl("ls", "--futures", "--pending").stdout
            row = [ln for ln in out.splitlines() if ln.startswith(f["id"])]
            self.assertEqual(len(row), 1, out)
            self.assertTrue(row[0].endswith("1 waiter, 1 callback"), out)
            self.assertIn("WAITING", out.splitlines()[0])
            self.set_result(f["id"], 1)
            r = p.response()
        # Done: no counts (nothing waits any more).
        self.assertNotIn("waiters", r.body)
        self.assertNotIn("callbacks", r.body)

    # -- done-callbacks --------------------------------------------------------

    def test_callbacks_run_in_registration_order(self):
        f = self.new()
        log = self.d.path("cb-order.log")
        cbs = []
        for i in range(6):
            if i == 3:      # the other spelling of add_done_callback
                c = self.d.schedule({"on_done": f["id"], "args": [i, log],
                                     "command": sh(APPEND)})
            else:
                c = self.add_callback(f["id"], sh(APPEND), args=[i, log])
            self.assertRegex(c["id"], ID_RE)
            self.assertEqual(c["kind"], "call")
            self.assertEqual(c["state"], "pending")
            self.assertEqual(c["phase"], "waiting")
            self.assertEqual(c.get("trigger"), "on_done")
            self.assertEqual(c.get("on_done"), f["id"])
            cbs.append(c)
        self.assertFalse(os.path.exists(log), "a callback ran too early")
        for c in cbs:
            self.assertEqual(self.d.call(c["id"])["phase"], "waiting")
        t_done = self.d.loop_time()
        self.set_result(f["id"], "go")
        done = [self.d.wait_done(c["id"]) for c in cbs]
        with open(log) as fh:
            self.assertEqual(fh.read().split(), [str(i) for i in range(6)])
        started = [c["started"] for c in done]
        self.assertEqual(started, sorted(started))
        self.assertGreaterEqual(started[0], t_done)

    def test_callback_sees_future(self):
        f = self.new()
        c = self.add_callback(f["id"], sh(SHOW))
        self.set_result(f["id"], {"k": [1, 2]})
        c = self.d.wait_done(c["id"])
        self.assertEqual(c["state"], "finished", c)
        first, rest = c["result"]["stdout"].split("\n", 1)
        self.assertEqual(first, "%s finished %s" % (f["id"], c["id"]))
        seen = json.loads(rest)
        self.assertEqual(seen["id"], f["id"])
        self.assertEqual(seen["state"], "finished")
        self.assertEqual(seen["result"], {"k": [1, 2]})

    def test_callback_on_cancelled_and_failed_futures(self):
        f = self.new()
        g = self.new()
        cf = self.add_callback(f["id"], sh(SHOW))
        cg = self.add_callback(g["id"], sh(SHOW))
        self.cancel(f["id"])
        self.set_exception(g["id"], "KeyError", "k")
        cf = self.d.wait_done(cf["id"])
        cg = self.d.wait_done(cg["id"])
        first, rest = cf["result"]["stdout"].split("\n", 1)
        self.assertEqual(first.split()[:2], [f["id"], "cancelled"])
        self.assertEqual(json.loads(rest)["state"], "cancelled")
        first, rest = cg["result"]["stdout"].split("\n", 1)
        self.assertEqual(first.split()[:2], [g["id"], "finished"])
        self.assertEqual(json.loads(rest)["exception"]["type"], "KeyError")

    def test_callback_on_done_future_is_scheduled_soon(self):
        f = self.new()
        self.set_result(f["id"], 1)
        log = self.d.path("cb-soon.log")
        c = self.add_callback(f["id"], sh(APPEND), args=["callback", log])
        s = self.d.schedule({"soon": True, "args": ["soon", log],
                             "command": sh(APPEND)})
        c = self.d.wait_done(c["id"], timeout=5)
        s = self.d.wait_done(s["id"], timeout=5)
        self.assertEqual(c["state"], "finished")
        with open(log) as fh:
            self.assertEqual(fh.read().split(), ["callback", "soon"])
        self.assertLessEqual(c["started"], s["started"])

    def test_callbacks_queue_as_soon_calls_when_the_future_is_done(self):
        # One command slot, held by a blocker: a soon call accepted before
        # the future is done starts before its callback, one accepted after
        # starts after it (asyncio: the callback is call_soon'ed at done).
        log = self.d.path("cb-queue.log")
        release = self.d.path("cb-release")
        f = self.new()
        cb = self.add_callback(f["id"], sh(APPEND), args=["callback", log])
        blocker = self.d.schedule({"soon": True,
                                   "command": hold_until(release, timeout=20)})
        self.d.wait_until(
            lambda: self.d.call(blocker["id"])["phase"] == "running",
            what="the blocker to run")
        s1 = self.d.schedule({"soon": True, "args": ["before", log],
                              "command": sh(APPEND)})
        self.set_result(f["id"], 1)
        s2 = self.d.schedule({"soon": True, "args": ["after", log],
                              "command": sh(APPEND)})
        open(release, "w").close()
        for c in (blocker, s1, cb, s2):
            self.d.wait_done(c["id"])
        with open(log) as fh:
            self.assertEqual(fh.read().split(), ["before", "callback",
                                                 "after"])

    def test_remove_callback(self):
        f = self.new()
        flag = self.d.path("removed-ran")
        gone = self.add_callback(f["id"], sh('touch "$1"', flag))
        kept = self.add_callback(f["id"], TRUE)
        r = self.d.request("DELETE", "/v1/futures/%s/callbacks/%s"
                           % (f["id"], gone["id"]))
        self.assertEqual((r.status, r.body), (200, {"removed": 1}))
        self.set_result(f["id"], 1)
        kept = self.d.wait_done(kept["id"])
        # Registered after the removed one, so it would have run first.
        self.assertEqual(kept["state"], "finished")
        self.assertFalse(os.path.exists(flag), "a removed callback ran")
        r = self.d.request("DELETE", "/v1/futures/%s/callbacks/%s"
                           % (f["id"], kept["id"]))
        self.assertEqual((r.status, r.body), (200, {"removed": 0}))

    def test_cancel_a_waiting_callback(self):
        f = self.new()
        flag = self.d.path("cancelled-callback-ran")
        cb = self.add_callback(f["id"], sh('touch "$1"', flag))
        later = self.add_callback(f["id"], TRUE)
        waiting = self.d.call_ids("phase=waiting")
        self.assertIn(cb["id"], waiting)
        r = self.d.request("DELETE", "/v1/calls/" + cb["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        self.assertEqual(self.d.call(cb["id"])["state"], "cancelled")
        self.assertNotIn(cb["id"], self.d.call_ids("phase=waiting"))
        self.set_result(f["id"], 1)
        self.d.wait_done(later["id"])
        self.assertFalse(os.path.exists(flag), "a cancelled callback ran")
        self.assertEqual(self.d.call(cb["id"])["state"], "cancelled")

    def test_callback_on_a_cancelled_call(self):
        c = self.d.schedule({"after": 3600, "command": TRUE})
        cb = self.add_callback(c["id"], sh(SHOW))
        self.assertEqual(self.d.request("DELETE", "/v1/calls/" +
                                        c["id"]).body, {"cancelled": True})
        cb = self.d.wait_done(cb["id"])
        first, rest = cb["result"]["stdout"].split("\n", 1)
        self.assertEqual(first.split()[:2], [c["id"], "cancelled"])
        self.assertEqual(json.loads(rest)["state"], "cancelled")

    def test_bad_callbacks(self):
        f = self.new()
        for body in [{"soon": True, "command": TRUE},
                     {"after": 1, "command": TRUE},
                     {}, {"command": {"argv": []}}]:
            r = self.post("/v1/futures/%s/callbacks" % f["id"], body)
            with self.subTest(body=body):
                assert_problem(self, r, 400, "BadRequest")
        r = self.d.request("POST", "/v1/calls", body={
            "on_done": "f_0123456789abcdef", "command": TRUE})
        self.assertIn(r.status, (400, 404))
        assert_problem(self, r, r.status)

    def test_call_callback_chains(self):
        c = self.d.schedule({"after": 0.2, "command": {
            "argv": ["echo", "hi"]}})
        cb1 = self.add_callback(c["id"], sh(SHOW))
        cb2 = self.d.schedule({"on_done": cb1["id"], "command": sh(SHOW)})
        cb2 = self.d.wait_done(cb2["id"])
        cb1 = self.d.call(cb1["id"])
        c = self.d.call(c["id"])
        first, rest = cb1["result"]["stdout"].split("\n", 1)
        self.assertEqual(first, "%s finished %s" % (c["id"], cb1["id"]))
        seen = json.loads(rest)
        self.assertEqual(seen["id"], c["id"])
        self.assertEqual(seen["result"]["stdout"], "hi\n")
        first, rest = cb2["result"]["stdout"].split("\n", 1)
        self.assertEqual(first, "%s finished %s" % (cb1["id"], cb2["id"]))
        self.assertEqual(json.loads(rest)["result"]["stdout"],
                         cb1["result"]["stdout"])
        self.assertLessEqual(c["finished"], cb1["started"])
        self.assertLessEqual(cb1["finished"], cb2["started"])

    def test_callback_on_failed_call(self):
        c = self.d.schedule({"soon": True, "command": sh("exit 4")})
        cb = self.add_callback(c["id"], sh(SHOW))
        cb = self.d.wait_done(cb["id"])
        first, rest = cb["result"]["stdout"].split("\n", 1)
        self.assertEqual(first.split()[:2], [c["id"], "finished"])
        e = json.loads(rest)["exception"]
        self.assertEqual((e["type"], e["exit_code"]), ("CommandFailed", 4))


class WaitGatherTest(FuturesBase):

    def assertWaitReply(self, r, done, pending):
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sorted(r.body["done"]), sorted(done), r.body)
        self.assertEqual(sorted(r.body["pending"]), sorted(pending), r.body)

    def wait(self, body):
        return self.d.begin("POST", "/v1/wait", body)

    def gather(self, body):
        return self.d.begin("POST", "/v1/gather", body)

    # -- POST /v1/wait -----------------------------------------------------------

    def test_wait_first_completed(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        with self.wait({"futures": [f1, f2], "timeout": 4,
                        "return_when": "FIRST_COMPLETED"}) as p:
            self.assertFalse(p.replied(0.2), "replied with nothing done")
            self.set_result(f2, 2)
            r = p.response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sorted(r.body["done"]), [f2])
        self.assertEqual(sorted(r.body["pending"]), [f1])
        self.assertLess(p.elapsed, 3)

    def test_wait_cancelled_counts_as_done(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        with self.wait({"futures": [f1, f2], "timeout": 4,
                        "return_when": "FIRST_COMPLETED"}) as p:
            self.cancel(f1)
            r = p.response()
        self.assertWaitReply(r, [f1], [f2])

    def test_wait_timeout(self):
        f1 = self.new()["id"]
        with self.wait({"futures": [f1], "timeout": 0.3,
                        "return_when": "FIRST_COMPLETED"}) as p:
            r = p.response()
        self.assertEqual(r.status, 200, r.body)
        self.assertWaitReply(r, [], [f1])
        self.assertGreaterEqual(p.elapsed, 0.3 - 0.02)
        self.assertLess(p.elapsed, 2)

    def test_wait_all_completed_is_the_default(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        with self.wait({"futures": [f1, f2], "timeout": 4}) as p:
            self.set_result(f1, 1)
            self.assertFalse(p.replied(0.2), "replied with one pending")
            self.set_exception(f2)
            r = p.response()
        self.assertEqual(sorted(r.body["done"]), sorted([f1, f2]))
        self.assertEqual(r.body["pending"], [])

    def test_wait_all_completed_timeout(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        self.set_result(f1, 1)
        with self.wait({"futures": [f1, f2], "timeout": 0.3,
                        "return_when": "ALL_COMPLETED"}) as p:
            r = p.response()
        self.assertWaitReply(r, [f1], [f2])

    def test_wait_first_exception(self):
        f1, f2, f3 = self.new()["id"], self.new()["id"], self.new()["id"]
        self.set_result(f1, 1)
        with self.wait({"futures": [f1, f2, f3], "timeout": 4,
                        "return_when": "FIRST_EXCEPTION"}) as p:
            self.assertFalse(p.replied(0.2), "replied with no exception")
            self.set_exception(f3)
            r = p.response()
        self.assertEqual(sorted(r.body["done"]), sorted([f1, f3]))
        self.assertEqual(r.body["pending"], [f2])

    def test_wait_first_exception_without_one_waits_for_all(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        with self.wait({"futures": [f1, f2], "timeout": 4,
                        "return_when": "FIRST_EXCEPTION"}) as p:
            self.set_result(f1, 1)
            self.assertFalse(p.replied(0.2), "replied with one pending")
            self.set_result(f2, 2)
            r = p.response()
        self.assertEqual(sorted(r.body["done"]), sorted([f1, f2]))
        self.assertEqual(r.body["pending"], [])

    def test_wait_on_calls(self):
        c = self.d.schedule({"after": 0.2, "command": TRUE})["id"]
        f = self.new()["id"]
        with self.wait({"futures": [f, c], "timeout": 4,
                        "return_when": "FIRST_COMPLETED"}) as p:
            r = p.response()
        self.assertWaitReply(r, [c], [f])

    def test_wait_already_done(self):
        f = self.new()["id"]
        self.set_result(f, 1)
        with self.wait({"futures": [f], "timeout": 4}) as p:
            r = p.response()
        self.assertWaitReply(r, [f], [])
        self.assertLess(p.elapsed, 1)

    def test_bad_wait(self):
        f = self.new()["id"]
        for body in [{"futures": [f], "return_when": "SOMETIMES"},
                     {"futures": []}, {"futures": f},
                     {"futures": [f], "timeout": -1},
                     {"futures": [f], "bogus": 1}, {}]:
            r = self.post("/v1/wait", body)
            with self.subTest(body=body):
                assert_problem(self, r, 400, "BadRequest")
        r = self.post("/v1/wait", {"futures": [f, "f_0123456789abcdef"]})
        self.assertIn(r.status, (400, 404))
        assert_problem(self, r, r.status)

    # -- POST /v1/gather ---------------------------------------------------------

    def test_gather_in_given_order(self):
        ids = [self.new()["id"] for _ in range(3)]
        values = [1, "two", {"three": [3]}]
        with self.gather({"futures": ids, "timeout": 4}) as p:
            for i in (2, 1):
                self.set_result(ids[i], values[i])
            self.assertFalse(p.replied(0.2), "replied with one pending")
            self.set_result(ids[0], values[0])
            r = p.response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["results"], values)

    def test_gather_first_exception_ends_it(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        with self.gather({"futures": [f1, f2], "timeout": 4}) as p:
            self.set_exception(f2, "ValueError", "boom")
            r = p.response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["future"], f2)
        self.assertEqual(r.body["exception"]["type"], "ValueError")
        self.assertEqual(r.body["exception"]["message"], "boom")
        self.assertLess(p.elapsed, 2)
        self.assertEqual(self.future(f1)["state"], "pending")

    def test_gather_return_exceptions(self):
        f1, f2, f3 = self.new()["id"], self.new()["id"], self.new()["id"]
        with self.gather({"futures": [f1, f2, f3], "timeout": 4,
                          "return_exceptions": True}) as p:
            self.set_exception(f2, "ValueError", "boom")
            self.assertFalse(p.replied(0.2), "replied with two pending")
            self.cancel(f3)
            self.set_result(f1, None)
            r = p.response()
        self.assertEqual(r.status, 200, r.body)
        res = r.body["results"]
        self.assertEqual(len(res), 3)
        self.assertIsNone(res[0])
        self.assertEqual((res[1]["type"], res[1]["message"]),
                         ("ValueError", "boom"))
        self.assertEqual(res[2]["type"], "CancelledError")

    def test_gather_timeout_says_what_is_pending(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        self.set_result(f1, 1)
        with self.gather({"futures": [f1, f2], "timeout": 0.3}) as p:
            r = p.response()
        self.assertGreaterEqual(p.elapsed, 0.3 - 0.02)
        self.assertLess(p.elapsed, 2)
        self.assertIsInstance(r.body, dict, r.body)
        self.assertIn(f2, json.dumps(r.body))
        if "pending" in r.body:
            self.assertEqual(r.body["pending"], [f2])

    def test_gather_calls(self):
        a = self.d.schedule({"soon": True, "command": {
            "argv": ["echo", "a"]}})["id"]
        b = self.d.schedule({"after": 0.1, "command": {
            "argv": ["echo", "b"]}})["id"]
        with self.gather({"futures": [b, a], "timeout": 4}) as p:
            r = p.response()
        res = r.body["results"]
        self.assertEqual([x["stdout"] for x in res], ["b\n", "a\n"])
        self.assertEqual([x["exit_code"] for x in res], [0, 0])

    def test_bad_gather(self):
        f = self.new()["id"]
        for body in [{"futures": f}, {"futures": [f], "timeout": "x"},
                     {"futures": [f], "return_exceptions": "yes"},
                     {"futures": [f], "bogus": 1}]:
            r = self.post("/v1/gather", body)
            with self.subTest(body=body):
                assert_problem(self, r, 400, "BadRequest")

    # -- clients that leave --------------------------------------------------------

    def test_waiters_that_hang_up(self):
        f1, f2 = self.new()["id"], self.new()["id"]
        for _ in range(20):
            for path, body in [
                ("/v1/wait", {"futures": [f1, f2], "timeout": 4}),
                ("/v1/gather", {"futures": [f1, f2], "timeout": 4}),
                ("/v1/futures/%s?wait=4" % f1, None),
            ]:
                self.d.begin("GET" if body is None else "POST", path,
                             body).close()
        self.set_result(f1, 1)
        self.set_exception(f2)
        self.d.check_alive()
        with self.wait({"futures": [f1, f2], "timeout": 4}) as p:
            r = p.response()
        self.assertEqual(sorted(r.body["done"]), sorted([f1, f2]))


class PendingFutureCapTest(FuturesBase):
    opts = {"max_pending": "2"}

    def test_pending_future_cap(self):
        a, b = self.new()["id"], self.new()["id"]
        r = self.post("/v1/futures")
        self.assertIn(r.status, (429, 503), r.body)
        assert_problem(self, r, r.status)
        self.assertIsNotNone(r.headers.get("retry-after"), "no Retry-After")
        self.set_result(a, 1)
        c = self.new()["id"]
        self.cancel(b)
        self.cancel(c)


class RetentionTest(FuturesBase):
    opts = {"retention": "1s"}

    def test_done_objects_are_forgotten(self):
        keep = self.new()["id"]
        f = self.new()["id"]
        self.set_result(f, 1)
        c = self.d.schedule({"soon": True, "command": TRUE})["id"]
        self.d.wait_done(c)
        self.assertEqual(self.d.request("GET", "/v1/futures/" + f).status,
                         200)
        t0 = time.monotonic()
        for oid, route in [(f, "/v1/futures/"), (c, "/v1/calls/")]:
            self.d.wait_until(
                lambda: self.d.request("GET", route + oid).status == 404,
                timeout=6, what="%s to be forgotten" % oid)
        self.assertGreaterEqual(time.monotonic() - t0, 0.5)
        self.assertNotIn(c, self.d.call_ids())
        r = self.post("/v1/futures/%s/result" % f, {"result": 2})
        assert_problem(self, r, 404, "NotFound")
        # Pending objects are not subject to retention.
        self.assertEqual(self.future(keep)["state"], "pending")


if __name__ == "__main__":
    unittest.main()
