"""
API.md §3 (webhook action, default bodies, Standard Webhooks headers,
retries honouring Retry-After, cancel), §6 (a webhook in flight is sent
again after a crash) and §7 (destination policy, caps on webhooks in
flight and on captured output).

Every test talks to its own receivers: http.server.ThreadingHTTPServer on
127.0.0.1, port 0, in a thread, speaking HTTP/1.1 with keep-alive. A
receiver records each request (method, path, headers, body, arrival time)
and answers per a script (status, headers, JSON / text / raw body, a
delay, or holding the request until the test releases it). Held and
delayed requests notice when loopd hangs up. Waits are bounded conditions;
backoffs and timeouts are small so the file runs in seconds.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import select
import socket
import threading
import time
import unittest

from harness import Daemon, DaemonTestCase, FUTURE_ID_RE, ID_RE, run_loopd

FAST = {"retry_backoff": "50ms", "retry_max_backoff": "200ms",
        "webhook_timeout": "5s"}
FAST_RETRY = {"attempts": 3, "backoff": 0.02, "max_backoff": 0.05}
POLICY_MSG = re.compile(r"polic", re.I)
TIMEOUT_MSG = re.compile(r"time(d)?[ -]?out", re.I)


# -- the receiver ----------------------------------------------------------------

class Req:
    """One request as a receiver saw it."""

    def __init__(self, index, method, path, headers, body):
        self.index = index
        self.method = method
        self.path = path
        self.headers = headers          # lower-case names, repeats joined
        self.body = body                # bytes
        self.t = time.monotonic()
        self.unix = time.time()
        self.release = threading.Event()    # ends a "hold"
        self.hung_up = threading.Event()    # loopd closed while we held it
        self.answered = threading.Event()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%s %s #%d %r>" % (self.method, self.path, self.index,
                                   self.body[:200])


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256        # 50 connects at once must not be dropped

    def handle_error(self, request, client_address):
        pass                        # loopd hanging up is part of the tests


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive; every reply has a length
    timeout = 20                    # an idle kept-alive connection ends
    receiver = None

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        self.receiver._track(self.connection, True)

    def finish(self):
        try:
            super().finish()
        finally:
            self.receiver._track(self.connection, False)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _peer_closed(self, wait):
        """Wait up to `wait` seconds; True if loopd closed the connection."""
        try:
            r, _, _ = select.select([self.connection], [], [], wait)
            if not r:
                return False
            data = self.connection.recv(1, socket.MSG_PEEK)
            if data == b"":
                return True
            time.sleep(wait)        # bytes, not a hang-up: keep waiting
            return False
        except OSError:
            return True

    def _handle(self):
        rx = self.receiver
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = v if k not in headers else headers[k] + ", " + v
        req = rx._record(self.command, self.path, headers, self._read_body())
        reply = rx._reply_for(req)
        with rx.cond:
            rx.in_flight += 1
            rx.max_in_flight = max(rx.max_in_flight, rx.in_flight)
        hung_up = False
        try:
            if reply.get("hold"):
                while not (req.release.is_set() or rx.closing.is_set()):
                    if self._peer_closed(0.02):
                        hung_up = True
                        break
                hung_up = hung_up or rx.closing.is_set()
            elif reply.get("delay"):
                end = time.monotonic() + reply["delay"]
                while not hung_up and time.monotonic() < end \
                        and not rx.closing.is_set():
                    hung_up = self._peer_closed(
                        max(0.0, min(0.05, end - time.monotonic())))
        finally:
            # Counted out before the reply goes: loopd can only start the
            # next request once it has this reply.
            with rx.cond:
                rx.in_flight -= 1
                rx.cond.notify_all()
        if hung_up:
            req.hung_up.set()
            with rx.cond:
                rx.cond.notify_all()
            self.close_connection = True
            return
        self._send(reply)
        req.answered.set()

    def _send(self, reply):
        status = reply.get("status", 200)
        hdrs = dict(reply.get("headers") or {})
        ctype = None
        if "json" in reply:
            data = json.dumps(reply["json"]).encode()
            ctype = "application/json"
        elif "text" in reply:
            data = reply["text"].encode()
            ctype = "text/plain; charset=utf-8"
        else:
            data = reply.get("raw", b"")
        try:
            self.send_response(status)
            if ctype and not any(k.lower() == "content-type" for k in hdrs):
                self.send_header("Content-Type", ctype)
            for k, v in hdrs.items():
                self.send_header(k, v)
            if status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and status not in (204, 304):
                self.wfile.write(data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle
    do_OPTIONS = _handle


class Receiver:
    """A scripted HTTP receiver on 127.0.0.1.

    replies: a list of reply dicts used in order (then `default`), or a
    function(req) -> reply dict. A reply dict has status (200), headers,
    one of json / text / raw (bytes), and optionally delay (seconds) or
    hold (True: until req.release is set, loopd hangs up, or close())."""

    def __init__(self, replies=None, default=None):
        self.cond = threading.Condition()
        self.requests = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.closing = threading.Event()
        self._conns = set()
        self._script = replies if callable(replies) else list(replies or [])
        self._default = default if default is not None else \
            {"status": 200, "json": {"ok": True}}
        handler = type("Handler", (_Handler,), {"receiver": self})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def _track(self, conn, add):
        with self.cond:
            (self._conns.add if add else self._conns.discard)(conn)

    def _record(self, method, path, headers, body):
        with self.cond:
            req = Req(len(self.requests), method, path, headers, body)
            self.requests.append(req)
            self.cond.notify_all()
            return req

    def _reply_for(self, req):
        with self.cond:
            if callable(self._script):
                return self._script(req)
            if self._script:
                return self._script.pop(0)
            return self._default

    def count(self):
        with self.cond:
            return len(self.requests)

    def wait_requests(self, n, timeout=10):
        """Wait (bounded) until n requests arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "receiver: %d of %d requests after %gs: %r"
                        % (len(self.requests), n, timeout, self.requests))
                self.cond.wait(left)
            return list(self.requests)

    def close(self):
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        with self.cond:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def hook(url, **fields):
    w = {"url": url}
    w.update(fields)
    return w


