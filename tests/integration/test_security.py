"""Closed by default: every /v1 route needs the token on TCP (in every way a
token can be wrong), the token changes live on reload, policy that changes
on reload applies when a call starts, and slow or stalled clients cannot
starve the others."""

import os
import re
import signal
import socket
import time
import unittest

from harness import Daemon, assert_problem, sh

V1_ROUTES = [
    ("GET", "/v1/time"), ("POST", "/v1/calls"), ("GET", "/v1/calls"),
    ("GET", "/v1/calls/c_0000000000000001"), ("DELETE", "/v1/calls/c_0000000000000001"),
    ("POST", "/v1/futures"), ("GET", "/v1/futures/f_0000000000000001"),
    ("POST", "/v1/futures/f_0000000000000001/result"),
    ("POST", "/v1/futures/f_0000000000000001/exception"),
    ("POST", "/v1/futures/f_0000000000000001/cancel"),
    ("POST", "/v1/futures/f_0000000000000001/callbacks"),
    ("DELETE", "/v1/futures/f_0000000000000001/callbacks/c_0000000000000002"),
    ("POST", "/v1/wait"), ("POST", "/v1/gather"), ("GET", "/v1/nope"),
]


class AuthTest(unittest.TestCase):

    def test_every_v1_route_needs_the_token(self):
        with Daemon() as d:
            bad = [None, "Bearer", "Bearer ", "Basic " + d.token, "bearer" + d.token,
                   "Bearer " + d.token[:-1], "Bearer " + d.token + "x",
                   "Bearer " + d.token.upper(), "Bearer  " + d.token]
            for method, path in V1_ROUTES:
                for h in bad:
                    headers = {} if h is None else {"Authorization": h}
                    r = d.request(method, path, body={} if method == "POST" else None,
                                  headers=headers, auth=False)
                    assert_problem(self, r, 401)
                    self.assertIn("bearer", r.headers.get("www-authenticate", "").lower())
            for path in ["/healthz", "/openapi.json"]:
                self.assertEqual(d.request("GET", path, auth=False).status, 200, path)
            # /metrics is behind the token too (issue 13).
            for h in bad:
                headers = {} if h is None else {"Authorization": h}
                assert_problem(self, d.request("GET", "/metrics", headers=headers,
                                               auth=False), 401)
            self.assertEqual(d.request("GET", "/metrics").status, 200)
            # Nothing was created by any of that.
            self.assertEqual(d.request("GET", "/v1/calls").body["items"], [])

    def test_reload_changes_the_token_live(self):
        with Daemon(config="# reloaded below\n") as d:
            path = d.path("token2")
            with open(path, "w") as f:
                f.write("a" * 40 + "\n")
            c = d.schedule({"after": 3600, "command": sh("true")})
            with d.session() as s:
                self.assertEqual(s.request("GET", "/v1/time").status, 200)
                with open(d.config_path, "a") as f:
                    f.write("token_file = %s\n" % path)
                d.proc.send_signal(signal.SIGHUP)
                old = "Bearer " + d.token
                d.wait_until(lambda: d.request("GET", "/v1/time", auth=False, headers={
                    "Authorization": old}).status == 401, timeout=5,
                    what="the old token to be refused")
                r = d.request("GET", "/v1/calls/" + c["id"], auth=False,
                              headers={"Authorization": "Bearer " + "a" * 40})
                self.assertEqual(r.status, 200)
                self.assertEqual(r.body["state"], "pending")
                # The connection opened before the reload is still served.
                r = s.request("GET", "/healthz")
                self.assertEqual(r.status, 200)
                self.assertEqual(s.connects, 1)

    def test_policy_from_a_reload_applies_at_start(self):
        with Daemon(config="# reloaded below\n") as d:
            c = d.schedule({"after": 1.0, "command": sh("echo ran")})
            with open(d.config_path, "a") as f:
                f.write("commands = off\n")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_until(lambda: d.request("POST", "/v1/calls", {
                "soon": True, "command": {"argv": ["true"]}}).status == 403,
                timeout=5, what="commands = off to take effect")
            got = d.wait_done(c["id"])
            self.assertEqual(got["exception"]["type"], "SpawnError", got)
            self.assertIn("commands = off", got["exception"]["message"])


