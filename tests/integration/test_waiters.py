"""Held requests (long-polls, wait, gather) whose clients hang up are
released at once, not when their wait runs out: with max_waiters = 5, five
waiters that leave must free their slots well before their 60 s wait ends."""

import json
import os
import resource
import selectors
import socket
import time
import unittest

from harness import LOOPD, Daemon


def metric(d, name):
    for line in d.request("GET", "/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def many_waiters():
    """10,000 waiters, fewer under a sanitizer (a build in build/san) or
    when this process may not open that many sockets."""
    n = 2000 if "/san/" in LOOPD else 10000
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(100, min(n, soft - 200))


class Conn:
    """A keep-alive connection that sends requests and parses replies
    (status, headers, body) as bytes come, for many at once."""

    def __init__(self, d):
        self.s = socket.create_connection((d.host, d.port), 10)
        self.s.setblocking(False)
        self.token = d.token
        self.buf = b""
        self.replies = []

    def send(self, method, path):
        req = "%s %s HTTP/1.1\r\nHost: loopd\r\nAuthorization: Bearer %s\r\n\r\n" % (
            method, path, self.token)
        self.s.setblocking(True)
        self.s.sendall(req.encode())
        self.s.setblocking(False)

    def feed(self):
        """Read what there is; parse whole replies. False once closed."""
        try:
            data = self.s.recv(65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, rest = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            hdrs = {k.lower(): v.strip() for k, v in
                    (l.split(":", 1) for l in lines[1:])}
            n = int(hdrs["content-length"])
            if len(rest) < n:
                break
            self.replies.append((int(lines[0].split()[1]), hdrs, rest[:n]))
            self.buf = rest[n:]
        return True


def read_replies(conns, want, timeout):
    """Read until every connection has `want` replies; fail on a close."""
    sel = selectors.DefaultSelector()
    for c in conns:
        if len(c.replies) < want:
            sel.register(c.s, selectors.EVENT_READ, c)
    deadline = time.monotonic() + timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("%d connections still without reply %d"
                                 % (len(sel.get_map()), want))
        for key, _ in sel.select(min(left, 1)):
            c = key.data
            if not c.feed():
                raise AssertionError("a connection closed after %d replies" % len(c.replies))
            if len(c.replies) >= want:
                sel.unregister(c.s)
    sel.close()


class HangUpTest(unittest.TestCase):
    def test_hung_up_waiters_free_their_slots(self):
        with Daemon(opts={"max_waiters": "5", "max_wait": "60s"}) as d:
            f = d.request("POST", "/v1/futures")[2]["id"]
            held = [d.begin("GET", "/v1/futures/%s?wait=60" % f) for _ in range(4)]
            held.append(d.begin("POST", "/v1/wait", {"futures": [f], "timeout": 60}))
            # All five slots are taken: the next waiter is refused.
            def refused():
                st, hdrs, body = d.request("GET", "/v1/futures/%s?wait=60" % f)
                return st == 429 and "retry-after" in hdrs
            d.wait_until(refused, timeout=10, what="the sixth waiter refused")
            for p in held:
                p.close()
            # Their slots come back long before 60 s.
            def accepted():
                p = d.begin("GET", "/v1/futures/%s?wait=0.2" % f)
                r = p.response()
                p.close()
                return r is not None and r.status == 200
            d.wait_until(accepted, timeout=10, what="a slot freed by a hang-up")
            # And the future still settles and wakes a fresh waiter.
            p = d.begin("GET", "/v1/futures/%s?wait=30" % f)
            st = d.request("POST", "/v1/futures/%s/result" % f, {"result": 7})[0]
            self.assertEqual(st, 200)
            r = p.response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body["result"], 7)


class ManyWaitersTest(unittest.TestCase):
    def test_ten_thousand_waiters_answered_and_kept_alive(self):
        """Every waiter on one future gets the result (issue 18), on a
        connection that stays usable; a request pipelined behind a
        long-poll is answered after it, in order."""
        n = many_waiters()
        opts = {"max_connections": n + 100, "max_connections_per_ip": n + 100,
                "max_waiters": n + 100}
        with Daemon(opts=opts) as d:
            f = d.request("POST", "/v1/futures")[2]["id"]
            conns = []
            try:
                for _ in range(n):
                    c = Conn(d)
                    c.send("GET", "/v1/futures/%s?wait=60" % f)
                    conns.append(c)
                # Two more pipeline a plain GET behind their long-poll.
                piped = []
                for _ in range(2):
                    c = Conn(d)
                    c.send("GET", "/v1/futures/%s?wait=60" % f)
                    c.send("GET", "/v1/time")
                    piped.append(c)
                d.wait_until(lambda: metric(d, "loopd_waiters") == n + 2, timeout=120,
                             what="%d waiters held" % (n + 2))
                st = d.request("POST", "/v1/futures/%s/result" % f, {"result": 7})[0]
                self.assertEqual(st, 200)
                read_replies(conns + piped, 1, 120)
                for c in conns + piped:
                    status, hdrs, body = c.replies[0]
                    self.assertEqual(status, 200)
                    self.assertEqual(hdrs["content-type"], "application/json")
                    self.assertEqual(json.loads(body)["result"], 7)
                read_replies(piped, 2, 30)
                for c in piped:
                    self.assertEqual(c.replies[1][0], 200)
                    self.assertIn("loop_time", json.loads(c.replies[1][2]))
                # Every connection is still usable: its next request is
                # answered on it.
                for c in conns:
                    c.send("GET", "/v1/futures/%s" % f)
                read_replies(conns, 2, 120)
                for c in conns:
                    self.assertEqual(c.replies[1][0], 200)
                    self.assertEqual(json.loads(c.replies[1][2])["state"], "finished")
                self.assertEqual(metric(d, "loopd_waiters"), 0)
                # And again a long-poll on the same connections, answered
                # at its deadline this time.
                g = d.request("POST", "/v1/futures")[2]["id"]
                for c in conns[:100]:
                    c.send("GET", "/v1/futures/%s?wait=0.2" % g)
                read_replies(conns[:100], 3, 30)
                for c in conns[:100]:
                    self.assertEqual(c.replies[2][0], 200)
                    self.assertEqual(json.loads(c.replies[2][2])["state"], "pending")
            finally:
                for c in conns:
                    c.s.close()
            # Closed connections are forgotten.
            d.wait_until(lambda: metric(d, "loopd_connections") <= 1, timeout=30,
                         what="the connections to be forgotten")


if __name__ == "__main__":
    unittest.main()