def verify_signature(key, req, tc):
    """Check req's Standard Webhooks headers with our own HMAC; return
    (webhook-id, timestamp)."""
    wid = req.headers.get("webhook-id")
    ts = req.headers.get("webhook-timestamp")
    sig = req.headers.get("webhook-signature")
    tc.assertTrue(wid and ts and sig, "signature headers missing: %r"
                  % req.headers)
    tc.assertRegex(ts, r"^\d+$")
    signed = wid.encode() + b"." + ts.encode() + b"." + req.body
    expected = base64.b64encode(
        hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in sig.split()
             if s.startswith("v1,")]
    tc.assertTrue(given, "no v1 signature in %r" % sig)
    tc.assertTrue(any(hmac.compare_digest(g, expected) for g in given),
                  "signature %r does not match ours (v1,%s)" % (sig, expected))
    # The check can fail: another key gives another signature.
    other = base64.b64encode(hmac.new(b"x" * 24, signed,
                                      hashlib.sha256).digest()).decode()
    tc.assertNotIn(other, given)
    return wid, int(ts)


class WebhookCase(DaemonTestCase):
    """Receivers made here are shut down after each test."""
    opts = dict(FAST)

    def receiver(self, replies=None, default=None):
        rx = Receiver(replies, default)
        self.addCleanup(rx.close)
        return rx

    def run_hook(self, webhook, timeout=10, **fields):
        body = {"soon": True, "webhook": webhook}
        body.update(fields)
        c = self.d.schedule(body)
        return self.d.wait_done(c["id"], timeout=timeout)

    def assertFailed(self, c, status):
        self.assertEqual(c["state"], "finished", c)
        self.assertNotIn("result", c)
        e = c["exception"]
        self.assertEqual(e["type"], "WebhookFailed", e)
        self.assertIn("status", e)
        self.assertEqual(e["status"], status, e)
        self.assertIsInstance(e["message"], str)
        self.assertTrue(e["message"])
        return e


# -- 1. delivery -------------------------------------------------------------------

class DeliveryTest(WebhookCase):

    def test_default_post_body_and_result(self):
        rx = self.receiver([{"status": 200, "json": {"ok": True, "n": [1, 2]},
                             "headers": {"X-Reply-Mixed": "Yes"}}])
        args = [1, "two", {"three": [3]}, None]
        c = self.d.schedule({"soon": True, "webhook": {"url": rx.url + "/in?q=1"},
                             "args": args})
        self.assertRegex(c["id"], ID_RE)
        self.assertEqual(c["webhook"]["url"], rx.url + "/in?q=1")
        done = self.d.wait_done(c["id"])
        req, = rx.wait_requests(1)
        self.assertEqual(req.method, "POST")
        self.assertEqual(req.path, "/in?q=1")
        self.assertEqual(req.headers.get("content-type"), "application/json")
        self.assertEqual(req.headers.get("loop-call-id"), c["id"])
        self.assertEqual(req.json(), {"call": c["id"], "args": args})
        for h in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            self.assertNotIn(h, req.headers, "unsigned daemon sent " + h)

        self.assertEqual(done["state"], "finished", done)
        self.assertEqual(done["phase"], "done")
        self.assertEqual(done["attempts"], 1)
        self.assertNotIn("exception", done)
        res = done["result"]
        self.assertEqual(res["status"], 200)
        self.assertEqual(res["body"], {"ok": True, "n": [1, 2]})
        self.assertIsInstance(res["headers"], dict)
        for k in res["headers"]:
            self.assertEqual(k, k.lower(), "header names are lower-case")
        self.assertEqual(res["headers"].get("x-reply-mixed"), "Yes")
        self.assertEqual(res["headers"].get("content-type"),
                         "application/json")
        self.assertIsInstance(res["duration"], (int, float))
        self.assertGreaterEqual(res["duration"], 0)
        self.assertNotIn("body_truncated", res)
        self.assertGreaterEqual(done["finished"], done["started"])

    def test_default_args_empty(self):
        rx = self.receiver()
        done = self.run_hook(hook(rx.url))
        req, = rx.wait_requests(1)
        self.assertEqual(req.json(), {"call": done["id"], "args": []})
        self.assertEqual(req.path, "/")

    def test_custom_methods_headers_and_body(self):
        rx = self.receiver()
        body = {"hello": ["wörld", 1, 2.5, True, None], "nested": {"a": {}}}
        for i, method in enumerate(("PUT", "GET", "DELETE", "PATCH")):
            with self.subTest(method=method):
                done = self.run_hook(hook(
                    rx.url + "/m/" + method, method=method, body=body,
                    headers={"X-Custom": "v%d" % i,
                             "Authorization": "Bearer abc"}))
                self.assertEqual(done["result"]["status"], 200, done)
                req = rx.wait_requests(i + 1)[i]
                self.assertEqual(req.method, method)
                self.assertEqual(req.path, "/m/" + method)
                self.assertEqual(req.json(), body)
                self.assertEqual(req.headers.get("x-custom"), "v%d" % i)
                self.assertEqual(req.headers.get("authorization"),
                                 "Bearer abc")
                self.assertEqual(req.headers.get("content-type"),
                                 "application/json")
                self.assertEqual(req.headers.get("loop-call-id"), done["id"])

    def test_own_content_type_is_kept_once(self):
        rx = self.receiver()
        done = self.run_hook(hook(rx.url, body="plain words", headers={
            "content-type": "application/vnd.test+json"}))
        self.assertEqual(done["result"]["status"], 200)
        req, = rx.wait_requests(1)
        self.assertEqual(req.headers.get("content-type"),
                         "application/vnd.test+json")
        self.assertEqual(req.json(), "plain words")

    def test_reply_bodies(self):
        rx = self.receiver([
            {"status": 200, "text": "hello\nworld"},
            {"status": 201, "raw": b"{not json",
             "headers": {"Content-Type": "application/json"}},
            {"status": 204},
            {"status": 202, "json": [1, "x", None],
             "headers": {"Content-Type": "application/problem+json"}},
        ])
        c1 = self.run_hook(hook(rx.url))["result"]
        self.assertEqual((c1["status"], c1["body"]), (200, "hello\nworld"))
        self.assertTrue(c1["headers"]["content-type"].startswith("text/plain"))
        c2 = self.run_hook(hook(rx.url))["result"]
        self.assertEqual((c2["status"], c2["body"]), (201, "{not json"))
        c3 = self.run_hook(hook(rx.url))["result"]
        self.assertEqual((c3["status"], c3["body"]), (204, ""))
        c4 = self.run_hook(hook(rx.url))["result"]
        self.assertEqual((c4["status"], c4["body"]), (202, [1, "x", None]))


