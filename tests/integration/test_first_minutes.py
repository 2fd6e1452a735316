"""First minutes with loopd: --version on both binaries, `loopctl status`,
a hint when the daemon is not running and a clear word for a socket that
cannot be opened, loopctl finding the per-user daemon's socket by itself,
and the man page and bash completion covering every flag."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import LOOPCTL, LOOPD, Daemon, DaemonTestCase

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMANDS = [["schedule"], ["cancel"], ["ls"], ["show"], ["time"], ["status"], ["logs"],
            ["future", "new"], ["future", "set"], ["future", "fail"],
            ["future", "cancel"], ["await"], ["on-done"], ["wait"], ["gather"], ["ui"]]
GLOBALS = {"--url", "--token-file", "--json", "--show-secrets", "--help"}


def clean_env(**extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("LOOP_")}
    e.update(extra)
    return e


def run(argv, env=None, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                          env=env or clean_env(), stdin=subprocess.DEVNULL,
                          **kw)


def help_flags(words):
    """The long options (and -q) the --help of a command names."""
    out = run([LOOPCTL] + words + ["--help"]).stdout
    return set(re.findall(r"(?m)^  (--?[a-z][a-z-]*)", out)) | \
        set(re.findall(r"(--[a-z][a-z-]+)", out.split("\n", 1)[0]))


class VersionStatusTest(DaemonTestCase):

    def test_version(self):
        for binary, name in ((LOOPCTL, "loopctl"), (LOOPD, "loopd")):
            p = run([binary, "--version"])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^%s \d+\.\d+\.\d+\n$" % name)

    def test_status(self):
        p = self.d.loopctl("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        for line in (r"^loopd at %s: ok$" % re.escape(self.d.url),
                     r"^loopctl: +\d+\.\d+", r"^pending calls: 0 \(",
                     r"^pending futures: +0$", r"^store: +writable$",
                     r"^commands: +0 running, 0 queued$", r"^token: +.*token"):
            self.assertRegex(p.stdout, "(?m)" + line)
        s = json.loads(self.d.loopctl("--json", "status").stdout)
        self.assertEqual(s["metrics"]["loopd_store_writable"], 1)
        self.assertIn("loop_time", s)


class HintTest(unittest.TestCase):

    def test_not_running(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = "http://127.0.0.1:%d" % port
        p = run([LOOPCTL, "status"], env=clean_env(LOOP_URL=url))
        self.assertEqual(p.returncode, 1)
        self.assertIn("is loopd running? LOOP_URL=%s" % url, p.stderr)

    def test_unix_socket_problems(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-hint-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        path = os.path.join(tmp, "loopd.sock")
        p = run([LOOPCTL, "time"], env=clean_env(LOOP_URL="unix:" + path))
        self.assertEqual(p.returncode, 1)
        self.assertIn("unix:%s: No such file or directory" % path, p.stderr)
        self.assertIn("is loopd running?", p.stderr)
        self.assertNotIn("port 80", p.stderr)
        # A socket nobody listens on any more.
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.close()
        p = run([LOOPCTL, "time"], env=clean_env(LOOP_URL="unix:" + path))
        self.assertIn("nobody listens there", p.stderr)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                         "needs root and setpriv to act as another user")
    def test_unreadable_socket(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-hint-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        os.chmod(tmp, 0o755)
        path = os.path.join(tmp, "loopd.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)
        s.listen(1)
        self.addCleanup(s.close)
        os.chmod(path, 0o660)
        p = run(["setpriv", "--reuid=65534", "--regid=65534",
                 "--clear-groups", LOOPCTL, "time"],
                env=clean_env(LOOP_URL="unix:" + path, HOME=tmp))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("unix:%s: Permission denied" % path, p.stderr)
        self.assertIn("join that group", p.stderr)


class DiscoveryTest(unittest.TestCase):

    def test_finds_the_user_daemon_socket(self):
        rt = tempfile.mkdtemp(prefix="loopd-it-rt-")
        self.addCleanup(shutil.rmtree, rt, ignore_errors=True)
        os.mkdir(os.path.join(rt, "loopd"), 0o700)
        sock = os.path.join(rt, "loopd", "loopd.sock")
        with Daemon(listen="unix:" + sock) as d:
            env = clean_env(XDG_RUNTIME_DIR=rt, HOME=rt)
            p = run([LOOPCTL, "status"], env=env)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("loopd at unix:%s: ok" % sock, p.stdout)


class DocsTest(unittest.TestCase):

    def complete(self, line):
        """What bash completion offers for LINE (the last word being
        completed)."""
        words = line.split(" ")
        script = ('source "$1"; shift; COMP_WORDS=("$@"); '
                  'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _loopctl; '
                  'printf "%s\\n" "${COMPREPLY[@]}"')
        p = run([shutil.which("bash"), "-c", script, "bash",
                 os.path.join(ROOT, "completion", "loopctl.bash")] + words,
                env=clean_env(PATH="/nonexistent"))
        return set(p.stdout.split())

    def test_completion_covers_every_flag(self):
        for words in COMMANDS:
            with self.subTest(cmd=words):
                want = help_flags(words) - {"-h"}
                prefix = "loopctl " + " ".join(words)
                if words[0] in ("on-done",):
                    prefix += " c_1"
                got = self.complete(prefix + " -")
                self.assertLessEqual(want - {"-q"}, got | {"-q"},
                                     "missing: %s" % (want - got))
        self.assertIn("--version", self.complete("loopctl --"))
        self.assertEqual(self.complete("loopctl schedule --method P"),
                         {"POST", "PUT", "PATCH"})

    def test_man_page_names_every_flag(self):
        with open(os.path.join(ROOT, "man", "loopctl.1")) as f:
            man = f.read().replace("\\-", "-")
        self.assertIn(".SH EXAMPLES", man)
        self.assertIn(".SH EXIT STATUS", man)
        for words in COMMANDS:
            for flag in help_flags(words):
                self.assertIn(flag, man, "%s of %s" % (flag, words))
        with open(os.path.join(ROOT, "man", "loopd.8")) as f:
            self.assertIn(".SH EXAMPLES", f.read())


if __name__ == "__main__":
    unittest.main()
