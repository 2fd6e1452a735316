"""POST /v1/wait and /v1/gather on thousands of ids (issue 13): the body
is read without a JSON tree and the ids are looked up, their waiters
registered and dropped, a slice a loop turn. What the API promises holds
all the same: an unknown id anywhere is a 404 naming it (and no waiter is
left behind), the deadline counts from the request, futures settled while
the request is being set up are counted, results come in the order given,
a client that hangs up frees everything, and a body of another shape (an
escape in an id) gets the same answer the long way."""

import json
import time

from harness import DaemonTestCase, assert_problem, wait_until

N = 3000			# three slices of lookups, three of waiters


def metric(d, name):
    for line in d.request("GET", "/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class LargeWaitTest(DaemonTestCase):
    opts = {"max_wait": "30s"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with cls.d.session() as s:
            cls.ids = []
            for _ in range(N):
                r = s.request("POST", "/v1/futures")
                assert r.status == 201, r
                cls.ids.append(r.body["id"])

    def fresh(self, n):
        """n new pending futures."""
        out = []
        with self.d.session() as s:
            for _ in range(n):
                r = s.request("POST", "/v1/futures")
                self.assertEqual(r.status, 201, r.body)
                out.append(r.body["id"])
        return out

    def settle(self, ids, value=1):
        with self.d.session() as s:
            for i, fid in enumerate(ids):
                r = s.request("POST", "/v1/futures/%s/result" % fid,
                              {"result": value if value is not None else i})
                self.assertEqual(r.status, 200, r.body)

    def waiters_back_to(self, n):
        wait_until(lambda: metric(self.d, "loopd_waiters") == n, 10,
                   "loopd_waiters = %d" % n)

    def test_unknown_id_is_404_naming_it(self):
        unknown = "f_%016x" % (int(self.ids[-1][2:], 16) + 10 ** 6)
        for at in (0, N // 2, N - 2):
            ids = list(self.ids)
            ids[at] = unknown
            for path in ("/v1/wait", "/v1/gather"):
                r = self.d.request("POST", path, {"futures": ids, "timeout": 5})
                assert_problem(self, r, 404)
                self.assertIn(unknown, r.body["detail"])
        # A future's id given as a call's is unknown too.
        ids = list(self.ids)
        ids[N - 5] = "c_" + ids[N - 5][2:]
        r = self.d.request("POST", "/v1/wait", {"futures": ids, "timeout": 5})
        assert_problem(self, r, 404)
        self.assertIn(ids[N - 5], r.body["detail"])
        self.waiters_back_to(0)

    def test_deadline_from_the_request(self):
        done = self.ids[:60]
        self.settle(done[:10])
        t0 = time.monotonic()
        p = self.d.begin("POST", "/v1/wait", {"futures": self.ids, "timeout": 3.0})
        self.settle(done[10:])		# while it is being set up, or after
        r = p.response()
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["done"], done)
        self.assertEqual(r.body["pending"], self.ids[60:])
        self.assertGreaterEqual(took, 2.9)
        self.assertLess(took, 10.0)
        self.waiters_back_to(0)

    def test_gather_results_in_order(self):
        ids = self.fresh(N)
        p = self.d.begin("POST", "/v1/gather", {"futures": ids, "timeout": 20})
        self.settle(ids, value=None)	# result i for the i-th
        r = p.response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["results"], list(range(N)))
        self.waiters_back_to(0)

    def test_first_completed_and_timeout_zero(self):
        ids = self.fresh(N)
        p = self.d.begin("POST", "/v1/wait",
                         {"futures": ids, "timeout": 20, "return_when": "FIRST_COMPLETED"})
        wait_until(lambda: metric(self.d, "loopd_waiters") == 1, 10, "the wait held")
        self.settle([ids[N - 1]])
        r = p.response()
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.body["done"], [ids[N - 1]])
        self.assertEqual(len(r.body["pending"]), N - 1)
        r = self.d.request("POST", "/v1/wait", {"futures": ids, "timeout": 0})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual((r.body["done"], r.body["pending"]), ([ids[N - 1]], ids[:N - 1]))
        self.waiters_back_to(0)

    def test_hang_up_frees_everything(self):
        ids = self.fresh(N)
        for _ in range(3):
            p = self.d.begin("POST", "/v1/gather", {"futures": ids, "timeout": 20})
            wait_until(lambda: metric(self.d, "loopd_waiters") == 1, 10, "the gather held")
            p.close()
            self.waiters_back_to(0)
        # Hung up while its ids are still being looked up.
        for _ in range(5):
            self.d.begin("POST", "/v1/wait", {"futures": ids, "timeout": 20}).close()
        self.waiters_back_to(0)
        self.settle(ids)
        self.d.check_alive()

    def test_a_body_of_another_shape(self):
        # An escape in an id: jansson reads it; the answer is the same.
        ids = self.ids[:N]
        text = json.dumps({"futures": ids, "timeout": 0})
        text = text.replace('"%s"' % ids[7], '"%s\\u005f%s"' % (ids[7][0], ids[7][2:]))
        r = self.d.request("POST", "/v1/wait", raw=text.encode(),
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(sorted(r.body["done"] + r.body["pending"]), sorted(ids))
        # Over 10,000 ids: refused, whichever way it is read.
        r = self.d.request("POST", "/v1/wait", {"futures": ids * 4})
        assert_problem(self, r, 400)
        self.assertIn("at most 10000", r.body["detail"])