# -- 2-7. retries, failures, timeouts ----------------------------------------------

class RetryTest(WebhookCase):

    def test_retry_then_success(self):
        rx = self.receiver([
            {"status": 503, "json": {"err": "busy"}},
            {"status": 503, "text": "still busy"},
            {"hold": True, "status": 200, "json": {"done": 1}},
        ])
        retry = {"attempts": 5, "backoff": 0.2, "max_backoff": 1}
        c = self.d.schedule({"soon": True, "webhook": hook(rx.url),
                             "retry": retry, "args": ["a"]})
        # After the first 503 the call is pending with its last error.
        seen = self.d.wait_until(
            lambda: (lambda x: x if "last_error" in x else None)(
                self.d.call(c["id"])), what="last_error")
        self.assertEqual(seen["state"], "pending", seen)
        self.assertEqual(seen["last_error"]["type"], "WebhookFailed")
        self.assertEqual(seen["last_error"]["status"], 503)
        self.assertNotIn("result", seen)
        self.assertNotIn("exception", seen)
        reqs = rx.wait_requests(3)
        # The third attempt is held: still pending, still showing why.
        now = self.d.call(c["id"])
        self.assertEqual(now["state"], "pending", now)
        self.assertEqual(now["attempts"], 3)
        self.assertEqual(now["last_error"]["status"], 503)
        reqs[2].release.set()
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["state"], "finished", done)
        self.assertEqual(done["result"]["status"], 200)
        self.assertEqual(done["result"]["body"], {"done": 1})
        self.assertEqual(done["attempts"], 3)
        self.assertNotIn("last_error", done)
        self.assertEqual(rx.count(), 3)
        # Same request every time; backoff between half and all of
        # backoff * 2^(n-1).
        for r in reqs:
            self.assertEqual(r.json(), {"call": c["id"], "args": ["a"]})
            self.assertEqual(r.headers.get("loop-call-id"), c["id"])
        gap1, gap2 = reqs[1].t - reqs[0].t, reqs[2].t - reqs[1].t
        self.assertGreaterEqual(gap1, 0.1 - 0.02, "first backoff")
        self.assertGreaterEqual(gap2, 0.2 - 0.02, "second backoff")
        self.assertLess(gap1, 0.2 + 1.0)
        self.assertLess(gap2, 0.4 + 1.0)

    def test_retries_exhausted(self):
        rx = self.receiver(default={"status": 503, "json": {"err": "down"}})
        done = self.run_hook(hook(rx.url), retry=FAST_RETRY)
        e = self.assertFailed(done, 503)
        self.assertEqual(done["attempts"], 3)
        self.assertEqual(rx.count(), 3)
        self.assertNotIn("last_error", done)
        self.assertIn("503", e["message"])

    def test_one_attempt_policy(self):
        rx = self.receiver(default={"status": 500, "text": "oops"})
        done = self.run_hook(hook(rx.url), retry={"attempts": 1})
        self.assertFailed(done, 500)
        self.assertEqual(done["attempts"], 1)
        self.assertEqual(rx.count(), 1)

    def test_4xx_is_final(self):
        for status in (404, 400, 401, 403, 410, 422):
            with self.subTest(status=status):
                rx = self.receiver(default={"status": status,
                                            "json": {"why": "no"}})
                done = self.run_hook(hook(rx.url), retry=FAST_RETRY)
                self.assertFailed(done, status)
                self.assertEqual(done["attempts"], 1)
                self.assertEqual(rx.count(), 1)

    def test_408_and_429_are_retried(self):
        rx = self.receiver([{"status": 408, "text": "slow"},
                            {"status": 429, "text": "later"},
                            {"status": 200, "json": {"ok": 1}}])
        done = self.run_hook(hook(rx.url), retry=dict(FAST_RETRY, attempts=4))
        self.assertEqual(done["result"]["status"], 200, done)
        self.assertEqual(done["attempts"], 3)
        self.assertEqual(rx.count(), 3)
        for status in (408, 429, 500, 502, 504):
            with self.subTest(status=status):
                rx = self.receiver(default={"status": status, "text": "x"})
                done = self.run_hook(hook(rx.url), retry=FAST_RETRY)
                self.assertFailed(done, status)
                self.assertEqual(done["attempts"], 3)
                self.assertEqual(rx.count(), 3)

    def test_connection_refused(self):
        # A bound socket that does not listen: connections to it are
        # refused, and no one else can take the port meanwhile.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d/x" % s.getsockname()[1]
        done = self.run_hook(hook(url), retry=FAST_RETRY)
        e = self.assertFailed(done, None)
        self.assertEqual(done["attempts"], 3)
        self.assertNotRegex(e["message"], POLICY_MSG)

    def test_timeout(self):
        rx = self.receiver(default={"delay": 5, "status": 200, "text": "late"})
        t0 = time.monotonic()
        done = self.run_hook(hook(rx.url, timeout=0.3),
                             retry={"attempts": 2, "backoff": 0.02})
        elapsed = time.monotonic() - t0
        e = self.assertFailed(done, None)
        self.assertRegex(e["message"], TIMEOUT_MSG)
        self.assertEqual(done["attempts"], 2)
        reqs = rx.wait_requests(2)
        self.assertEqual(len(reqs), 2)
        self.assertGreaterEqual(done["finished"] - done["started"], 0.6 - 0.02)
        self.assertLess(elapsed, 4, "the 0.3 s timeout was not applied")
        # loopd gave up on each attempt: it hung up on the receiver.
        for r in reqs:
            self.assertTrue(r.hung_up.wait(3), "loopd kept %r open" % r)

    def test_retry_after_honoured(self):
        rx = self.receiver([{"status": 429, "text": "wait",
                             "headers": {"Retry-After": "1"}},
                            {"status": 200, "json": {"ok": True}}])
        done = self.run_hook(hook(rx.url), timeout=10,
                             retry={"attempts": 3, "backoff": 0.01,
                                    "max_backoff": 0.02})
        self.assertEqual(done["result"]["status"], 200, done)
        self.assertEqual(done["attempts"], 2)
        a, b = rx.wait_requests(2)
        gap = b.t - a.t
        self.assertGreaterEqual(gap, 0.95, "Retry-After: 1 not honoured "
                                "(gap %.3fs)" % gap)
        self.assertLess(gap, 3.0)

    def test_retry_after_on_503(self):
        rx = self.receiver([{"status": 503, "text": "wait",
                             "headers": {"Retry-After": "1"}},
                            {"status": 200, "json": {"ok": True}}])
        done = self.run_hook(hook(rx.url), retry={"attempts": 2,
                                                  "backoff": 0.01})
        self.assertEqual(done["result"]["status"], 200, done)
        a, b = rx.wait_requests(2)
        self.assertGreaterEqual(b.t - a.t, 0.95)


