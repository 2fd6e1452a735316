"""The systemd side, tested without systemd as PID 1: readiness and status
through $NOTIFY_SOCKET, the watchdog, reload and stop notifications,
socket activation with passed sockets, the reload helper ExecReload= uses,
and the unit's sandbox score from systemd-analyze."""

import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import Daemon, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOOPD = os.environ.get("LOOPD", os.path.join(ROOT, "build", "loopd"))


class Notifications:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setblocking(False)
        self.seen = []

    def drain(self):
        while True:
            try:
                self.seen.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return

    def wait_for(self, pattern, timeout=10):
        def found():
            self.drain()
            return any(re.search(pattern, m) for m in self.seen)
        wait_until(found, timeout=timeout, what="notification %r" % pattern)
        return [m for m in self.seen if re.search(pattern, m)]

    def close(self):
        self.sock.close()


class NotifyTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loopd-it-sd-")
        self.n = Notifications(self.tmp)

    def tearDown(self):
        self.n.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_ready_status_reload_stopping(self):
        env = {"NOTIFY_SOCKET": self.n.path, "RUNTIME_DIRECTORY": self.tmp}
        with Daemon(env=env) as d:
            self.n.wait_for(r"^READY=1")
            status = self.n.wait_for(r"^STATUS=")
            self.assertRegex(status[0], r"STATUS=0 calls and 0 futures pending")
            d.schedule({"after": 3600, "command": {"argv": ["true"]}})
            # The reload helper returns once the reload is done.
            helper = os.path.join(ROOT, "systemd", "loopd-reload")
            r = subprocess.run([helper, str(d.proc.pid)], timeout=30,
                               env=dict(os.environ, RUNTIME_DIRECTORY=self.tmp),
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(self.tmp, "reloads")) as f:
                self.assertEqual(f.read().strip(), "1")
            self.n.wait_for(r"^RELOADING=1")
            self.assertGreaterEqual(len(self.n.wait_for(r"^READY=1")), 2)
            self.n.wait_for(r"^STATUS=1 calls and 0 futures pending")
            d.signal(signal.SIGTERM)
            self.n.wait_for(r"^STOPPING=1")
            self.assertEqual(d.wait_exit(10), 0)

    def test_watchdog(self):
        env = {"NOTIFY_SOCKET": self.n.path, "WATCHDOG_USEC": "300000"}
        with Daemon(env=env):
            self.n.wait_for(r"^READY=1")
            t0 = time.monotonic()
            def pings():
                self.n.drain()
                return len([m for m in self.n.seen if m == "WATCHDOG=1"]) >= 3
            wait_until(pings, timeout=10, what="three WATCHDOG=1 pings")
            # Pinged at a third of the period: three within ~0.3 s, not 1 s.
            self.assertLess(time.monotonic() - t0, 2.0)


class SocketActivationTest(unittest.TestCase):

    def test_passed_tcp_and_unix_sockets(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-sa-")
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(16)
        port = tcp.getsockname()[1]
        path = os.path.join(tmp, "loopd.sock")
        unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix.bind(path)
        unix.listen(16)
        state = os.path.join(tmp, "state")
        log = open(os.path.join(tmp, "log"), "w")
        # Hand them over as fds 3 and 4, as systemd would; LISTEN_PID must
        # be loopd's own pid, so a shell (bash: dash cannot move fds
        # above 9) sets it and then execs loopd.
        tfd = fcntl.fcntl(tcp.fileno(), fcntl.F_DUPFD, 10)
        ufd = fcntl.fcntl(unix.fileno(), fcntl.F_DUPFD, 10)
        script = ('exec 3<&%d 4<&%d %d<&- %d<&-; LISTEN_PID=$$ LISTEN_FDS=2 exec "$@"'
                  % (tfd, ufd, tfd, ufd))
        proc = subprocess.Popen(
            ["bash", "-c", script, "bash", LOOPD, "--state-dir", state,
             "--listen", "127.0.0.1:1"],
            stderr=log, pass_fds=(tfd, ufd), env=harness._daemon_env())
        os.close(tfd)
        os.close(ufd)
        try:
            def up():
                c = None
                try:
                    c = socket.create_connection(("127.0.0.1", port), timeout=1)
                    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    data = c.recv(4096)
                except OSError:
                    return False    # still starting (the backlog holds us)
                finally:
                    if c is not None:
                        c.close()
                return b" 200 " in data
            wait_until(up, timeout=60 if harness.UNDER_VALGRIND else 10,
                       what="loopd on the passed TCP socket")
            # The Unix socket needs no token: /v1 routes answer.
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(path)
            u.sendall(b"GET /v1/time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = u.recv(4096)
                if not chunk:
                    break
                data += chunk
            u.close()
            self.assertIn(b" 200 ", data.split(b"\r\n")[0])
            self.assertIn(b"loop_time", data)
            with open(os.path.join(tmp, "log")) as f:
                self.assertIn("from the service manager", f.read())
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(10)
            log.close()
            with open(os.path.join(tmp, "log")) as f:
                text = f.read()
            tcp.close()
            unix.close()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, text)


class UnitTest(unittest.TestCase):

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_sandbox_exposure_at_most_2(self):
        unit = os.path.join(ROOT, "systemd", "loopd.service")
        r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                            "--threshold=20", unit],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for loopd.service: ([0-9.]+)", r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, r.stdout[-2000:])
        self.assertEqual(r.returncode, 0, r.stdout[-2000:])


