"""Waits that survive: `schedule --wait`, `await`, `wait` and `gather` go on
across a restart of loopd (reconnecting with backoff, bounded by their
timeout); `await` passes a failed command's exit status through as --wait
does; Ctrl-C on --wait says that the call goes on and how to cancel it."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import unittest

from harness import LOOPCTL, Daemon, wait_until


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SurviveTest(unittest.TestCase):

    def setUp(self):
        # A fixed address, so that the restarted daemon is where the
        # clients look.
        self.d = Daemon(listen="127.0.0.1:%d" % free_port())
        self.d.start()
        self.addCleanup(self.d.close)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)

    def env(self):
        e = dict(os.environ, LOOP_URL=self.d.url,
                 LOOP_TOKEN_FILE=self.d.token_file)
        e.pop("LOOP_TOKEN", None)
        return e

    def start(self, *args):
        p = subprocess.Popen([LOOPCTL] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL, env=self.env())
        self.procs.append(p)
        return p

    def ctl(self, *args, expect=0):
        p = self.d.loopctl(*args)
        self.assertEqual(p.returncode, expect, "%s: %r %r"
                         % (args, p.stdout, p.stderr))
        return p.stdout

    def waiters(self):
        text = self.d.request("GET", "/metrics").body
        m = re.search(r"(?m)^loopd_waiters (\d+)", text)
        return int(m.group(1)) if m else 0

    def restart(self):
        self.d.stop()
        self.d.start()

    def finish(self, p, timeout=30):
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err

    def test_wait_survives_restart(self):
        p = self.start("schedule", "--after", "3s", "--name", "survivor",
                       "--wait", "--", "sh", "-c", "echo hi; exit 5")
        self.d.wait_until(lambda: self.waiters() >= 1, what="the long poll")
        calls = self.d.list_calls("name=survivor")
        self.assertEqual(calls[0]["phase"], "scheduled")
        self.restart()
        rc, out, err = self.finish(p)
        self.assertEqual((rc, out), (5, "hi\n"), err)

    def test_await_wait_gather_survive_restart(self):
        fid = self.ctl("future", "new").strip()
        cid = self.ctl("on-done", fid, "--", "sh", "-c",
                       "echo x; exit 4").strip()
        aw = self.start("await", cid)
        wt = self.start("wait", fid)
        ga = self.start("gather", fid)
        self.d.wait_until(lambda: self.waiters() >= 3, what="three waits")
        self.restart()
        self.ctl("future", "set", fid, "[1]")
        rc, out, err = self.finish(aw)
        self.assertEqual(rc, 4, "await passes the exit status: %r" % err)
        rc, out, err = self.finish(wt)
        self.assertEqual((rc, out), (0, "done: %s\npending:\n" % fid), err)
        rc, out, err = self.finish(ga)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out), [[1]])

    def test_timeout_bounds_the_reconnecting(self):
        fid = self.ctl("future", "new").strip()
        self.d.stop()
        t0 = time.monotonic()
        p = self.start("await", fid, "--timeout", "1s")
        rc, out, err = self.finish(p)
        self.assertEqual(rc, 124, err)
        self.assertLess(time.monotonic() - t0, 10)
        p = self.start("wait", fid, "--timeout", "500ms")
        self.assertEqual(self.finish(p)[0], 124)
        self.d.start()

    def test_ctrl_c_says_the_call_goes_on(self):
        p = self.start("schedule", "--after", "1h", "--wait", "--", "true")
        self.d.wait_until(lambda: self.waiters() >= 1, what="the long poll")
        cid = self.d.list_calls("state=pending")[0]["id"]
        p.send_signal(signal.SIGINT)
        rc, out, err = self.finish(p)
        self.assertEqual(rc, -signal.SIGINT, err)
        self.assertIn("%s goes on" % cid, err)
        self.assertIn("loopctl cancel %s" % cid, err)
        self.assertEqual(self.d.call(cid)["state"], "pending")
        self.ctl("cancel", cid)

    def test_wait_shows_the_id_on_a_terminal(self):
        from test_terminal import run_on_tty
        out, rc = run_on_tty([LOOPCTL, "schedule", "--wait", "--", "echo",
                              "hi"], dict(self.env(), TERM="xterm"))
        self.assertEqual(rc, 0, out)
        m = re.search(r"loopctl: (c_[0-9a-f]{16}) \(Ctrl-C stops waiting",
                      out)
        self.assertIsNotNone(m, repr(out))
        self.assertIn("hi", out)


if __name__ == "__main__":
    unittest.main()
