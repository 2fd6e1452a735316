"""
API.md §4, the part a call needs: GET /v1/futures/{id} on a call and the
?wait=S long-poll (`await call`). The rest of §4 is in test_futures_api.py.
"""
import select
import time
import unittest

from harness import DaemonTestCase, assert_problem, read_response

TRUE = {"argv": ["true"]}


class FutureWaitTest(DaemonTestCase):
    opts = {"max_wait": "1s"}

    def timed_get(self, path, **kw):
        t0 = time.monotonic()
        r = self.d.request("GET", path, **kw)
        return r, time.monotonic() - t0

    def pending_call(self):
        return self.d.schedule({"after": 3600, "command": TRUE})

    def tearDown(self):
        for c in self.d.list_calls("state=pending"):
            self.d.request("DELETE", "/v1/calls/" + c["id"])
        super().tearDown()

    def test_call_id_on_futures_route(self):
        c = self.pending_call()
        r = self.d.request("GET", "/v1/futures/" + c["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["id"], c["id"])
        self.assertEqual(r.body["state"], "pending")
        done = self.d.schedule({"soon": True, "command": {
            "argv": ["echo", "x"]}})
        done = self.d.wait_done(done["id"])
        f = self.d.get_json("/v1/futures/" + done["id"])
        self.assertEqual(f["state"], "finished")
        self.assertEqual(f["result"], done["result"])

    def test_wait_returns_when_done(self):
        c = self.d.schedule({"after": 0.3, "command": TRUE})
        r, took = self.timed_get("/v1/futures/%s?wait=0.9" % c["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["state"], "finished")
        self.assertEqual(r.body["result"]["exit_code"], 0)
        self.assertGreaterEqual(took, 0.2)
        self.assertLess(took, 0.85, "the reply waited out its time")

    def test_wait_on_done_returns_at_once(self):
        c = self.d.schedule({"soon": True, "command": TRUE})
        self.d.wait_done(c["id"])
        r, took = self.timed_get("/v1/futures/%s?wait=0.9" % c["id"])
        self.assertEqual(r.body["state"], "finished")
        self.assertLess(took, 0.5)

    def test_wait_times_out_pending(self):
        c = self.pending_call()
        r, took = self.timed_get("/v1/futures/%s?wait=0.3" % c["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["state"], "pending")
        self.assertGreaterEqual(took, 0.3 - 0.02)
        self.assertLess(took, 0.9)

    def test_wait_zero(self):
        c = self.pending_call()
        r, took = self.timed_get("/v1/futures/%s?wait=0" % c["id"])
        self.assertEqual(r.body["state"], "pending")
        self.assertLess(took, 0.5)

    def test_wait_capped_at_max_wait(self):
        c = self.pending_call()
        r, took = self.timed_get("/v1/futures/%s?wait=30" % c["id"])
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["state"], "pending")
        self.assertGreaterEqual(took, 1.0 - 0.05)
        self.assertLess(took, 3.0, "?wait was not capped at max_wait")

    def test_bad_wait(self):
        c = self.pending_call()
        for w in ["-1", "abc", "nan", "5x"]:
            r = self.d.request("GET", "/v1/futures/%s?wait=%s" % (c["id"], w))
            with self.subTest(wait=w):
                assert_problem(self, r, 400, "BadRequest")

    def test_cancel_wakes_waiter(self):
        c = self.pending_call()
        with self.d.connect() as s:
            t0 = time.monotonic()
            s.sendall(self.d.http_bytes(
                "GET", "/v1/futures/%s?wait=0.9" % c["id"]))
            r = self.d.request("DELETE", "/v1/calls/" + c["id"])
            self.assertEqual(r.body, {"cancelled": True})
            got = read_response(s)
            took = time.monotonic() - t0
        self.assertIsNotNone(got)
        self.assertEqual(got.status, 200)
        self.assertEqual(got.body["state"], "cancelled")
        self.assertLess(took, 0.7)

    def test_many_waiters(self):
        c = self.d.schedule({"after": 0.4, "command": TRUE})
        socks = []
        try:
            for _ in range(250):
                s = self.d.connect()
                s.sendall(self.d.http_bytes(
                    "GET", "/v1/futures/%s?wait=0.95" % c["id"]))
                socks.append(s)
            states = []
            for s in socks:
                r = read_response(s)
                states.append(r.body["state"] if r else None)
        finally:
            for s in socks:
                s.close()
        self.assertEqual(states, ["finished"] * 250)

    def test_waiters_that_hang_up(self):
        c = self.d.schedule({"after": 0.3, "command": TRUE})
        for i in range(50):
            s = self.d.connect()
            s.sendall(self.d.http_bytes(
                "GET", "/v1/futures/%s?wait=0.9" % c["id"]))
            s.close()
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["state"], "finished")
        # ...and a waiter that times out after its client left.
        p = self.pending_call()
        for i in range(20):
            s = self.d.connect()
            s.sendall(self.d.http_bytes(
                "GET", "/v1/futures/%s?wait=0.2" % p["id"]))
            s.close()
        r, took = self.timed_get("/v1/futures/%s?wait=0.5" % p["id"])
        self.assertEqual(r.body["state"], "pending")
        self.d.check_alive()
        self.assertEqual(self.d.request("GET", "/healthz").status, 200)

    def test_long_polls_on_a_kept_connection(self):
        c = self.pending_call()
        with self.d.session() as s:
            for _ in range(3):
                r = s.request("GET", "/v1/futures/%s?wait=0.1" % c["id"])
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body["state"], "pending")
                r = s.request("GET", "/v1/time")
                self.assertEqual(r.status, 200)
            self.assertEqual(s.connects, 1, "keep-alive connection dropped")


class WaiterCapTest(DaemonTestCase):
    opts = {"max_waiters": "3", "max_wait": "10s"}

    def test_waiter_cap(self):
        c = self.d.schedule({"after": 3600, "command": TRUE})
        path = "/v1/futures/%s?wait=8" % c["id"]
        held = [self.d.begin("GET", path) for _ in range(3)]
        try:
            for p in held:
                self.assertFalse(p.replied(0.05))
            r = self.d.request("GET", path)
            self.assertIn(r.status, (429, 503), r.body)
            assert_problem(self, r, r.status)
            self.assertIsNotNone(r.headers.get("retry-after"),
                                 "no Retry-After")
            # Not waiting is still fine.
            r = self.d.request("GET", "/v1/futures/" + c["id"])
            self.assertEqual(r.status, 200)
            self.assertEqual(self.d.request("DELETE", "/v1/calls/" +
                                            c["id"]).status, 200)
            for p in held:
                r = p.response()
                self.assertEqual(r.body["state"], "cancelled")
        finally:
            for p in held:
                p.close()
        c = self.d.schedule({"after": 0.1, "command": TRUE})
        r = self.d.request("GET", "/v1/futures/%s?wait=5" % c["id"])
        self.assertEqual(r.body["state"], "finished")

    def test_waiters_that_hang_up_free_their_slot(self):
        c = self.d.schedule({"after": 3600, "command": TRUE})
        path = "/v1/futures/%s?wait=8" % c["id"]
        for _ in range(3):
            with self.d.begin("GET", path) as p:
                self.assertFalse(p.replied(0.05))
        # All three clients left: their slots must come back (bounded),
        # long before the 8 s wait would have ended.
        self.assert_slots_come_back(path, 3)
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def test_hang_up_on_a_connection_held_before(self):
        # One keep-alive connection is held and answered twice (its hang-up
        # watch stays registered in between), then held again and closed
        # by the client: its slot must still come back at once.
        c = self.d.schedule({"after": 3600, "command": TRUE})
        keep = {"Connection": "keep-alive"}
        s = self.d.connect()
        for _ in range(2):
            s.sendall(self.d.http_bytes(
                "GET", "/v1/futures/%s?wait=0.05" % c["id"], headers=keep))
            r = read_response(s)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["state"], "pending")
        s.sendall(self.d.http_bytes(
            "GET", "/v1/futures/%s?wait=8" % c["id"], headers=keep))
        readable, _, _ = select.select([s], [], [], 0.1)
        self.assertEqual(readable, [], "the third long-poll was not held")
        s.close()
        self.assert_slots_come_back("/v1/futures/%s?wait=8" % c["id"], 3)
        self.d.request("DELETE", "/v1/calls/" + c["id"])

    def assert_slots_come_back(self, path, n):
        """Hold n waiters on path (max_waiters = n), each within 5 s."""
        t0 = time.monotonic()
        held = []

        def slot_free():
            p = self.d.begin("GET", path)
            if p.replied(0.05):
                r = p.response()
                self.assertIn(r.status, (429, 503), r.body)
                return False
            held.append(p)
            return True
        try:
            for _ in range(n):
                self.d.wait_until(slot_free, timeout=5, interval=0.05,
                                  what="a hung-up waiter to be cleaned up")
            self.assertLess(time.monotonic() - t0, 5)
        finally:
            for p in held:
                p.close()


if __name__ == "__main__":
    unittest.main()
