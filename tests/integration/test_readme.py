"""The README's set-up and tour, verbatim: every command of theirs that
starts with `$ ` is taken from README.md itself and run, in order, in one
shell, as a new user would from a fresh clone (build/ on PATH, HOME a new
directory, the development daemon started as the README says), and its
output compared with the lines the README shows under it.

What may differ: ids (c_/f_ + 16 hex digits), decimals, relative times
("3s ago", "now", "in 59m") and runs of blanks; `…` in the README stands
for anything. Output shown as JSON is compared as JSON (a terminal shows
it indented, a pipe compact). `make` lines are skipped (the build is
there already). A command the README shows no output for must not fail
with `command not found` or a loopctl error."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

from harness import LOOPCTL, LOOPD, pid_alive, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTIONS = ("## Set up", "## A five-minute tour")
MARK = "@@readme-step-%d@@"


def tour(path=os.path.join(ROOT, "README.md")):
    """[(command, [expected lines])] of the README's set-up and tour."""
    steps, inside = [], False
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("## "):
            inside = line.startswith(SECTIONS)
            continue
        if not inside:
            continue
        if line.startswith("    $ "):
            steps.append((line[6:], []))
        elif line.startswith("    ") and steps and steps[-1] is not None:
            steps[-1][1].append(line[4:])
        else:
            # Prose or a blank line ends the output of the last command.
            if steps and steps[-1] is not None:
                steps.append(None)
    return [s for s in steps if s is not None]


def normalize(text):
    text = re.sub(r"\bc_[0-9a-f]{16}\b", "CID", text)
    text = re.sub(r"\bf_[0-9a-f]{16}\b", "FID", text)
    text = re.sub(r"\bin (\d+[smhd])+\b", "IN", text)
    text = re.sub(r"\b((\d+[smhd])+ ago|now)\b", "AGO", text)
    text = re.sub(r"\d+\.\d+(e-?\d+)?", "N", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def matches(want, got):
    """Whether the output GOT fits the README's lines WANT."""
    try:
        if json.loads("\n".join(want)) == json.loads(got):
            return True
    except ValueError:
        pass
    got_lines = [l for l in got.splitlines() if l.strip()]
    if len(got_lines) != len(want):
        return False
    for w, g in zip(want, got_lines):
        pattern = ".*".join(re.escape(p) for p in normalize(w).split("…"))
        if not re.fullmatch(pattern, normalize(g)):
            return False
    return True


class ReadmeTest(unittest.TestCase):

    def test_tour_verbatim(self):
        steps = tour()
        self.assertGreater(len(steps), 15, "the tour was not found")
        tmp = tempfile.mkdtemp(prefix="loopd-it-readme-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        home = os.path.join(tmp, "home")
        clone = os.path.join(tmp, "clone")
        os.makedirs(home)
        os.makedirs(clone)
        # A fresh clone, built: build/ holds the binaries under test.
        build = os.path.join(clone, "build")
        os.mkdir(build)
        for b, name in ((LOOPD, "loopd"), (LOOPCTL, "loopctl")):
            os.symlink(os.path.abspath(b), os.path.join(build, name))
        script = ["cd %s" % clone]
        run = []
        for i, (cmd, want) in enumerate(steps):
            if cmd.startswith("make"):
                continue
            run.append((i, cmd, want))
            # Keep $? across the marker, for `echo $?`.
            script.append("__rc=$?; printf '\\n%s\\n'; (exit $__rc); %s"
                          % (MARK % i, cmd))
        script.append("printf '\\n%s\\n'" % (MARK % -1))
        env = {"HOME": home, "PATH": os.environ["PATH"], "LANG": "C.UTF-8",
               "TERM": "dumb", "TZ": "UTC"}
        # make valgrind: LOOPD is a wrapper that runs LOOPD_REAL.
        if os.environ.get("LOOPD_REAL"):
            env["LOOPD_REAL"] = os.environ["LOOPD_REAL"]
        proc = subprocess.Popen(["bash", "-c", "\n".join(script)],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env,
                                cwd=clone, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=120)
        finally:
            self.stop_daemons(home, proc)
        parts = re.split(r"\n@@readme-step-(-?\d+)@@\n", "\n" + out)
        got = dict(zip((int(n) for n in parts[1::2]), parts[2::2]))
        self.assertIn(-1, got, "the tour did not run to its end:\n" + out)
        for i, cmd, want in run:
            with self.subTest(cmd=cmd):
                text = got.get(i, "")
                if want:
                    self.assertTrue(matches(want, text),
                                    "$ %s\nREADME shows:\n%s\ngot:\n%s"
                                    % (cmd, "\n".join(want), text))
                else:
                    self.assertNotRegex(text, r"command not found|^loopctl: ",
                                        "$ %s" % cmd)
        # The tour's own claims about where things went.
        self.assertTrue(os.path.exists(os.path.join(clone, "ran.txt")))
        with open(os.path.join(clone, "build-outcome.json")) as f:
            self.assertEqual(json.load(f)["result"], {"ok": True})
        self.assertTrue(os.path.exists(os.path.join(
            home, ".local", "state", "loopd-dev", "loopd.db")))

    def stop_daemons(self, home, proc):
        """Whatever the tour left running under HOME (its loopd, if
        `kill %1` did not happen): stopped."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        left = []
        for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if home.encode() in cmdline and b"loopd" in cmdline:
                left.append(pid)
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass

        def gone():
            return not any(pid_alive(p) for p in left)
        try:
            wait_until(gone, timeout=20, what="the tour's loopd to stop")
        except AssertionError:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            raise


if __name__ == "__main__":
    unittest.main()
