"""
API.md §7-8 and HACKING.md: the daemon itself: signals, configuration
(-n, file:line errors, -o), the token, auth=off, and the plain routes.
"""
import json
import os
import re
import signal
import stat
import subprocess
import tempfile
import time
import unittest

from harness import Daemon, assert_problem, run_loopd

TRUE = {"argv": ["true"]}


class SignalTest(unittest.TestCase):

    def test_sigterm_answers_long_poll_then_exits_0(self):
        with Daemon(opts={"max_wait": "30s"}) as d:
            c = d.schedule({"after": 3600, "command": TRUE})
            f = d.request("POST", "/v1/futures")
            t = d.loop_time()
            p = d.begin("GET", "/v1/futures/%s?wait=25" % c["id"])
            self.assertFalse(p.replied(0.3), "the long-poll was not held")
            d.signal(signal.SIGTERM)
            r = p.response()
            self.assertIsNotNone(r, "the held long-poll got no reply")
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.body["id"], c["id"])
            self.assertEqual(r.body["state"], "pending")
            self.assertLess(p.elapsed, 5)
            self.assertEqual(d.wait_exit(10), 0, d.log_tail())
            # The pending call (and future) are kept, loop time goes on.
            d.start()
            got = d.call(c["id"])
            self.assertEqual(got["state"], "pending")
            self.assertAlmostEqual(got["due"], c["due"], delta=1e-6)
            if f.status == 201:
                self.assertEqual(d.get_json("/v1/futures/" + f.body["id"])
                                 ["state"], "pending")
            self.assertGreaterEqual(d.loop_time(), t)

    def test_sigint_exits_0(self):
        with Daemon() as d:
            d.schedule({"after": 3600, "command": TRUE})
            t0 = time.monotonic()
            d.signal(signal.SIGINT)
            self.assertEqual(d.wait_exit(10), 0, d.log_tail())
            self.assertLess(time.monotonic() - t0, 5)

    def test_sigterm_idle_exits_0_promptly(self):
        with Daemon() as d:
            t0 = time.monotonic()
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait_exit(10), 0, d.log_tail())
            self.assertLess(time.monotonic() - t0, 3)

    def test_sighup_reloads_config(self):
        big = json.dumps({"bogus": "x" * 2000}).encode()
        with Daemon(config="max_body = 64K\n") as d:
            r = d.request("POST", "/v1/calls", raw=big)
            assert_problem(self, r, 400, "BadRequest")
            with open(d.config_path, "w") as fh:
                fh.write("max_body = 1K\n")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_until(
                lambda: d.request("POST", "/v1/calls", raw=big).status == 413,
                timeout=5, what="max_body = 1K to take effect")
            # A bad file on SIGHUP: loopd says so and keeps running.
            with open(d.config_path, "w") as fh:
                fh.write("max_body = banana\n")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_until(lambda: "banana" in d.log() or
                         d.config_path + ":1" in d.log(), timeout=5,
                         what="the bad config to be reported")
            d.check_alive()
            c = d.schedule({"soon": True, "command": TRUE})
            self.assertEqual(d.wait_done(c["id"])["state"], "finished")
            r = d.request("POST", "/v1/calls", raw=big)
            self.assertEqual(r.status, 413, "the old config was not kept")


class ConfigCheckTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="loopd-it-")
        self.state = os.path.join(self.tmp.name, "state")
        os.mkdir(self.state, 0o700)

    def tearDown(self):
        self.tmp.cleanup()

    def conf(self, text):
        path = os.path.join(self.tmp.name, "loopd.conf")
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def check(self, *args):
        return run_loopd(["-n", "--state-dir", self.state] + list(args))

    def assertBadLine(self, text, line, mention=None):
        path = self.conf(text)
        p = self.check("--config", path)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, re.escape(path) + ":%d: ?\\S" % line)
        if mention:
            self.assertIn(mention, p.stderr)
        return p

    def test_good_config(self):
        path = self.conf("# loopd test configuration\n"
                         "\n"
                         "listen = 127.0.0.1:7799\n"
                         "   # an indented comment\n"
                         "auth = on\n"
                         "commands = on\n"
                         "max_body = 1M\n"
                         "max_wait = 30s\n"
                         "retention = 1h\n")
        p = self.check("--config", path)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_bad_value(self):
        self.assertBadLine("listen = 127.0.0.1:0\n\nmax_wait = banana\n", 3)

    def test_bad_values(self):
        for text in ["auth = maybe\n", "max_body = -1\n", "max_body = 12Q\n",
                     "retention = forever\n", "commands = sometimes\n",
                     "listen = 127.0.0.1:99999\n"]:
            with self.subTest(text=text):
                self.assertBadLine(text, 1)

    def test_unknown_key(self):
        self.assertBadLine("auth = on\nno_such_key = 1\n", 2, "no_such_key")

    def test_line_without_equals(self):
        self.assertBadLine("auth = on\nmax_body = 1K\nlisten 127.0.0.1\n", 3)

    def test_missing_config_file(self):
        p = self.check("--config", os.path.join(self.tmp.name, "absent"))
        self.assertEqual(p.returncode, 1)
        self.assertTrue(p.stderr.strip())

    def test_option_override_checked(self):
        p = self.check("-o", "no_such_key=1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no_such_key", p.stderr)
        p = self.check("-o", "max_body=banana")
        self.assertEqual(p.returncode, 1)
        self.assertIn("max_body", p.stderr)
        p = self.check("-o", "max_body=2K")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_auth_off_needs_loopback(self):
        p = self.check("--listen", "0.0.0.0:7799", "-o", "auth=off")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertTrue(p.stderr.strip())
        p = self.check("--listen", "127.0.0.1:7799", "-o", "auth=off")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_unknown_key_stops_startup(self):
        path = self.conf("no_such_key = 1\n")
        try:
            p = run_loopd(["--config", path, "--state-dir", self.state,
                           "--listen", "127.0.0.1:0"], timeout=10)
        except subprocess.TimeoutExpired:
            self.fail("loopd started despite an unknown key")
        self.assertEqual(p.returncode, 1)
        self.assertIn(path + ":1:", p.stderr)


class OverrideTest(unittest.TestCase):
    body = {"soon": True, "command": dict(TRUE, stdin="x" * 2000)}

    def test_config_file_applies(self):
        with Daemon(config="max_body = 1K\n") as d:
            r = d.request("POST", "/v1/calls", body=self.body)
            assert_problem(self, r, 413, "PayloadTooLarge")

    def test_option_beats_file(self):
        with Daemon(config="max_body = 1K\n",
                    opts={"max_body": "64K"}) as d:
            d.schedule(self.body)
        with Daemon(config="max_body = 64K\n",
                    opts={"max_body": "1K"}) as d:
            r = d.request("POST", "/v1/calls", body=self.body)
            assert_problem(self, r, 413, "PayloadTooLarge")

    def test_flag_beats_file(self):
        # The harness passes --listen 127.0.0.1:0; the file says port 9.
        with Daemon(config="listen = 127.0.0.1:9\n") as d:
            self.assertNotEqual(d.port, 9)
            self.assertEqual(d.request("GET", "/healthz").status, 200)


