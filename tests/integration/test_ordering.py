"""
API.md §3, ordering guarantees 1-3 (4, done-callbacks, is in
test_futures_api.py). With max_commands=1 processes start one at a time, so
the order in which they append to a file is the order they were started.
"""
import os
import random
import unittest

from harness import DaemonTestCase, hold_until, sh

APPEND = 'echo "$1" >> "$2"'


class OrderingTest(DaemonTestCase):
    opts = {"max_commands": "1"}

    def post_all(self, bodies):
        """POST the bodies one after the other on one connection; return
        the call objects in acceptance order."""
        out = []
        with self.d.session() as s:
            for b in bodies:
                r = s.request("POST", "/v1/calls", body=b)
                self.assertEqual(r.status, 201, r.body)
                out.append(r.body)
        return out

    def finish(self, calls, log, timeout=20):
        done = [self.d.wait_done(c["id"], timeout=timeout) for c in calls]
        for c in done:
            self.assertEqual(c["state"], "finished", c)
        with open(log) as f:
            lines = f.read().split()
        return done, lines

    def assertStartedInOrder(self, done):
        started = [c["started"] for c in done]
        for i in range(1, len(started)):
            self.assertLessEqual(started[i - 1], started[i],
                                 "call %d started before call %d"
                                 % (i, i - 1))

    def test_soon_calls_start_in_acceptance_order(self):
        log = self.d.path("soon.log")
        calls = self.post_all({"soon": True, "args": [i, log],
                               "command": sh(APPEND)} for i in range(100))
        done, lines = self.finish(calls, log)
        self.assertEqual(lines, [str(i) for i in range(100)])
        self.assertStartedInOrder(done)

    def test_equal_due_times_start_in_acceptance_order(self):
        log = self.d.path("equal.log")
        at = round(self.d.loop_time() + 0.5, 6)
        calls = self.post_all({"at": at, "args": [i, log],
                               "command": sh(APPEND)} for i in range(30))
        for c in calls:
            self.assertAlmostEqual(c["due"], at, delta=1e-6)
        done, lines = self.finish(calls, log)
        self.assertEqual(lines, [str(i) for i in range(30)])
        self.assertStartedInOrder(done)
        for c in done:
            self.assertGreaterEqual(c["started"], at - 1e-6)

    def test_timed_calls_start_in_due_order(self):
        log = self.d.path("due.log")
        t0 = self.d.loop_time() + 0.5
        # Twenty calls, due in pairs (equal times), accepted shuffled.
        dues = [round(t0 + 0.03 * (j // 2), 6) for j in range(20)]
        order = list(range(20))
        random.Random(7).shuffle(order)
        bodies = [{"at": dues[j], "args": [j, log], "command": sh(APPEND)}
                  for j in order]
        calls = self.post_all(bodies)
        # Expected: by due time, ties in acceptance order.
        expected = sorted(range(20),
                          key=lambda k: (dues[order[k]], k))
        done, lines = self.finish(calls, log)
        self.assertEqual(lines, [str(order[k]) for k in expected])
        self.assertStartedInOrder([done[k] for k in expected])

    def test_after_and_at_share_one_timeline(self):
        log = self.d.path("mixed.log")
        now = self.d.loop_time()
        bodies = [
            {"after": 0.6, "args": ["a0.6", log], "command": sh(APPEND)},
            {"at": now + 0.3, "args": ["t0.3", log], "command": sh(APPEND)},
            {"after": 0.45, "args": ["a0.45", log], "command": sh(APPEND)},
            {"at": now + 0.15, "args": ["t0.15", log], "command": sh(APPEND)},
        ]
        calls = self.post_all(bodies)
        done, lines = self.finish(calls, log)
        self.assertEqual(lines, ["t0.15", "t0.3", "a0.45", "a0.6"])

    def test_soon_accepted_before_timed_call_falls_due_starts_first(self):
        # A blocker holds the only command slot, so both calls queue up:
        # the timed call falls due while the soon call (accepted earlier,
        # before that due time) is still waiting. The soon call must start
        # first.
        log = self.d.path("soon-vs-timed.log")
        release = self.d.path("release")
        blocker = self.d.schedule({"soon": True,
                                   "command": hold_until(release, timeout=20)})
        self.d.wait_until(
            lambda: self.d.call(blocker["id"])["phase"] == "running",
            what="the blocker to run")
        now = self.d.loop_time()
        timed = self.post_all([{"at": now + 0.2, "args": ["timed", log],
                                "command": sh(APPEND)}])[0]
        soons = self.post_all({"soon": True, "args": ["soon%d" % i, log],
                               "command": sh(APPEND)} for i in range(3))
        self.assertLess(soons[-1]["created"], timed["due"],
                        "test too slow: the soon calls were accepted after "
                        "the timed call fell due")
        self.d.wait_until(lambda: self.d.loop_time() > timed["due"] + 0.05,
                          what="the timed call to fall due")
        open(release, "w").close()
        done, lines = self.finish([blocker, timed] + soons, log)
        self.assertEqual(lines, ["soon0", "soon1", "soon2", "timed"])
        t = done[1]["started"]
        for c in done[2:]:
            self.assertLessEqual(c["started"], t)


if __name__ == "__main__":
    unittest.main()
