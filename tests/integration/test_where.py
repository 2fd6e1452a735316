"""Where a job runs: loopctl sends the caller's working directory (absolute)
with each command, resolves --cwd against it, and passes a documented
allow-list of the caller's environment (all of it with --env-all, none with
--no-env); --env K=V wins over both."""

import json
import os
import shutil
import subprocess
import tempfile

from harness import DaemonTestCase, LOOPCTL


class WhereTest(DaemonTestCase):

    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="loopd-it-where-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def run_ctl(self, *args, cwd=None, env=None, expect=0):
        """loopctl from directory CWD (default: the temp dir) with ENV
        added to a clean environment."""
        e = {"PATH": os.environ["PATH"], "HOME": self.tmp, "LANG": "C.UTF-8",
             "TZ": "Asia/Kolkata", "LOOP_URL": self.d.url}
        if self.d.token_file:
            e["LOOP_TOKEN_FILE"] = self.d.token_file
        e.update(env or {})
        p = subprocess.run([LOOPCTL] + list(args), cwd=cwd or self.tmp,
                           capture_output=True, text=True, timeout=30, env=e,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, expect, "loopctl %s: %r %r"
                         % (" ".join(args), p.stdout, p.stderr))
        return p

    def test_script_in_the_current_directory(self):
        script = os.path.join(self.tmp, "script.sh")
        with open(script, "w") as f:
            f.write('#!/bin/sh\necho "ran in $(pwd)"\nexit 7\n')
        os.chmod(script, 0o755)
        p = self.run_ctl("schedule", "--wait", "--", "./script.sh", expect=7)
        self.assertEqual(p.stdout, "ran in %s\n" % self.tmp)
        # The call records the absolute directory.
        p = self.run_ctl("--json", "schedule", "--soon", "--", "./script.sh")
        self.assertEqual(json.loads(p.stdout)["command"]["cwd"], self.tmp)

    def test_relative_cwd(self):
        os.mkdir(os.path.join(self.tmp, "sub"))
        p = self.run_ctl("schedule", "--soon", "--wait", "--cwd", "sub",
                         "--", "pwd")
        self.assertEqual(p.stdout, os.path.join(self.tmp, "sub") + "\n")
        p = self.run_ctl("schedule", "--soon", "--wait", "--cwd", ".", "--",
                         "pwd")
        self.assertEqual(p.stdout, self.tmp + "\n")
        p = self.run_ctl("schedule", "--soon", "--wait", "--cwd", "/", "--",
                         "pwd")
        self.assertEqual(p.stdout, "/\n")
        # --no-cwd: the daemon's own directory.
        p = self.run_ctl("schedule", "--soon", "--wait", "--no-cwd", "--",
                         "pwd")
        self.assertEqual(p.stdout, os.path.realpath(self.d.dir) + "\n")
        self.run_ctl("schedule", "--soon", "--cwd", "x", "--no-cwd", "--",
                     "pwd", expect=2)

    def test_environment(self):
        show = ["sh", "-c", 'echo "$TZ|$LANG|$LC_TIME|$MY_SECRET|$LOOP_TOKEN"']
        env = {"LC_TIME": "C", "MY_SECRET": "s3", "LOOP_TOKEN": "nope"}
        if self.d.token:
            env["LOOP_TOKEN"] = self.d.token
        # The allow-list: TZ, LANG, LC_*; not MY_SECRET, never LOOP_TOKEN.
        p = self.run_ctl("schedule", "--soon", "--wait", "--", *show, env=env)
        self.assertEqual(p.stdout, "Asia/Kolkata|C.UTF-8|C||\n")
        p = self.run_ctl("schedule", "--soon", "--wait", "--env-all", "--",
                         *show, env=env)
        self.assertEqual(p.stdout, "Asia/Kolkata|C.UTF-8|C|s3|\n")
        # --env wins over what is captured.
        p = self.run_ctl("schedule", "--soon", "--wait", "--env-all", "--env",
                         "TZ=UTC", "--", *show, env=env)
        self.assertEqual(p.stdout, "UTC|C.UTF-8|C|s3|\n")
        # --no-env: the daemon's environment (the test runner's), plus --env.
        p = self.run_ctl("--json", "schedule", "--soon", "--no-env", "--env",
                         "A=1", "--", "true", env=env)
        self.assertEqual(json.loads(p.stdout)["command"]["env"], {"A": "1"})
        self.run_ctl("schedule", "--soon", "--env-all", "--webhook",
                     "http://127.0.0.1:9/", expect=2)

    def test_on_done_runs_here_too(self):
        fid = self.run_ctl("future", "new").stdout.strip()
        out = os.path.join(self.tmp, "out")
        self.run_ctl("on-done", fid, "--", "sh", "-c", 'pwd > out')
        self.run_ctl("future", "set", fid, "1")
        self.d.wait_until(lambda: os.path.exists(out) and
                          open(out).read() == self.tmp + "\n",
                          what="the callback's output")
