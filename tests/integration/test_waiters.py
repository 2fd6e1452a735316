"""Held requests (long-polls, wait, gather) whose clients hang up are
released at once, not when their wait runs out: with max_waiters = 5, five
waiters that leave must free their slots well before their 60 s wait ends."""

import unittest

from harness import Daemon


class HangUpTest(unittest.TestCase):
    def test_hung_up_waiters_free_their_slots(self):
        with Daemon(opts={"max_waiters": "5", "max_wait": "60s"}) as d:
            f = d.request("POST", "/v1/futures")[2]["id"]
            held = [d.begin("GET", "/v1/futures/%s?wait=60" % f) for _ in range(4)]
            held.append(d.begin("POST", "/v1/wait", {"futures": [f], "timeout": 60}))
            # All five slots are taken: the next waiter is refused.
            def refused():
                st, hdrs, body = d.request("GET", "/v1/futures/%s?wait=60" % f)
                return st == 429 and "retry-after" in hdrs
            d.wait_until(refused, timeout=10, what="the sixth waiter refused")
            for p in held:
                p.close()
            # Their slots come back long before 60 s.
            def accepted():
                p = d.begin("GET", "/v1/futures/%s?wait=0.2" % f)
                r = p.response()
                p.close()
                return r is not None and r.status == 200
            d.wait_until(accepted, timeout=10, what="a slot freed by a hang-up")
            # And the future still settles and wakes a fresh waiter.
            p = d.begin("GET", "/v1/futures/%s?wait=30" % f)
            st = d.request("POST", "/v1/futures/%s/result" % f, {"result": 7})[0]
            self.assertEqual(st, 200)
            r = p.response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["result"], 7)


if __name__ == "__main__":
    unittest.main()
