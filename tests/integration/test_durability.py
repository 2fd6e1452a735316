"""
API.md §6 and §2: what was acknowledged survives kill -9 and a restart;
calls that fell due while loopd was down run at start-up; loop time never
goes backwards.
"""
import os
import time
import unittest

from harness import Daemon, sh

TRUE = {"argv": ["true"]}


class DurabilityTest(unittest.TestCase):

    def test_acknowledged_state_survives_kill_9(self):
        with Daemon() as d:
            flag = d.path("callback-ran")
            pend = d.schedule({"after": 3600, "command": TRUE, "name": "p",
                               "args": [1, {"a": "b"}]})
            done = d.schedule({"soon": True, "command": {
                "argv": ["echo", "kept"]}})
            done = d.wait_done(done["id"])
            keyed = d.schedule({"after": 3600, "command": TRUE,
                                "idempotency_key": "durable-1"})
            f = d.request("POST", "/v1/futures").body
            g = d.request("POST", "/v1/futures").body
            r = d.request("POST", "/v1/futures/%s/result" % g["id"],
                          body={"result": {"x": [1, 2]}})
            self.assertEqual(r.status, 200, r.body)
            cb = d.request("POST", "/v1/futures/%s/callbacks" % f["id"],
                           body={"command": sh('touch "$1"', flag)})
            self.assertEqual(cb.status, 201, cb.body)
            t = d.loop_time()
            d.kill()
            d.start()
            got = d.call(pend["id"])
            for k in ("state", "phase", "due", "due_unix", "name", "args",
                      "command"):
                self.assertEqual(got[k], pend[k], k)
            got = d.call(done["id"])
            self.assertEqual(got["state"], "finished")
            self.assertEqual(got["result"], done["result"])
            r = d.request("POST", "/v1/calls", body={
                "after": 3600, "command": TRUE,
                "idempotency_key": "durable-1"})
            self.assertEqual((r.status, r.body["id"]), (200, keyed["id"]))
            self.assertEqual(d.get_json("/v1/futures/" + f["id"])["state"],
                             "pending")
            gg = d.get_json("/v1/futures/" + g["id"])
            self.assertEqual((gg["state"], gg["result"]),
                             ("finished", {"x": [1, 2]}))
            self.assertGreaterEqual(d.loop_time(), t)
            # The stored callback still fires.
            r = d.request("POST", "/v1/futures/%s/result" % f["id"],
                          body={"result": 1})
            self.assertEqual(r.status, 200, r.body)
            d.wait_done(cb.body["id"])
            self.assertTrue(os.path.exists(flag))

    def test_calls_due_while_down_run_at_start(self):
        with Daemon() as d:
            out = d.path("late-ran")
            c = d.schedule({"after": 0.4, "command": sh('touch "$1"', out)})
            soon_after = d.schedule({"after": 3600, "command": TRUE})
            t = d.loop_time()
            d.kill()
            time.sleep(0.8)      # be down while the call falls due
            d.start()
            done = d.wait_done(c["id"], timeout=5)
            self.assertEqual(done["state"], "finished")
            self.assertTrue(os.path.exists(out))
            self.assertIs(done.get("late"), True)
            self.assertGreaterEqual(done["started"], done["due"])
            # Loop time kept counting while loopd was down.
            self.assertGreaterEqual(d.loop_time(), t + 0.8 - 0.05)
            self.assertEqual(d.call(soon_after["id"])["state"], "pending")

    def test_running_command_is_interrupted_by_a_crash(self):
        with Daemon() as d:
            pidf = d.path("pid")
            c = d.schedule({"soon": True, "command": sh(
                'echo $$ > "$1.tmp"; mv "$1.tmp" "$1"; exec sleep 30',
                pidf)})
            d.wait_until(lambda: os.path.exists(pidf),
                         what="the command to start")
            d.kill()
            d.start()
            done = d.wait_done(c["id"], timeout=5)
            self.assertEqual(done["state"], "finished")
            self.assertEqual(done["exception"]["type"], "Interrupted")


if __name__ == "__main__":
    unittest.main()
