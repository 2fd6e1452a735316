"""
Issue 13, the HTTP layer and the store: requests framed two ways or with
NUL bytes in a header are refused, /metrics is behind the token (open on
a Unix socket), and the store's files are 0600 whatever the directory's
mode and the umask.
"""
import os
import shutil
import stat
import tempfile
import unittest

from harness import Daemon, DaemonTestCase, assert_problem


class FramingTest(DaemonTestCase):

    def raw(self, head, body=b""):
        return self.d.raw_request(head + b"\r\n" + body)

    def test_content_length_with_transfer_encoding(self):
        tok = self.d.token.encode()
        for order in ((b"Content-Length: 5\r\n", b"Transfer-Encoding: chunked\r\n"),
                      (b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n")):
            with self.subTest(order=order):
                r = self.raw(b"POST /v1/futures HTTP/1.1\r\nHost: x\r\n"
                             b"Authorization: Bearer " + tok + b"\r\n" +
                             order[0] + order[1] + b"Connection: close\r\n",
                             b"0\r\n\r\n")
                self.assertIsNotNone(r, "no reply")
                assert_problem(self, r, 400, "BadRequest", "Transfer-Encoding")

    def test_nul_after_the_token(self):
        tok = self.d.token.encode()
        r = self.raw(b"GET /v1/time HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + tok + b"\x00junk\r\n"
                     b"Connection: close\r\n")
        self.assertIsNotNone(r, "no reply")
        assert_problem(self, r, 400, "BadRequest", "Authorization")

    def test_nul_in_any_header(self):
        tok = self.d.token.encode()
        r = self.raw(b"GET /v1/time HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + tok + b"\r\n"
                     b"X-Thing: a\x00b\r\nConnection: close\r\n")
        self.assertIsNotNone(r, "no reply")
        assert_problem(self, r, 400, "BadRequest", "NUL")
        # The same request without the NUL is served.
        r = self.raw(b"GET /v1/time HTTP/1.1\r\nHost: x\r\n"
                     b"Authorization: Bearer " + tok + b"\r\n"
                     b"X-Thing: ab\r\nConnection: close\r\n")
        self.assertEqual(r.status, 200, r)


class MetricsAuthTest(unittest.TestCase):

    def test_metrics_needs_the_token_on_tcp(self):
        with Daemon() as d:
            assert_problem(self, d.request("GET", "/metrics", auth=False), 401)
            r = d.request("GET", "/metrics")
            self.assertEqual(r.status, 200)
            self.assertIn("loopd_", r.body)
            self.assertEqual(d.request("GET", "/healthz", auth=False).status, 200)

    def test_metrics_open_on_the_unix_socket(self):
        tmp = tempfile.mkdtemp(prefix="loopd-it-msock-")
        self.addCleanup(shutil.rmtree, tmp, True)
        with Daemon(listen="unix:" + os.path.join(tmp, "s")) as d:
            r = d.request("GET", "/metrics", auth=False)
            self.assertEqual(r.status, 200, r)

    def test_metrics_auth_off(self):
        with Daemon(opts={"metrics_auth": "off"}) as d:
            self.assertEqual(d.request("GET", "/metrics", auth=False).status, 200)
            assert_problem(self, d.request("GET", "/v1/time", auth=False), 401)


class StoreModeTest(unittest.TestCase):

    def test_store_files_are_0600_in_a_loose_directory(self):
        old = os.umask(0o022)
        try:
            d = Daemon()
            os.chmod(d.state_dir, 0o777)
            with d:
                c = d.schedule({"after": 3600, "command": {"argv": ["true"]}})
                self.assertTrue(c["id"])
                names = [n for n in os.listdir(d.state_dir)
                         if n.startswith("loopd.db")]
                self.assertIn("loopd.db", names)
                for n in names:
                    mode = stat.S_IMODE(os.stat(os.path.join(d.state_dir, n)).st_mode)
                    self.assertEqual(mode & 0o077, 0, "%s is %o" % (n, mode))
        finally:
            os.umask(old)
