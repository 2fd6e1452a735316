"""The commit hold without a suspend (issue 18): a 2xx waits for its commit
with the connection left blocked in libmicrohttpd, not suspended. Pipelined
requests are still answered in order on a kept-alive connection, and
clients that hang up while their reply waits for the commit leave nothing
behind."""

import socket
import struct
import unittest

from harness import Daemon


def metric(d, name):
    """One sample of GET /metrics."""
    for line in d.request("GET", "/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in /metrics" % name)


class Reader:
    """Replies read one after the other from one socket (Content-Length
    framed, as loopd's are)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the connection closed")
        self.buf += data

    def reply(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, v = line.split(":", 1)
            if k.strip().lower() == "content-length":
                length = int(v)
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, body


def pipelined(d, reqs):
    """Send every request at once on one connection, read the replies in
    order; the socket and its reader are returned."""
    s = d.connect()
    data = b""
    for method, path, body in reqs:
        raw = body.encode() if body is not None else b""
        data += d.http_bytes(method, path, raw, headers={"Connection": "keep-alive"})
    s.sendall(data)
    rd = Reader(s)
    return s, rd, [rd.reply() for _ in reqs]


class ReqPathTest(unittest.TestCase):

    def test_pipelined_requests_answered_in_order_and_kept_alive(self):
        with Daemon() as d:
            reqs = []
            for i in range(8):
                reqs.append(("POST", "/v1/calls",
                             '{"after":3600,"name":"p%d","command":{"argv":["true"]}}' % i))
                reqs.append(("GET", "/v1/time", None))
            s, rd, out = pipelined(d, reqs)
            try:
                self.assertEqual([st for st, _ in out], [201, 200] * 8)
                names = [b'"name":"p%d"' % i in body for i, (_, body)
                         in enumerate(out[0::2])]
                self.assertEqual(names, [True] * 8, "replies out of order")
                # The same connection serves another request after them.
                s.sendall(d.http_bytes("POST", "/v1/futures", b"",
                                       headers={"Connection": "keep-alive"}))
                self.assertEqual(rd.reply()[0], 201)
            finally:
                s.close()
            # Every acknowledged call is there.
            self.assertEqual(len(d.call_ids("name=p3")), 1)

    def test_a_burst_larger_than_one_mhd_run(self):
        # One MHD run dispatches for about 1 ms (RUN_US); the rest of a
        # burst waits, whole, for the next run. 200 connections with 3
        # pipelined requests each, all sent at once: every one answered,
        # in order on its connection, and the connections kept alive.
        with Daemon(opts={"max_connections_per_ip": 1000}) as d:
            socks = []
            try:
                for i in range(200):
                    socks.append(d.connect())
                for i, s in enumerate(socks):
                    data = b""
                    for j in range(3):
                        data += d.http_bytes(
                            "POST", "/v1/futures", b'{"name":"b%d-%d"}' % (i, j),
                            headers={"Connection": "keep-alive",
                                     "Content-Type": "application/json"})
                    s.sendall(data)
                for i, s in enumerate(socks):
                    rd = Reader(s)
                    out = [rd.reply() for _ in range(3)]
                    self.assertEqual([st for st, _ in out], [201] * 3)
                    self.assertEqual([b'"name":"b%d-%d"' % (i, j) in body
                                      for j, (_, body) in enumerate(out)], [True] * 3,
                                     "replies out of order on connection %d" % i)
                    s.sendall(d.http_bytes("GET", "/v1/time", b"",
                                           headers={"Connection": "keep-alive"}))
                    self.assertEqual(rd.reply()[0], 200)
            finally:
                for s in socks:
                    s.close()

    def test_clients_hanging_up_while_their_reply_waits(self):
        with Daemon() as d:
            for i in range(300):
                s = d.connect()
                s.sendall(d.http_bytes("POST", "/v1/futures", b""))
                if i % 2:
                    # RST at once: often while the commit is still going.
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack("ii", 1, 0))
                s.close()
            # Still serving, and every connection is gone in the end.
            self.assertEqual(d.request("GET", "/v1/time").status, 200)
            d.wait_until(lambda: metric(d, "loopd_connections") <= 1,
                         what="the hung-up connections to close")
            r = d.request("POST", "/v1/futures")
            self.assertEqual(r.status, 201)


if __name__ == "__main__":
    unittest.main()
