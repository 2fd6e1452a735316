"""GET /v1/events (Server-Sent Events): change events with ids, once
durable; the hello names the last id; replay with Last-Event-ID; `event:
reset` when the id is from before the ring or from an earlier run; a
keep-alive comment; max_event_streams (503, counted in /metrics); streams
end cleanly on SIGTERM. GET /v1/futures (filters, paging) and `loopctl ls
--futures`; /ui/ with its CSP; console = read-only and off; loopctl ui."""

import json
import socket
import time

from harness import Daemon, DaemonTestCase, wait_until


class Stream:
    """A raw SSE client: one GET /v1/events on a socket of its own."""

    def __init__(self, d, last=None, query=""):
        self.sock = d.connect(timeout=10)
        hdr = "GET /v1/events%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" % (
            query, d.token)
        if last is not None:
            hdr += "Last-Event-ID: %s\r\n" % last
        self.sock.sendall((hdr + "\r\n").encode())
        self.buf = b""
        self.head = self._until(b"\r\n\r\n").decode()
        self.status = int(self.head.split()[1])
        self.text = ""

    def _until(self, sep, timeout=10):
        deadline = time.monotonic() + timeout
        while sep not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("stream closed")
            self.buf += chunk
        out, self.buf = self.buf.split(sep, 1)
        return out

    def read_chunked(self, timeout=10):
        """One chunk of the chunked body ('' at its end)."""
        size = int(self._until(b"\r\n", timeout), 16)
        if size == 0:
            return ""
        deadline = time.monotonic() + timeout
        while len(self.buf) < size + 2:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("stream closed")
            self.buf += chunk
        data, self.buf = self.buf[:size], self.buf[size + 2:]
        return data.decode()

    def blocks(self, n=1, timeout=10):
        """The next n SSE blocks, as dicts of their fields."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            while "\n\n" not in self.text:
                self.text += self.read_chunked(max(0.01, deadline - time.monotonic()))
            block, self.text = self.text.split("\n\n", 1)
            fields = {}
            for line in block.split("\n"):
                k, _, v = line.partition(":")
                fields.setdefault(k, v[1:] if v.startswith(" ") else v)
            out.append(fields)
        return out

    def events(self, n, timeout=10):
        """The next n blocks that are events (comments skipped)."""
        out = []
        while len(out) < n:
            b = self.blocks(1, timeout)[0]
            if "event" in b:
                out.append(b)
        return out

    def close(self):
        self.sock.close()


class EventsTest(DaemonTestCase):
    opts = {"event_keepalive": "0.3s", "max_event_streams": "3", "event_ring": "16"}

    def test_events_in_order_with_ids(self):
        s = Stream(self.d)
        try:
            self.assertEqual(s.status, 200)
            self.assertIn("text/event-stream", s.head)
            hello = s.blocks(1)[0]
            self.assertEqual(hello["retry"], "2000")
            last = int(hello["id"])
            c = self.d.schedule({"soon": True, "command": {"argv": ["echo", "hi"]}})
            ev = s.events(3)
            self.assertEqual([e["event"] for e in ev],
                             ["call.created", "call.started", "call.finished"])
            ids = [int(e["id"]) for e in ev]
            self.assertEqual(ids, [last + 1, last + 2, last + 3])
            data = [json.loads(e["data"]) for e in ev]
            self.assertTrue(all(d["id"] == c["id"] for d in data))
            self.assertEqual(data[1]["phase"], "running")
            self.assertEqual(data[2]["state"], "finished")
            self.assertEqual(data[2]["outcome"], "result")
            # The event comes after the change is durable: the object
            # already shows it.
            self.assertEqual(self.d.call(c["id"])["state"], "finished")
            st, _, f = self.d.request("POST", "/v1/futures", {})
            self.assertEqual(s.events(1)[0]["event"], "future.created")
            self.d.request("POST", "/v1/futures/%s/result" % f["id"], {"result": 1})
            e = s.events(1)[0]
            self.assertEqual(e["event"], "future.settled")
            self.assertEqual(json.loads(e["data"])["id"], f["id"])
            c2 = self.d.schedule({"after": 60, "command": {"argv": ["true"]}})
            self.d.request("DELETE", "/v1/calls/" + c2["id"])
            self.assertEqual([e["event"] for e in s.events(2)],
                             ["call.created", "call.cancelled"])
            # Keep-alive comments come between events.
            s.text += s.read_chunked(5)
            self.assertIn(": keep-alive", s.text)
        finally:
            s.close()

    def test_schedule_changed(self):
        s = Stream(self.d)
        try:
            s.blocks(1)                     # the hello
            st, _, sc = self.d.request("POST", "/v1/schedules", {
                "every": 3600, "command": {"argv": ["true"]}})
            self.assertEqual(st, 201, sc)
            # Its creation (with its first occurrence as a call), then a
            # pause: each a schedule.changed carrying the schedule's id.
            seen = []
            while not any(e["event"] == "schedule.changed" for e in seen):
                seen += s.events(1)
            e = [e for e in seen if e["event"] == "schedule.changed"][0]
            self.assertEqual(json.loads(e["data"])["id"], sc["id"])
            self.assertEqual(json.loads(e["data"])["kind"], "schedule")
            self.d.request("POST", "/v1/schedules/%s/pause" % sc["id"], {})
            while True:
                e = s.events(1)[0]
                if e["event"] == "schedule.changed":
                    break
            self.assertEqual(json.loads(e["data"])["id"], sc["id"])
            self.assertEqual(self.d.get_json("/v1/schedules/" + sc["id"])["state"], "paused")
        finally:
            s.close()

    def test_replay_and_reset(self):
        s = Stream(self.d)
        last = int(s.blocks(1)[0]["id"])
        s.close()
        st, _, f = self.d.request("POST", "/v1/futures", {})
        self.d.request("POST", "/v1/futures/%s/cancel" % f["id"])
        s = Stream(self.d, last=last)
        try:
            ev = s.events(2)
            self.assertEqual([e["event"] for e in ev], ["future.created", "future.settled"])
            self.assertEqual(int(ev[0]["id"]), last + 1)
        finally:
            s.close()
        # Past the ring (16 events): reset, then live from there.
        for _ in range(10):
            self.d.request("POST", "/v1/futures/%s/cancel" % self.d.request(
                "POST", "/v1/futures", {})[2]["id"])
        s = Stream(self.d, last=last)
        try:
            e = s.events(1)[0]
            self.assertEqual(e["event"], "reset")
            nxt = json.loads(e["data"])["next"]
            self.assertEqual(int(e["id"]), nxt - 1)
            self.d.request("POST", "/v1/futures", {})
            self.assertEqual(int(s.events(1)[0]["id"]), nxt)
        finally:
            s.close()
        # An id this daemon never gave (a later one): reset too.
        s = Stream(self.d, query="?last_event_id=%d" % (last + 10 ** 9))
        try:
            self.assertEqual(s.events(1)[0]["event"], "reset")
        finally:
            s.close()
        st, _, body = self.d.request("GET", "/v1/events?last_event_id=x")
        self.assertEqual(st, 400)

    def test_cap_counted(self):
        streams = [Stream(self.d) for _ in range(3)]
        try:
            wait_until(lambda: self.metric("loopd_event_streams") == 3, what="3 streams")
            st, hdr, body = self.d.request("GET", "/v1/events")
            self.assertEqual(st, 503)
            self.assertIn("max_event_streams", body["detail"])
            self.assertIn("retry-after", hdr)
            self.assertGreaterEqual(self.metric("loopd_event_streams_refused_total"), 1)
            # The API is still served meanwhile.
            self.assertEqual(self.d.request("GET", "/v1/time")[0], 200)
        finally:
            for s in streams:
                s.close()
        wait_until(lambda: self.metric("loopd_event_streams") == 0, what="streams closed")

    def metric(self, name):
        st, _, text = self.d.request("GET", "/metrics")
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def test_needs_token(self):
        st, _, _ = self.d.request("GET", "/v1/events", auth=False)
        self.assertEqual(st, 401)


class EventsDrainTest(DaemonTestCase):
    def test_streams_end_on_sigterm(self):
        s = Stream(self.d)
        s.blocks(1)
        t0 = time.monotonic()
        self.d.stop()
        # The chunked body ends (a zero chunk), then the connection closes.
        while True:
            try:
                if s.read_chunked(10) == "":
                    break
            except EOFError:
                break
        self.assertLess(time.monotonic() - t0, 5)
        s.close()
        self.d.start()          # for the class's own clean-up


class FuturesListTest(DaemonTestCase):
    def test_list_filters_and_pages(self):
        ids = [self.d.request("POST", "/v1/futures", {"name": "lf"})[2]["id"] for _ in range(5)]
        self.d.request("POST", "/v1/futures/%s/result" % ids[0], {"result": 1})
        self.d.schedule({"soon": True, "command": {"argv": ["true"]}})
        st, _, body = self.d.request("GET", "/v1/futures?page_size=2&name=lf")
        self.assertEqual(st, 200)
        self.assertEqual([o["id"] for o in body["items"]], ids[:2])
        self.assertTrue(all(o["kind"] == "future" for o in body["items"]))
        st, _, body2 = self.d.request("GET", "/v1/futures?page_size=2&name=lf&page_token="
                                      + body["next_page_token"])
        self.assertEqual([o["id"] for o in body2["items"]], ids[2:4])
        st, _, body = self.d.request("GET", "/v1/futures?state=pending&name=lf")
        self.assertEqual([o["id"] for o in body["items"]], ids[1:])
        self.assertEqual(self.d.request("GET", "/v1/futures?phase=running")[0], 400)
        self.assertEqual(self.d.request("GET", "/v1/futures?state=bogus")[0], 400)
        p = self.d.loopctl("ls", "--futures", "--pending", "-q")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(set(p.stdout.split()), set(ids[1:]))
        p = self.d.loopctl("ls", "--futures", "--running")
        self.assertEqual(p.returncode, 2)


class ConsoleRoutesTest(DaemonTestCase):
    def test_ui_served_with_csp(self):
        for path in ("/ui/", "/ui", "/ui/app.js", "/ui/app.css"):
            st, hdr, body = self.d.request("GET", path, auth=False)
            self.assertEqual(st, 200, path)
            self.assertTrue(hdr["content-security-policy"].startswith("default-src 'self'"))
            self.assertEqual(hdr["x-content-type-options"], "nosniff")
        st, hdr, body = self.d.request("GET", "/ui/", auth=False)
        self.assertIn("text/html", hdr["content-type"])
        self.assertIn('src="/ui/app.js"', body)
        self.assertNotIn("<script>", body)          # no inline script
        st, _, body = self.d.request("GET", "/ui/app.js", auth=False)
        self.assertNotIn("innerHTML", body)
        self.assertNotIn("http://", body.replace("http://127", ""))
        self.assertEqual(self.d.request("GET", "/ui/console.json", auth=False)[2],
                         {"console": "on"})
        self.assertEqual(self.d.request("GET", "/ui/nope", auth=False)[0], 404)
        # The console's header changes nothing when console = on.
        st, _, _ = self.d.request("POST", "/v1/futures", {}, headers={"Loop-Console": "1"})
        self.assertEqual(st, 201)

    def test_loopctl_ui(self):
        p = self.d.loopctl("ui", env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), self.d.url.rstrip("/") + "/ui/")


class ConsoleReadOnlyTest(DaemonTestCase):
    opts = {"console": "read-only"}

    def test_console_writes_refused(self):
        self.assertEqual(self.d.request("GET", "/ui/console.json", auth=False)[2],
                         {"console": "read-only"})
        st, _, body = self.d.request("POST", "/v1/futures", {}, headers={"Loop-Console": "1"})
        self.assertEqual(st, 403)
        self.assertIn("read-only", body["detail"])
        self.assertEqual(self.d.request("GET", "/v1/futures", headers={"Loop-Console": "1"})[0],
                         200)
        # Other clients are not concerned.
        self.assertEqual(self.d.request("POST", "/v1/futures", {})[0], 201)

    def test_browser_headers_mean_read_scope(self):
        """Without the console's own marker, what only a browser sends
        (Origin, Sec-Fetch-Site) is enough: the request is served with the
        read scope, and GET /v1/status says so."""
        f = self.d.request("POST", "/v1/futures", {})[2]
        for h in ({"Origin": "http://127.0.0.1:%d" % self.d.port}, {"Sec-Fetch-Site": "same-origin"}):
            for method, path, body in (("POST", "/v1/futures", {}),
                                       ("POST", "/v1/futures/%s/result" % f["id"], {"result": 1}),
                                       ("DELETE", "/v1/calls/%s" % f["id"], None),
                                       ("POST", "/v1/calls", {"soon": True,
                                                              "command": {"argv": ["true"]}})):
                st, _, b = self.d.request(method, path, body, headers=h)
                self.assertEqual(st, 403, (h, method, path))
                self.assertIn("read-only", b["detail"])
            # Reads, and the read-scoped POST /v1/wait, are served.
            self.assertEqual(self.d.request("GET", "/v1/futures", headers=h)[0], 200)
            st, _, w = self.d.request("POST", "/v1/wait", {"futures": [f["id"]], "timeout": 0},
                                      headers=h)
            self.assertEqual(st, 200, w)
            st, _, status = self.d.request("GET", "/v1/status", headers=h)
            self.assertEqual(status["token"]["scopes"], ["read", "metrics"])
        self.assertEqual(self.d.request("GET", "/v1/futures/" + f["id"])[2]["state"], "pending")
        st, _, status = self.d.request("GET", "/v1/status")
        self.assertIn("admin", status["token"]["scopes"])


class ConsoleOffTest(DaemonTestCase):
    opts = {"console": "off"}

    def test_off(self):
        self.assertEqual(self.d.request("GET", "/ui/", auth=False)[0], 404)
        self.assertEqual(self.d.request("POST", "/v1/futures", {},
                                        headers={"Loop-Console": "1"})[0], 403)


class ConsoleConfigTest(DaemonTestCase):
    def test_bad_console_value(self):
        d = Daemon(opts={"console": "maybe"})
        try:
            with self.assertRaises(AssertionError):
                d.start()
            self.assertIn("console must be off, read-only or on", d.log())
        finally:
            d.close(check=False)
