"""On a terminal, `loopctl await` and `schedule --wait` show what they wait
for with a live countdown to a timed call's due time, and erase it when
done; through a pipe (or with --json) they print nothing extra."""

import os
import pty
import re
import select
import subprocess
import time
import unittest

from harness import LOOPCTL, Daemon, sh


def run_on_tty(argv, env, timeout=30):
    """Run argv with stdout and stderr on a pseudo-terminal; return all it
    wrote there and its exit status."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                         env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:        # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    os.close(master)
    return out.decode("utf-8", "replace"), p.wait(10)


class TerminalTest(unittest.TestCase):

    def env(self, d):
        e = dict(os.environ, LOOP_URL=d.url, LOOP_TOKEN_FILE=d.token_file, TERM="xterm")
        e.pop("LOOP_TOKEN", None)
        return e

    def test_await_shows_a_countdown_on_a_terminal(self):
        with Daemon() as d:
            c = d.schedule({"after": 1.5, "name": "tick",
                            "command": sh("echo done")})
            out, rc = run_on_tty([LOOPCTL, "await", c["id"]], self.env(d))
            self.assertEqual(rc, 0, out)
            # Several redraws of "due in …", each a carriage return away.
            dues = re.findall(r"\r[^\r]*due in ([0-9.]+m?s)", out)
            self.assertGreaterEqual(len(dues), 3, repr(out))
            self.assertIn(c["id"], out)
            self.assertIn("\x1b[K", out)           # the line is erased
            self.assertIn("done", out)             # then the result

    def test_nothing_extra_through_a_pipe_or_json(self):
        with Daemon() as d:
            c = d.schedule({"after": 0.5, "command": sh("echo done")})
            r = subprocess.run([LOOPCTL, "await", c["id"]], env=self.env(d),
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("\r", r.stdout + r.stderr)
            self.assertNotIn("due in", r.stderr)
            c = d.schedule({"after": 0.5, "command": sh("echo done")})
            out, rc = run_on_tty([LOOPCTL, "--json", "await", c["id"]], self.env(d))
            self.assertEqual(rc, 0, out)
            self.assertNotIn("due in", out)

    def test_schedule_wait_shows_progress_then_the_output(self):
        with Daemon() as d:
            out, rc = run_on_tty([LOOPCTL, "schedule", "--after", "1s", "--wait",
                                  "--", "sh", "-c", "echo hi; exit 3"], self.env(d))
            self.assertEqual(rc, 3, out)
            self.assertRegex(out, r"\r[^\r]*due in")
            self.assertIn("hi", out)


if __name__ == "__main__":
    unittest.main()