class StallTest(unittest.TestCase):

    def test_stalled_connections_do_not_delay_others(self):
        # 300 clients that send half a request and stall, from two other
        # loopback addresses (each under the per-client limit).
        with Daemon(opts={"idle_timeout": "60s"}) as d:
            stalled = []
            try:
                for i in range(300):
                    s = socket.socket()
                    s.bind(("127.0.0.%d" % (2 + i % 2), 0))
                    s.connect(("127.0.0.1", d.port))
                    s.sendall(b"POST /v1/calls HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"so")
                    stalled.append(s)
                def connections():
                    m = re.search(r"^loopd_connections (\d+)",
                                  d.request("GET", "/metrics").body, re.M)
                    return m is not None and int(m.group(1)) >= 300
                d.wait_until(connections, timeout=10,
                             what="the stalled connections to be open")
                times = []
                with d.session() as s:
                    for _ in range(20):
                        t0 = time.monotonic()
                        r = s.request("GET", "/v1/time")
                        times.append(time.monotonic() - t0)
                        self.assertEqual(r.status, 200)
                times.sort()
                self.assertLess(times[len(times) // 2], 0.1, times)
                self.assertLess(times[-2], 0.1, times)
            finally:
                for s in stalled:
                    s.close()


    def test_total_connection_limit_answers_clearly(self):
        with Daemon(opts={"max_connections": "20", "idle_timeout": "60s"}) as d:
            held = []
            try:
                for _ in range(20):
                    held.append(socket.create_connection(("127.0.0.1", d.port)))
                def over():
                    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    data = b""
                    try:
                        while b"\r\n\r\n" not in data:
                            chunk = s.recv(4096)
                            if not chunk:
                                break
                            data += chunk
                    finally:
                        s.close()
                    return data.startswith(b"HTTP/1.1 503")
                d.wait_until(over, timeout=10, what="a connection over the limit told 503")
            finally:
                for s in held:
                    s.close()
            d.wait_until(lambda: d.request("GET", "/healthz").status == 200, timeout=10,
                         what="connections to free up")


class TLSTest(unittest.TestCase):

    def test_https_listener(self):
        import http.client
        import shutil
        import ssl
        import subprocess
        import tempfile
        if shutil.which("openssl") is None:
            self.skipTest("openssl not installed")
        tmp = tempfile.mkdtemp(prefix="loopd-it-tls-")
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2",
                            "-keyout", key, "-out", cert], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        loopd = os.environ.get("LOOPD", os.path.join(
            os.path.dirname(__file__), "..", "..", "build", "loopd"))
        log_path = os.path.join(tmp, "log")
        state = os.path.join(tmp, "state")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([loopd, "--state-dir", state, "--listen", "127.0.0.1:0",
                                     "-o", "tls_cert=" + cert, "-o", "tls_key=" + key],
                                    stderr=log)
        try:
            port = []
            def listening():
                with open(log_path) as f:
                    m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", f.read())
                if m:
                    port.append(int(m.group(1)))
                return bool(m)
            from harness import wait_until
            wait_until(listening, timeout=10, what="loopd listening on https")
            with open(os.path.join(state, "token")) as f:
                token = f.read().strip()
            ctx = ssl.create_default_context(cafile=cert)
            c = http.client.HTTPSConnection("127.0.0.1", port[0], context=ctx, timeout=10)
            c.request("GET", "/v1/time", headers={"Authorization": "Bearer " + token})
            resp = c.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertIn(b"loop_time", resp.read())
            c.close()
            # Plain HTTP on that port gets no HTTP answer.
            s = socket.create_connection(("127.0.0.1", port[0]), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(100)
            except OSError:
                data = b""
            s.close()
            self.assertFalse(data.startswith(b"HTTP/1.1 200"), data)
            # loopctl trusts the daemon's CA through LOOP_CACERT.
            loopctl = os.environ.get("LOOPCTL", os.path.join(os.path.dirname(loopd), "loopctl"))
            env = dict(os.environ, LOOP_URL="https://127.0.0.1:%d" % port[0],
                       LOOP_TOKEN=token, LOOP_CACERT=cert)
            env.pop("LOOP_TOKEN_FILE", None)
            r = subprocess.run([loopctl, "time"], env=env, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("loop_time", r.stdout)
            env.pop("LOOP_CACERT")
            r = subprocess.run([loopctl, "time"], env=env, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(r.returncode, 1, r.stdout)
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(15)
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0)


if __name__ == "__main__":
    unittest.main()