class RetryAfterCapTest(WebhookCase):
    """Issue 13: a receiver's delay is capped by max_retry_after, in the
    date form too (a year-9999 date left the call pending for good)."""
    opts = dict(FAST, max_retry_after="300ms")

    def check_capped(self, value):
        rx = self.receiver([{"status": 503, "text": "later",
                             "headers": {"Retry-After": value}},
                            {"status": 200, "json": {"ok": True}}])
        done = self.run_hook(hook(rx.url), timeout=10,
                             retry={"attempts": 2, "backoff": 0.01})
        self.assertEqual(done["result"]["status"], 200, done)
        a, b = rx.wait_requests(2)
        self.assertGreaterEqual(b.t - a.t, 0.25)
        self.assertLess(b.t - a.t, 5.0)

    def test_far_date_is_capped(self):
        self.check_capped("Fri, 31 Dec 9999 23:59:59 GMT")

    def test_date_an_hour_away_is_capped(self):
        self.check_capped(time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                        time.gmtime(time.time() + 3600)))

    def test_seconds_are_capped(self):
        self.check_capped("86400")


class DefaultPolicyTest(WebhookCase):
    """The defaults for a call without a retry policy or a timeout."""
    opts = dict(FAST, webhook_attempts="2", webhook_timeout="300ms")

    def test_default_attempts(self):
        rx = self.receiver(default={"status": 503, "text": "no"})
        done = self.run_hook(hook(rx.url))
        self.assertFailed(done, 503)
        self.assertEqual(done["attempts"], 2)
        self.assertEqual(rx.count(), 2)

    def test_policy_without_attempts_uses_default(self):
        rx = self.receiver(default={"status": 502, "text": "no"})
        done = self.run_hook(hook(rx.url), retry={"backoff": 0.01})
        self.assertFailed(done, 502)
        self.assertEqual(done["attempts"], 2)
        self.assertEqual(rx.count(), 2)

    def test_default_timeout(self):
        rx = self.receiver(default={"delay": 5, "status": 200, "text": "x"})
        t0 = time.monotonic()
        done = self.run_hook(hook(rx.url), retry={"attempts": 1})
        e = self.assertFailed(done, None)
        self.assertRegex(e["message"], TIMEOUT_MSG)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertTrue(rx.wait_requests(1)[0].hung_up.wait(3))

    def test_call_timeout_beats_default(self):
        rx = self.receiver(default={"delay": 0.6, "status": 200,
                                    "json": {"slow": True}})
        done = self.run_hook(hook(rx.url, timeout=3), retry={"attempts": 1})
        self.assertEqual(done["result"]["status"], 200, done)
        self.assertEqual(done["result"]["body"], {"slow": True})
        self.assertGreaterEqual(done["result"]["duration"], 0.6 - 0.02)


# -- 8. cancel ---------------------------------------------------------------------

