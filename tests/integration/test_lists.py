"""Lists that show what matters: `loopctl ls` newest first with an OUTCOME
column (exit code, signal, HTTP status, exception type), the filters
--failed, --running, --pending, --name, --since, -q and --limit (counted
from the newest); local and relative times; `show` with local timestamps
(loop seconds only under --json); numbers as the daemon sent them; bulk
`cancel` (ids, --name) exiting 1 when nothing was cancelled; secrets
redacted in views unless --show-secrets."""

import json
import os
import re

from harness import DaemonTestCase, ID_RE


class ListsTest(DaemonTestCase):
    opts = {"kill_grace": "0.2"}

    def ctl(self, *args, expect=0, env=None):
        p = self.d.loopctl(*args, env=dict({"TZ": "UTC"}, **(env or {})))
        self.assertEqual(p.returncode, expect, "loopctl %s\n%r\n%r"
                         % (" ".join(args), p.stdout, p.stderr))
        return p

    def rows(self, *args):
        """ls ARGS as {id: {column: cell}}, and the ids in order."""
        lines = self.ctl("ls", *args).stdout.splitlines()
        head = lines[0].split()
        # Cells hold no double spaces; columns are parted by two or more.
        out, order = {}, []
        for line in lines[1:]:
            cells = re.split(r"  +", line.strip(), maxsplit=len(head) - 1)
            out[cells[0]] = dict(zip(head, cells))
            order.append(cells[0])
        return out, order

    def test_outcomes_filters_and_order(self):
        n = self.id().rsplit(".", 1)[-1]
        ok = self.ctl("schedule", "--wait", "--name", n, "--", "true")
        ids = {}
        for key, cmd, status in (("ok", ["true"], 0),
                                 ("exit3", ["sh", "-c", "exit 3"], 3),
                                 ("kill", ["sh", "-c", "kill -KILL $$"], 137),
                                 ("spawn", ["/nonexistent/x"], 125)):
            p = self.ctl("--json", "schedule", "--wait", "--name", n, "--",
                         *cmd, expect=status)
            ids[key] = json.loads(p.stdout)["id"]
        fail = self.ctl("schedule", "--soon", "--timeout", "200ms", "--name",
                        n, "--", "sleep", "30").stdout.strip()
        self.d.wait_done(fail)
        ids["timeout"] = fail
        ids["later"] = self.ctl("schedule", "--after", "1h", "--name", n,
                                "--", "true").stdout.strip()
        rows, order = self.rows("--name", n)
        self.assertEqual(order, sorted(order, reverse=True), "newest first")
        self.assertEqual(order[0], ids["later"])
        self.assertEqual(rows[ids["ok"]]["OUTCOME"], "exit 0")
        self.assertEqual(rows[ids["exit3"]]["OUTCOME"], "exit 3")
        self.assertEqual(rows[ids["kill"]]["OUTCOME"], "SIGKILL")
        self.assertEqual(rows[ids["spawn"]]["OUTCOME"], "SpawnError")
        self.assertEqual(rows[ids["timeout"]]["OUTCOME"], "TimeoutError")
        self.assertEqual(rows[ids["later"]]["OUTCOME"], "-")
        self.assertEqual(rows[ids["later"]]["WHEN"], "in 59m")
        self.assertRegex(rows[ids["exit3"]]["WHEN"], r"^(\d+s ago|now)$")
        # --failed: the four failures, newest first.
        _, failed = self.rows("--name", n, "--failed")
        self.assertEqual(failed, [ids["timeout"], ids["spawn"], ids["kill"],
                                  ids["exit3"]])
        _, pending = self.rows("--name", n, "--pending")
        self.assertEqual(pending, [ids["later"]])
        q = self.ctl("ls", "--name", n, "-q", "--limit", "2").stdout
        self.assertEqual(q.split(), [ids["later"], ids["timeout"]])
        q = self.ctl("ls", "--name", n, "-q", "--failed", "--limit", "1")
        self.assertEqual(q.stdout.split(), [ids["timeout"]])
        self.assertEqual(self.ctl("ls", "--name", n, "-q", "--since",
                                  "1h").stdout.split(), order)
        self.assertEqual(self.ctl("ls", "--name", n, "-q", "--since",
                                  "2030-01-01 00:00").stdout, "")
        self.ctl("ls", "--since", "teatime", expect=2)
        self.ctl("ls", "--failed", "--pending", expect=2)
        items = json.loads(self.ctl("--json", "ls", "--name", n,
                                    "--failed").stdout)["items"]
        self.assertEqual([c["id"] for c in items], failed)

    def test_running(self):
        flag = self.d.path("go")
        cid = self.ctl("schedule", "--soon", "--name", "runner", "--", "sh",
                       "-c", 'while [ ! -e "$1" ]; do sleep 0.01; done',
                       "sh", flag).stdout.strip()
        self.d.wait_until(lambda: self.d.call(cid)["phase"] == "running",
                          what="running")
        self.assertEqual(self.ctl("ls", "--running", "-q").stdout.split(),
                         [cid])
        open(flag, "w").close()
        self.d.wait_done(cid)
        self.assertEqual(self.ctl("ls", "--running", "-q").stdout, "")

    def test_show_local_times_and_numbers(self):
        cid = self.ctl("schedule", "--soon", "--", "true").stdout.strip()
        self.d.wait_done(cid)
        out = self.ctl("show", cid, env={"TZ": "Asia/Kolkata"}).stdout
        for key in ("created", "due", "started", "finished"):
            self.assertRegex(out, r"(?m)^%s: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
                             r"(\.\d{3})? IST \((\d+s ago|now)\)$" % key)
        raw = self.d.request("GET", "/v1/calls/" + cid)
        # Numbers as the daemon sent them, in --json and in the text.
        text = self.ctl("--json", "show", cid).stdout
        dur = re.search(r'"duration":([0-9.e-]+)', text).group(1)
        self.assertEqual(float(dur), raw.body["result"]["duration"])
        self.assertLessEqual(len(dur), 10, "no float re-encoding: " + dur)
        self.assertRegex(out, r"(?m)^result\.duration: +%s$"
                         % re.escape(dur))
        j = json.loads(text)
        self.assertIsInstance(j["created"], float, "loop seconds in --json")

    def test_cancel_many_and_by_name(self):
        a, b, c = (self.ctl("schedule", "--after", "1h", "--name", "bulk",
                            "--", "true").stdout.strip() for _ in range(3))
        p = self.ctl("cancel", a, b)
        self.assertEqual(p.stdout, "%s: cancelled\n%s: cancelled\n" % (a, b))
        p = self.ctl("cancel", a, b, expect=1)
        self.assertIn("not cancelled", p.stdout)
        p = self.ctl("cancel", "--name", "bulk")
        self.assertEqual(p.stdout, "%s: cancelled\n" % c)
        p = self.ctl("cancel", "--name", "bulk", expect=1)
        self.assertIn("no pending call", p.stderr)
        self.ctl("cancel", expect=2)

    def test_secrets_redacted(self):
        cid = self.ctl("schedule", "--after", "1h", "--no-env", "--env",
                       "API_TOKEN=t0k-s3cret", "--env", "db_password=pw-s3cret", "--env",
                       "PLAIN=visible", "--", "true").stdout.strip()
        hook = self.ctl("schedule", "--after", "1h", "--webhook",
                        "http://127.0.0.1:9/", "--header",
                        "Authorization: Bearer abc", "--header",
                        "X-Client-Secret: s", "--header", "X-Plain: p"
                        ).stdout.strip()
        for args in (["show", cid], ["--json", "show", cid],
                     ["--json", "ls", "-q"], ["--json", "ls"]):
            out = self.ctl(*args).stdout
            # Values no temporary directory's random name can hold.
            self.assertNotIn("t0k-s3cret", out, args)
            self.assertNotIn("pw-s3cret", out, args)
        out = self.ctl("show", cid).stdout
        self.assertIn("visible", out)
        self.assertRegex(out, r"(?m)^command\.env\.API_TOKEN: +\(redacted\)$")
        out = self.ctl("show", hook).stdout
        self.assertNotIn("abc", out)
        self.assertNotIn(": s\n", out)
        self.assertRegex(out, r"(?m)^webhook\.headers\.X-Plain: +p$")
        out = self.ctl("--show-secrets", "show", cid).stdout
        self.assertIn("t0k-s3cret", out)
        self.assertIn("Bearer abc", self.ctl("show", hook,
                                             "--show-secrets").stdout)
        self.ctl("cancel", cid, hook)