class TokenTest(unittest.TestCase):

    def test_token_created_0600(self):
        with Daemon() as d:
            path = os.path.join(d.state_dir, "token")
            st = os.stat(path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            with open(path) as fh:
                text = fh.read()
            self.assertRegex(text, r"^[0-9a-f]{64}\n$")
            self.assertIn(path, d.log(), "the log does not say where the "
                          "token is")
            self.assertEqual(d.request("GET", "/v1/time").status, 200)
            d.stop()
            d.start()
            self.assertEqual(d.token, text.strip(), "token changed on "
                             "restart")
            self.assertEqual(d.request("GET", "/v1/time").status, 200)

    def test_tokens_differ(self):
        with Daemon() as a, Daemon() as b:
            self.assertNotEqual(a.token, b.token)
            r = a.request("GET", "/v1/time", headers={
                "Authorization": "Bearer " + b.token}, auth=False)
            assert_problem(self, r, 401, "Unauthorized")

    def test_token_file_flag(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-token-")
        path = os.path.join(tmp, "my.token")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"my-own-secret-token-0123456789abcdef\n")
        os.close(fd)
        try:
            with Daemon(args=["--token-file", path]) as d:
                self.assertEqual(d.token,
                                 "my-own-secret-token-0123456789abcdef")
                self.assertEqual(d.request("GET", "/v1/time").status, 200)
                other = os.path.join(d.state_dir, "token")
                if os.path.exists(other):
                    with open(other) as fh:
                        t = fh.read().strip()
                    if t != d.token:
                        r = d.request("GET", "/v1/time", auth=False,
                                      headers={"Authorization":
                                               "Bearer " + t})
                        self.assertEqual(r.status, 401)
            with Daemon(opts={"token_file": path}) as d:
                self.assertEqual(d.request("GET", "/v1/time").status, 200)
        finally:
            os.unlink(path)
            os.rmdir(tmp)


class AuthOffTest(unittest.TestCase):

    def test_auth_off_on_loopback(self):
        with Daemon(auth=False) as d:
            r = d.request("GET", "/v1/time", auth=False)
            self.assertEqual(r.status, 200, r.body)
            r = d.request("POST", "/v1/calls", auth=False,
                          body={"soon": True, "command": TRUE})
            self.assertEqual(r.status, 201, r.body)

    def test_auth_off_refused_with_non_loopback_address(self):
        with tempfile.TemporaryDirectory(prefix="loopd-it-") as tmp:
            try:
                p = run_loopd(["--state-dir", tmp, "--listen", "0.0.0.0:0",
                               "-o", "auth=off"], timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("loopd started with auth=off on 0.0.0.0")
            self.assertNotEqual(p.returncode, 0)
            self.assertNotIn("listening on", p.stderr)
            self.assertTrue(p.stderr.strip())


class RoutesTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.addClassCleanup(cls.d.close)
        cls.d.start()

    def test_healthz(self):
        r = self.d.request("GET", "/healthz", auth=False)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith(
            "application/json"))
        self.assertEqual(r.body, {"status": "ok"})

    def test_metrics(self):
        r = self.d.request("GET", "/metrics")
        self.assertEqual(r.status, 200, r.body)
        self.assertTrue(r.headers["content-type"].startswith("text/plain"),
                        r.headers)
        lines = [l for l in r.body.splitlines() if l and l[0] != "#"]
        self.assertTrue(lines, "no samples")
        for l in lines:
            self.assertRegex(l, r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? \S+")

    def test_openapi(self):
        r = self.d.request("GET", "/openapi.json")
        self.assertEqual(r.status, 200, r.body)
        self.assertIsInstance(r.body, dict, "not served as JSON")
        self.assertTrue(str(r.body.get("openapi", "")).startswith("3.1"))
        paths = r.body.get("paths", {})
        for p in ["/v1/time", "/v1/calls", "/v1/futures"]:
            self.assertIn(p, paths)
        self.assertTrue([p for p in paths if p.startswith("/v1/calls/{")],
                        sorted(paths))


class ListenTest(unittest.TestCase):

    def test_unix_socket(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-unix-")
        path = os.path.join(tmp, "loopd.sock")
        try:
            with Daemon(listen="unix:" + path) as d:
                self.assertEqual(d.unix_path, path)
                st = os.stat(path)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode) & 0o007, 0,
                                 "others may use the socket: %o"
                                 % stat.S_IMODE(st.st_mode))
                # The file mode is the access control: no token needed.
                r = d.request("GET", "/v1/time", auth=False)
                self.assertEqual(r.status, 200, r.body)
                r = d.request("POST", "/v1/calls", auth=False, body={
                    "soon": True, "command": {"argv": ["echo", "u"]}})
                self.assertEqual(r.status, 201, r.body)
                c = d.wait_done(r.body["id"])
                self.assertEqual(c["result"]["stdout"], "u\n")
        finally:
            if os.path.exists(path):
                os.unlink(path)
            os.rmdir(tmp)

    def test_port_in_use(self):
        with Daemon() as d, tempfile.TemporaryDirectory(
                prefix="loopd-it-") as tmp:
            try:
                p = run_loopd(["--state-dir", tmp, "--listen",
                               "127.0.0.1:%d" % d.port], timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("a second loopd started on a port in use")
            self.assertNotEqual(p.returncode, 0)
            self.assertTrue(p.stderr.strip())
            self.assertEqual(d.request("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