class CancelTest(WebhookCase):

    def test_cancel_in_flight(self):
        rx = self.receiver(default={"hold": True, "status": 200, "text": "x"})
        c = self.d.schedule({"soon": True, "webhook": hook(rx.url),
                             "retry": {"attempts": 5, "backoff": 0.02}})
        req, = rx.wait_requests(1)
        self.d.wait_until(lambda: self.d.call(c["id"])["phase"] == "running",
                          what="running")
        t0 = time.monotonic()
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        done = self.d.wait_done(c["id"], timeout=2)
        self.assertEqual(done["state"], "cancelled", done)
        self.assertNotIn("result", done)
        self.assertLess(time.monotonic() - t0, 2)
        # loopd aborted the request: the receiver sees the hang-up while
        # it is still holding.
        self.assertTrue(req.hung_up.wait(3), "receiver connection not closed")
        self.assertFalse(req.answered.is_set())
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": False}))
        # Not retried after the cancel.
        self.assertEqual(self.d.call(c["id"])["state"], "cancelled")
        self.assertEqual(rx.count(), 1)

    def test_cancel_while_waiting_to_retry(self):
        rx = self.receiver(default={"status": 503, "text": "busy"})
        c = self.d.schedule({"soon": True, "webhook": hook(rx.url),
                             "retry": {"attempts": 5, "backoff": 30,
                                       "max_backoff": 30}})
        self.d.wait_until(lambda: "last_error" in self.d.call(c["id"]),
                          what="first failure")
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        done = self.d.wait_done(c["id"], timeout=2)
        self.assertEqual(done["state"], "cancelled")
        self.assertEqual(rx.count(), 1)

    def test_cancel_before_start(self):
        rx = self.receiver()
        c = self.d.schedule({"after": 30, "webhook": hook(rx.url)})
        r = self.d.request("DELETE", "/v1/calls/" + c["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        self.assertEqual(self.d.call(c["id"])["state"], "cancelled")
        self.assertEqual(rx.count(), 0)


# -- 9. concurrency ----------------------------------------------------------------

class ConcurrencyTest(WebhookCase):
    # One receiver host: lift the per-host connection cap above 50.
    opts = dict(FAST, webhook_max_per_host="64")

    def test_fifty_slow_receivers_at_once(self):
        n = 50
        rx = self.receiver(default={"delay": 1.0, "status": 200,
                                    "json": {"slept": 1}})
        t0 = time.monotonic()
        ids = []
        with self.d.session() as s:
            for i in range(n):
                r = s.request("POST", "/v1/calls", body={
                    "soon": True, "webhook": hook(rx.url + "/%d" % i),
                    "retry": {"attempts": 1}})
                self.assertEqual(r.status, 201, r.body)
                ids.append(r.body["id"])
        for cid in ids:
            done = self.d.wait_done(cid, timeout=10)
            self.assertEqual(done["result"]["status"], 200, done)
        elapsed = time.monotonic() - t0
        self.assertEqual(rx.count(), n)
        self.assertEqual(rx.max_in_flight, n,
                         "not all 50 requests were in flight at once")
        self.assertLess(elapsed, 3.0, "50 x 1 s webhooks took %.2fs" % elapsed)

    def test_loop_stays_responsive(self):
        rx = self.receiver(default={"hold": True, "status": 200, "text": "x"})
        c = self.d.schedule({"soon": True, "webhook": hook(rx.url)})
        req, = rx.wait_requests(1)
        t0 = time.monotonic()
        for _ in range(5):
            self.assertEqual(self.d.request("GET", "/v1/time").status, 200)
        self.assertLess(time.monotonic() - t0, 1)
        req.release.set()
        self.assertEqual(self.d.wait_done(c["id"])["result"]["status"], 200)


class WebhookCapTest(WebhookCase):
    opts = dict(FAST, max_webhooks="2")

    def test_at_most_two_in_flight_in_start_order(self):
        rx = self.receiver(default={"hold": True, "status": 200,
                                    "json": {"ok": 1}})
        ids = [self.d.schedule({"soon": True, "webhook": hook(rx.url),
                                "args": [i]})["id"] for i in range(5)]
        order = {cid: i for i, cid in enumerate(ids)}

        def idx(req):
            return order[req.json()["call"]]
        reqs = rx.wait_requests(2)
        self.assertEqual({idx(r) for r in reqs}, {0, 1})
        # Each release lets exactly the next call (in start order) in.
        by_idx = {idx(r): r for r in reqs}
        for nxt in (2, 3, 4):
            with rx.cond:
                self.assertEqual(len(rx.requests), nxt,
                                 "more than 2 webhooks in flight")
            by_idx[nxt - 2].release.set()
            r = rx.wait_requests(nxt + 1)[nxt]
            self.assertEqual(idx(r), nxt, "webhooks started out of order")
            by_idx[nxt] = r
        self.assertLessEqual(rx.max_in_flight, 2)
        by_idx[3].release.set()
        by_idx[4].release.set()
        started = []
        for cid in ids:
            done = self.d.wait_done(cid)
            self.assertEqual(done["result"]["status"], 200, done)
            self.assertEqual(done["attempts"], 1)
            started.append(done["started"])
        self.assertEqual(started, sorted(started))
        self.assertEqual(rx.count(), 5)
        self.assertLessEqual(rx.max_in_flight, 2)


class PerHostCapTest(WebhookCase):
    opts = dict(FAST, webhook_max_per_host="2")

    def test_connections_per_host_capped(self):
        rx = self.receiver(default={"delay": 0.3, "status": 200, "text": "k"})
        ids = [self.d.schedule({"soon": True, "webhook": hook(rx.url)})["id"]
               for _ in range(6)]
        for cid in ids:
            self.assertEqual(self.d.wait_done(cid)["result"]["status"], 200)
        self.assertEqual(rx.count(), 6)
        self.assertLessEqual(rx.max_in_flight, 2)



def metric(d, name):
    """One unlabelled sample of GET /metrics, as a number."""
    r = d.request("GET", "/metrics")
    for line in r.body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


class HostQueueTest(WebhookCase):
    """loopd holds a started webhook until its host (host and port) has
    fewer than webhook_max_per_host in flight: per host, in start order."""
    opts = dict(FAST, webhook_max_per_host="2")

    def start(self, rx, n, **fields):
        ids = [self.d.schedule({"soon": True, "webhook": hook(rx.url, **fields),
                                "args": [i], "retry": {"attempts": 1}})["id"]
               for i in range(n)]
        return ids, {cid: i for i, cid in enumerate(ids)}

    def test_hosts_apart_and_start_order_per_host(self):
        slow = self.receiver(default={"hold": True, "status": 200, "json": {}})
        fast = self.receiver()
        ids, order = self.start(slow, 6)
        held = slow.wait_requests(2)
        self.d.wait_until(lambda: metric(self.d, "loopd_webhooks_host_queued") == 4,
                          what="4 webhooks waiting for the slow host")
        # Started, though not sent: started is when loopd began the action.
        for cid in ids:
            self.assertEqual(self.d.call(cid)["phase"], "running")
        self.assertEqual(metric(self.d, "loopd_webhooks_running"), 2)
        # Another host is not held behind the slow host's queue.
        t0 = time.monotonic()
        fids, _ = self.start(fast, 4)
        for cid in fids:
            self.assertEqual(self.d.wait_done(cid, timeout=5)["result"]["status"], 200)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertLessEqual(fast.max_in_flight, 2)
        self.assertEqual(slow.count(), 2)
        # Each answer lets exactly the next one in start order go.
        by_idx = {order[r.json()["call"]]: r for r in held}
        self.assertEqual(set(by_idx), {0, 1})
        for nxt in (2, 3, 4, 5):
            by_idx[nxt - 2].release.set()
            r = slow.wait_requests(nxt + 1)[nxt]
            self.assertEqual(order[r.json()["call"]], nxt, "out of start order")
            by_idx[nxt] = r
        by_idx[4].release.set()
        by_idx[5].release.set()
        started = [self.d.wait_done(cid)["started"] for cid in ids]
        self.assertEqual(started, sorted(started))
        self.assertLessEqual(slow.max_in_flight, 2)
        self.d.wait_until(lambda: metric(self.d, "loopd_webhooks_host_queued") == 0,
                          what="no webhook waiting")

    def test_time_waiting_for_the_host_counts(self):
        rx = self.receiver(default={"hold": True, "status": 200, "json": {}})
        ids, _ = self.start(rx, 2, timeout=20)
        held = rx.wait_requests(2)
        t0 = time.monotonic()
        late = self.d.schedule({"soon": True, "webhook": hook(rx.url, timeout=0.4),
                                "retry": {"attempts": 1}})
        # It times out while waiting, not only once a connection frees.
        done = self.d.wait_done(late["id"], timeout=3)
        self.assertLess(time.monotonic() - t0, 2.5)
        e = self.assertFailed(done, None)
        self.assertRegex(e["message"], TIMEOUT_MSG)
        self.assertGreaterEqual(e["duration"], 0.4 - 0.02)
        self.assertEqual(rx.count(), 2, "the timed-out webhook was sent")
        for r in held:
            r.release.set()
        for cid in ids:
            self.assertEqual(self.d.wait_done(cid)["result"]["status"], 200)
        self.assertEqual(rx.count(), 2)

    def test_cancel_while_waiting_for_the_host(self):
        rx = self.receiver(default={"hold": True, "status": 200, "json": {}})
        ids, order = self.start(rx, 5)
        held = rx.wait_requests(2)
        self.d.wait_until(lambda: metric(self.d, "loopd_webhooks_host_queued") == 3,
                          what="3 webhooks waiting")
        r = self.d.request("DELETE", "/v1/calls/" + ids[3])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        done = self.d.wait_done(ids[3], timeout=2)
        self.assertEqual(done["state"], "cancelled", done)
        self.assertEqual(metric(self.d, "loopd_webhooks_host_queued"), 2)
        # One answer at a time: each frees a connection for the next call
        # in start order, the cancelled one skipped. (Two answers at once
        # send two requests at once, and which reaches the receiver first
        # is the machine's scheduling, not loopd's order.)
        held[0].release.set()
        rx.wait_requests(3)
        held[1].release.set()
        reqs = rx.wait_requests(4)
        self.assertEqual([order[q.json()["call"]] for q in reqs[2:]], [2, 4])
        for q in reqs[2:]:
            q.release.set()
        for i in (0, 1, 2, 4):
            self.assertEqual(self.d.wait_done(ids[i])["result"]["status"], 200)
        time.sleep(0.2)
        self.assertEqual(rx.count(), 4, "the cancelled webhook was sent")
        self.assertEqual(self.d.call(ids[3])["state"], "cancelled")


class CapCancelTest(WebhookCase):
    opts = dict(FAST, max_webhooks="1")

    def test_cancel_lets_the_next_one_start(self):
        rx = self.receiver(default={"hold": True, "status": 200, "json": {}})
        a = self.d.schedule({"soon": True, "webhook": hook(rx.url + "/a")})
        b = self.d.schedule({"soon": True, "webhook": hook(rx.url + "/b")})
        ra, = rx.wait_requests(1)
        self.assertEqual(self.d.call(b["id"])["phase"], "scheduled")
        r = self.d.request("DELETE", "/v1/calls/" + a["id"])
        self.assertEqual((r.status, r.body), (200, {"cancelled": True}))
        rb = rx.wait_requests(2, timeout=3)[1]
        self.assertEqual(rb.path, "/b")
        rb.release.set()
        self.assertEqual(self.d.wait_done(b["id"])["result"]["status"], 200)
        self.assertEqual(self.d.wait_done(a["id"])["state"], "cancelled")

# -- 10. signatures ----------------------------------------------------------------

class SigningTest(WebhookCase):
    key = os.urandom(24)

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.secret_dir = tempfile.mkdtemp(prefix="loopd-whsec-")
        path = os.path.join(cls.secret_dir, "secret")
        with open(path, "w") as f:
            f.write("whsec_" + base64.b64encode(cls.key).decode() + "\n")
        os.chmod(path, 0o600)
        cls.opts = dict(FAST, signing_secret_file=path)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        import shutil
        super().tearDownClass()
        shutil.rmtree(cls.secret_dir, ignore_errors=True)

    def test_signature_verifies_and_id_is_stable(self):
        rx = self.receiver([{"status": 503, "text": "again"},
                            {"status": 500, "text": "again"}])
        c = self.d.schedule({"soon": True, "webhook": hook(rx.url),
                             "args": ["é", 1.5, {"k": [True]}],
                             "retry": FAST_RETRY})
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["result"]["status"], 200, done)
        reqs = rx.wait_requests(3)
        for r in reqs:
            wid, ts = verify_signature(self.key, r, self)
            self.assertEqual(wid, c["id"], "webhook-id is the call id")
            self.assertEqual(r.headers.get("loop-call-id"), c["id"])
            self.assertLess(abs(ts - r.unix), 5, "webhook-timestamp")
        self.assertEqual({r.headers["webhook-id"] for r in reqs}, {c["id"]})

    def test_custom_body_is_what_is_signed(self):
        rx = self.receiver()
        body = {"z": 1, "a": "x y", "list": [1, 2, {"q": None}]}
        done = self.run_hook(hook(rx.url, method="PUT", body=body,
                                  headers={"X-A": "b"}))
        self.assertEqual(done["result"]["status"], 200, done)
        req, = rx.wait_requests(1)
        self.assertEqual(req.json(), body)
        wid, _ = verify_signature(self.key, req, self)
        self.assertEqual(wid, done["id"])

    def test_plain_text_secret(self):
        secret = "a plain text secret, long enough"
        path = os.path.join(self.secret_dir, "plain")
        with open(path, "w") as f:
            f.write(secret + "\n")
        rx = self.receiver()
        with Daemon(opts=dict(FAST, signing_secret_file=path)) as d:
            c = d.schedule({"soon": True, "webhook": hook(rx.url)})
            done = d.wait_done(c["id"])
            self.assertEqual(done["result"]["status"], 200, done)
        req, = rx.wait_requests(1)
        wid, _ = verify_signature(secret.encode(), req, self)
        self.assertEqual(wid, c["id"])


# -- 11. destination policy --------------------------------------------------------

class PolicyTest(unittest.TestCase):

    def receiver(self, **kw):
        rx = Receiver(**kw)
        self.addCleanup(rx.close)
        return rx

    def assertRefused(self, d, url, rx):
        c = d.schedule({"soon": True, "webhook": hook(url),
                        "retry": {"attempts": 4, "backoff": 0.01}})
        done = d.wait_done(c["id"])
        self.assertEqual(done["state"], "finished", done)
        e = done["exception"]
        self.assertEqual(e["type"], "WebhookFailed", e)
        self.assertIn("status", e)
        self.assertIsNone(e["status"])
        self.assertRegex(e["message"], POLICY_MSG)
        self.assertEqual(done["attempts"], 1, "a policy refusal is final")
        self.assertEqual(rx.count(), 0, "the receiver was reached")

    def test_deny_loopback(self):
        rx = self.receiver()
        with Daemon(opts=dict(FAST, webhook_deny="loopback")) as d:
            self.assertRefused(d, rx.url + "/x", rx)
            # Checked on the resolved address, not the URL text.
            self.assertRefused(d, "http://localhost:%d/x" % rx.port, rx)
        self.assertEqual(rx.count(), 0)

    def test_deny_network(self):
        rx = self.receiver()
        with Daemon(opts=dict(FAST, webhook_deny="10.0.0.0/8, 127.0.0.1/32")) as d:
            self.assertRefused(d, rx.url, rx)

    def test_allow_list_excludes_loopback(self):
        rx = self.receiver()
        with Daemon(opts=dict(FAST, webhook_allow="10.0.0.0/8")) as d:
            self.assertRefused(d, rx.url, rx)

    def test_allow_list_admits_loopback(self):
        rx = self.receiver()
        with Daemon(opts=dict(FAST, webhook_allow="10.0.0.0/8, loopback",
                              webhook_deny="private")) as d:
            c = d.schedule({"soon": True, "webhook": hook(rx.url)})
            self.assertEqual(d.wait_done(c["id"])["result"]["status"], 200)
        self.assertEqual(rx.count(), 1)

    def test_bad_network_in_config(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix="loopd-nets-")
        self.addCleanup(__import__("shutil").rmtree, tmp, True)
        conf = os.path.join(tmp, "loopd.conf")
        with open(conf, "w") as f:
            f.write("# webhooks\nlisten = 127.0.0.1:0\n"
                    "webhook_deny = loopback, banana\n")
        p = run_loopd(["-n", "--config", conf, "--state-dir", tmp])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertRegex(p.stderr, re.escape(conf) + r":3: .*webhook_deny")
        for opt in ("webhook_deny=banana", "webhook_allow=10.0.0.0/33",
                    "webhook_allow=10.0.0.0/8,256.1.1.1"):
            with self.subTest(opt=opt):
                p = run_loopd(["-n", "--state-dir", tmp, "-o", opt])
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(opt.split("=")[0], p.stderr)
        p = run_loopd(["-n", "--state-dir", tmp, "-o",
                       "webhook_deny=loopback, private, link-local, ::1/128",
                       "-o", "webhook_allow=10.0.0.0/8"])
        self.assertEqual(p.returncode, 0, p.stderr)


class PolicyBypassTest(unittest.TestCase):
    """Issue 13: the forms of an address that reach a denied one, and
    proxies from loopd's environment, do not get around the policy."""

    receiver = PolicyTest.receiver
    assertRefused = PolicyTest.assertRefused

    def test_unspecified_addresses_are_loopback(self):
        rx = self.receiver()
        with Daemon(opts=dict(FAST, webhook_deny="loopback")) as d:
            self.assertRefused(d, "http://0.0.0.0:%d/x" % rx.port, rx)
            self.assertRefused(d, "http://[::]:%d/x" % rx.port, rx)
            self.assertRefused(d, "http://[::ffff:0.0.0.0]:%d/x" % rx.port, rx)
        self.assertEqual(rx.count(), 0)

    def test_ipv4_in_ipv6_forms_are_judged_as_ipv4(self):
        rx = self.receiver()
        with Daemon(opts=dict(FAST, webhook_deny="127.0.0.0/8")) as d:
            for host in ("[::ffff:127.0.0.1]", "[64:ff9b::7f00:1]",
                         "[2002:7f00:1::1]", "[::127.0.0.1]"):
                with self.subTest(host=host):
                    self.assertRefused(d, "http://%s:%d/x" % (host, rx.port), rx)

    def test_proxy_from_the_environment_is_not_used(self):
        rx = self.receiver()
        proxy = self.receiver()
        env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url,
               "https_proxy": proxy.url, "all_proxy": proxy.url,
               "ALL_PROXY": proxy.url, "no_proxy": None, "NO_PROXY": None}
        with Daemon(opts=FAST, env=env) as d:
            c = d.schedule({"soon": True, "webhook": hook(rx.url + "/direct")})
            done = d.wait_done(c["id"])
            self.assertEqual(done["result"]["status"], 200, done)
        self.assertEqual(proxy.count(), 0, "the environment's proxy was used")
        self.assertEqual(rx.count(), 1)

    def test_proxy_from_the_environment_cannot_bypass_deny(self):
        proxy = self.receiver()
        env = {"http_proxy": proxy.url, "no_proxy": None, "NO_PROXY": None}
        with Daemon(opts=dict(FAST, webhook_deny="link-local, private"),
                    env=env) as d:
            c = d.schedule({"soon": True, "webhook": hook(
                "http://169.254.169.254/latest/meta-data/", timeout=2),
                "retry": {"attempts": 1}})
            done = d.wait_done(c["id"])
            self.assertEqual(done["exception"]["type"], "WebhookFailed", done)
        self.assertEqual(proxy.count(), 0, "the environment's proxy was used")

    def test_configured_proxy_is_used(self):
        proxy = self.receiver()
        with Daemon(opts=dict(FAST, webhook_proxy=proxy.url)) as d:
            c = d.schedule({"soon": True,
                            "webhook": hook("http://example.invalid/via-proxy")})
            done = d.wait_done(c["id"])
            self.assertEqual(done["result"]["status"], 200, done)
        self.assertEqual(proxy.count(), 1)
        self.assertIn("example.invalid", proxy.requests[0].path)

    def test_proxy_with_a_policy_is_refused(self):
        import tempfile
        tmp = tempfile.mkdtemp(prefix="loopd-proxy-")
        self.addCleanup(__import__("shutil").rmtree, tmp, True)
        for opt in ("webhook_deny=loopback", "webhook_allow=10.0.0.0/8"):
            with self.subTest(opt=opt):
                p = run_loopd(["-n", "--state-dir", tmp, "-o", opt, "-o",
                               "webhook_proxy=http://127.0.0.1:3128"])
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn("webhook_proxy", p.stderr)
        p = run_loopd(["-n", "--state-dir", tmp, "-o",
                       "webhook_proxy=http://127.0.0.1:3128"])
        self.assertEqual(p.returncode, 0, p.stderr)