def unit_keys(path):
    """The KEY=VALUE lines of a unit file as (section, key, value)."""
    out, section = [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            k, _, v = line.partition("=")
            out.append((section, k.strip(), v.strip()))
    return out


class UnitFilesTest(unittest.TestCase):
    """The unit files themselves: the runtime directory (and the socket
    in it) outlives a stopped service, the per-user units agree on their
    socket, and systemd-analyze verify accepts them all."""

    def test_runtime_directory_preserved(self):
        for unit in ("loopd.service", "user/loopd.service"):
            keys = unit_keys(os.path.join(ROOT, "systemd", unit))
            self.assertIn(("Service", "RuntimeDirectoryPreserve", "yes"), keys,
                          unit)
        sock = unit_keys(os.path.join(ROOT, "systemd", "loopd.socket"))
        self.assertIn(("Socket", "ListenStream", "/run/loopd/loopd.sock"), sock)

    def test_user_units_agree(self):
        svc = unit_keys(os.path.join(ROOT, "systemd", "user", "loopd.service"))
        sock = unit_keys(os.path.join(ROOT, "systemd", "user", "loopd.socket"))
        listen = [v for s, k, v in sock if k == "ListenStream"]
        self.assertEqual(listen, ["%t/loopd/loopd.sock"])
        start = [v for s, k, v in svc if k == "ExecStart"][0]
        self.assertIn("--listen unix:%t/loopd/loopd.sock", start)
        self.assertIn(("Socket", "SocketMode", "0600"), sock)
        self.assertIn(("Install", "WantedBy", "default.target"), svc)
        self.assertNotIn("User", [k for s, k, v in svc])

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
    def test_systemd_analyze_verify(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-units-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        loopd = os.environ.get("LOOPD_REAL") or LOOPD
        for scope, sub in (("system", ""), ("user", "user")):
            d = os.path.join(tmp, scope)
            os.mkdir(d)
            names = []
            for name in ("loopd.service", "loopd.socket"):
                with open(os.path.join(ROOT, "systemd", sub, name)) as f:
                    text = f.read()
                # verify checks that the programs exist: point at these.
                text = text.replace("/usr/local/bin/loopd", os.path.abspath(loopd))
                text = text.replace("/usr/local/libexec/loopd/loopd-reload",
                                    os.path.join(ROOT, "systemd", "loopd-reload"))
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
                names.append(os.path.join(d, name))
            rt = os.path.join(tmp, "rt-" + scope)
            os.mkdir(rt, 0o700)
            args = ["systemd-analyze"] + (["--user"] if scope == "user" else []) + \
                ["verify", "--man=no"] + names
            r = subprocess.run(args, capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, XDG_RUNTIME_DIR=rt))
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # Warnings (an unknown key, a bad value) do not fail verify:
            # none may name our files.
            self.assertNotIn(d, r.stdout + r.stderr, scope)


if __name__ == "__main__":
    unittest.main()
