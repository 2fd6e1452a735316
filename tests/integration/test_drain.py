"""SIGTERM drains: loopd stops accepting, answers held requests at once,
starts no new calls (they stay stored and run at the next start), lets
running commands finish within drain_grace, and exits 0; what outlives the
grace is stopped and settled at the next start."""

import collections
import os
import signal
import time
import unittest

from harness import Daemon, PostStream, hold_until, sh


class DrainTest(unittest.TestCase):

    def test_running_command_finishes_and_held_requests_answer(self):
        with Daemon(opts={"drain_grace": "20s"}) as d:
            flag = d.path("go")
            # Runs until the test says so; then prints and exits 0.
            running = d.schedule({"soon": True,
                                  "command": hold_until(flag, "echo finished")})
            d.wait_until(lambda: d.call(running["id"])["phase"] == "running",
                         what="the command to start")
            later = d.schedule({"after": 0.3, "command": sh("echo ran")})
            f = d.request("POST", "/v1/futures").body["id"]
            poll = d.begin("GET", "/v1/futures/%s?wait=60" % f)
            d.signal(signal.SIGTERM)
            # The long-poll is answered at once, with the future as it is.
            r = poll.response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["state"], "pending")
            self.assertLess(poll.elapsed, 5)
            # Still draining: the running command holds the exit, and the
            # call that falls due meanwhile does not start.
            d.wait_until(lambda: time.time() > later["due_unix"] + 0.2, timeout=5,
                         what="`later` to fall due")
            self.assertTrue(d.alive(), "exited before its command finished")
            open(flag, "w").close()
            self.assertEqual(d.wait_exit(15), 0, d.log_tail())
            d.start()
            done = d.call(running["id"])
            self.assertEqual(done["state"], "finished", done)
            self.assertEqual(done["result"]["stdout"], "finished\n")
            # `later` was kept and runs now, late.
            got = d.wait_done(later["id"])
            self.assertEqual(got["result"]["stdout"], "ran\n")
            self.assertTrue(got.get("late"), got)

    def test_grace_over_stops_what_runs(self):
        with Daemon(opts={"drain_grace": "0.3s", "kill_grace": "0.2s"}) as d:
            c = d.schedule({"soon": True, "command": sh("sleep 60")})
            d.wait_until(lambda: d.call(c["id"])["phase"] == "running",
                         what="the command to start")
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(15), 0, d.log_tail())
            self.assertLess(time.monotonic() - t0, 5)
            d.start()
            got = d.wait_done(c["id"])
            self.assertEqual(got["exception"]["type"], "Interrupted", got)

    def test_second_signal_stops_at_once(self):
        with Daemon(opts={"drain_grace": "60s", "kill_grace": "0.2s"}) as d:
            c = d.schedule({"soon": True, "command": sh("sleep 60")})
            d.wait_until(lambda: d.call(c["id"])["phase"] == "running",
                         what="the command to start")
            d.signal(signal.SIGTERM)
            d.wait_until(lambda: "draining" in d.log(), what="the drain to begin")
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(15), 0, d.log_tail())
            self.assertLess(time.monotonic() - t0, 5)

    def test_no_new_connections_while_draining(self):
        with Daemon(opts={"drain_grace": "20s"}) as d:
            flag = d.path("go")
            d.schedule({"soon": True, "command": hold_until(flag)})
            with d.session() as s:
                self.assertEqual(s.request("GET", "/v1/time").status, 200)
                d.signal(signal.SIGTERM)
                d.wait_until(lambda: "draining" in d.log(), what="the drain to begin")
                # A request on a connection opened before: 503, then closed.
                r = s.request("GET", "/v1/time")
                self.assertEqual(r.status, 503)
            # A new connection is not accepted any more.
            def refused():
                try:
                    c = d.connect(timeout=1)
                except OSError:
                    return True
                c.close()
                return False
            d.wait_until(refused, timeout=5, what="new connections refused")
            open(flag, "w").close()
            self.assertEqual(d.wait_exit(15), 0, d.log_tail())

    def test_sigterm_under_load_loses_nothing(self):
        # Eight clients post as fast as they can; SIGTERM comes mid-stream.
        # Every 201 must be there after the restart and run exactly once.
        with Daemon() as d:
            log = d.path("ran.log")
            cmd = sh('echo "$2" >> "$1"', log)
            stream = PostStream(d, 8, lambda tag: {
                "after": 1.5, "name": tag, "args": [tag], "command": cmd}).start()
            d.wait_until(lambda: stream.count() >= 300, timeout=10,
                         what="300 acknowledged calls")
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(15), 0, d.log_tail())
            self.assertTrue(stream.stop(), "a client thread hung")
            acked = stream.acked
            # Refusals while draining are 503s (or a closed connection).
            self.assertEqual([o for o in stream.other if o[1] != 503], [])
            d.start()
            ids = set(d.call_ids())
            lost = [t for t, i in acked.items() if i not in ids]
            self.assertEqual(lost, [], "acknowledged calls lost")
            def all_ran():
                try:
                    with open(log) as f:
                        return len(f.read().split()) >= len(acked)
                except FileNotFoundError:
                    return False
            d.wait_until(all_ran, timeout=30, what="every call to run")
            with open(log) as f:
                ran = collections.Counter(f.read().split())
            self.assertEqual([t for t, n in ran.items() if n > 1], [])
            for tag in acked:
                self.assertEqual(ran[tag], 1, tag)


if __name__ == "__main__":
    unittest.main()