# -- 12. done-callbacks ------------------------------------------------------------

class CallbackTest(WebhookCase):

    def test_callback_route(self):
        rx = self.receiver()
        f = self.d.request("POST", "/v1/futures", body={"name": "f"}).body
        self.assertRegex(f["id"], FUTURE_ID_RE)
        r = self.d.request("POST", "/v1/futures/%s/callbacks" % f["id"],
                           body={"webhook": {"url": rx.url + "/cb"}})
        self.assertEqual(r.status, 201, r.body)
        cb = r.body
        self.assertRegex(cb["id"], ID_RE)
        self.assertEqual(cb["phase"], "waiting")
        r = self.d.request("POST", "/v1/futures/%s/result" % f["id"],
                           body={"result": {"x": [1, "y"]}})
        self.assertEqual(r.status, 200, r.body)
        done = self.d.wait_done(cb["id"])
        self.assertEqual(done["result"]["status"], 200, done)
        req, = rx.wait_requests(1)
        self.assertEqual(req.path, "/cb")
        body = req.json()
        self.assertEqual(set(body), {"call", "future", "args"})
        self.assertEqual(body["call"], cb["id"])
        self.assertEqual(body["args"], [])
        fut = body["future"]
        self.assertEqual(fut["id"], f["id"])
        self.assertEqual(fut["kind"], "future")
        self.assertEqual(fut["state"], "finished")
        self.assertEqual(fut["result"], {"x": [1, "y"]})
        self.assertEqual(fut, self.d.get_json("/v1/futures/" + f["id"]))
        self.assertEqual(req.headers.get("loop-call-id"), cb["id"])

    def test_on_done_call(self):
        rx = self.receiver()
        f = self.d.request("POST", "/v1/futures").body
        c = self.d.schedule({"on_done": f["id"], "webhook": hook(rx.url),
                             "args": [7, "x"]})
        self.assertEqual(c["phase"], "waiting")
        r = self.d.request("POST", "/v1/futures/%s/exception" % f["id"],
                           body={"type": "ValueError", "message": "bad"})
        self.assertEqual(r.status, 200, r.body)
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["result"]["status"], 200, done)
        body = rx.wait_requests(1)[0].json()
        self.assertEqual(body["call"], c["id"])
        self.assertEqual(body["args"], [7, "x"])
        self.assertEqual(body["future"]["id"], f["id"])
        self.assertEqual(body["future"]["state"], "finished")
        self.assertEqual(body["future"]["exception"]["type"], "ValueError")
        self.assertNotIn("result", body["future"])

    def test_on_done_of_a_webhook_call(self):
        rx = self.receiver([{"status": 200, "json": {"first": True}}])
        a = self.d.schedule({"soon": True, "webhook": hook(rx.url + "/a")})
        b = self.d.schedule({"on_done": a["id"], "webhook": hook(rx.url + "/b")})
        done = self.d.wait_done(b["id"])
        self.assertEqual(done["result"]["status"], 200)
        reqs = rx.wait_requests(2)
        self.assertEqual([r.path for r in reqs], ["/a", "/b"])
        fut = reqs[1].json()["future"]
        self.assertEqual(fut["id"], a["id"])
        self.assertEqual(fut["kind"], "call")
        self.assertEqual(fut["result"]["body"], {"first": True})

    def test_custom_body_on_done(self):
        rx = self.receiver()
        f = self.d.request("POST", "/v1/futures").body
        r = self.d.request("POST", "/v1/futures/%s/callbacks" % f["id"],
                           body={"webhook": hook(rx.url, body={"mine": 1})})
        self.assertEqual(r.status, 201, r.body)
        self.d.request("POST", "/v1/futures/%s/cancel" % f["id"])
        self.d.wait_done(r.body["id"])
        self.assertEqual(rx.wait_requests(1)[0].json(), {"mine": 1})


# -- 13. restart -------------------------------------------------------------------

class RestartTest(unittest.TestCase):

    def test_in_flight_webhook_is_resent_after_kill(self):
        import tempfile
        import shutil
        key = os.urandom(24)
        tmp = tempfile.mkdtemp(prefix="loopd-whsec-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "secret")
        with open(path, "w") as f:
            f.write("whsec_" + base64.b64encode(key).decode())
        rx = Receiver([{"hold": True, "status": 200, "text": "never"}],
                      default={"status": 200, "json": {"got": "it"}})
        self.addCleanup(rx.close)
        with Daemon(opts=dict(FAST, signing_secret_file=path)) as d:
            c = d.schedule({"soon": True, "webhook": hook(rx.url + "/r"),
                            "args": ["once"]})
            first, = rx.wait_requests(1)
            d.wait_until(lambda: d.call(c["id"])["phase"] == "running",
                         what="running")
            d.kill()
            self.assertTrue(first.hung_up.wait(3), "held connection survived")
            d.start()
            done = d.wait_done(c["id"])
            self.assertEqual(done["state"], "finished", done)
            self.assertEqual(done["result"]["status"], 200, done)
            self.assertEqual(done["result"]["body"], {"got": "it"})
            self.assertEqual(done["attempts"], 2)     # one before, one after
            reqs = rx.wait_requests(2)
            self.assertEqual(len(reqs), 2)
            second = reqs[1]
            self.assertEqual(second.path, "/r")
            self.assertEqual(second.json(), first.json())
            self.assertEqual(second.json(), {"call": c["id"], "args": ["once"]})
            w1, _ = verify_signature(key, first, self)
            w2, ts2 = verify_signature(key, second, self)
            self.assertEqual(w1, c["id"])
            self.assertEqual(w2, w1, "webhook-id changed across the restart")
            self.assertLess(abs(ts2 - second.unix), 5)


# -- 14. output cap ----------------------------------------------------------------

class OutputCapTest(WebhookCase):
    opts = dict(FAST, max_output="1K")

    def test_text_body_cut(self):
        text = "".join("%05d\n" % i for i in range(1000))     # 6000 bytes
        rx = self.receiver([{"status": 200, "text": text}])
        res = self.run_hook(hook(rx.url))["result"]
        self.assertEqual(res["status"], 200)
        self.assertIs(res.get("body_truncated"), True, res)
        self.assertEqual(res["body"], text[:1024])

    def test_json_body_cut_is_a_string(self):
        doc = {"items": ["x" * 50 for _ in range(100)]}
        rx = self.receiver([{"status": 200, "json": doc}])
        res = self.run_hook(hook(rx.url))["result"]
        self.assertIs(res.get("body_truncated"), True, res)
        self.assertIsInstance(res["body"], str)
        self.assertEqual(res["body"], json.dumps(doc)[:1024])

    def test_body_at_cap_not_cut(self):
        rx = self.receiver([{"status": 200, "text": "y" * 1024}])
        res = self.run_hook(hook(rx.url))["result"]
        self.assertEqual(res["body"], "y" * 1024)
        self.assertNotIn("body_truncated", res)

    def test_failure_body_cut(self):
        rx = self.receiver(default={"status": 404, "text": "z" * 5000})
        done = self.run_hook(hook(rx.url))
        e = self.assertFailed(done, 404)
        if "body" in e:
            self.assertLessEqual(len(e["body"]), 1024)
            self.assertIs(e.get("body_truncated"), True, e)


if __name__ == "__main__":
    unittest.main()
