"""
The Python client's schedules and event stream against the real daemon:
every Schedule method in both faces (create, get, list, pause, resume,
trigger, backfill, update, delete, refresh), their errors (400 naming the
field, 404, 409), a schedule firing every second and its occurrence
awaited, the event stream (blocking and async) seeing a call's
call.created/started/finished, replay from Last-Event-ID, closing by
cancellation, and reconnection across a daemon restart.
"""
import asyncio
import http.server
import json
import os
import socket
import sys
import threading
import time
import unittest

from harness import ROOT, Daemon, DaemonTestCase, wait_until

sys.path.insert(0, os.path.join(ROOT, "client", "python"))

import loopd  # noqa: E402

TRUE = loopd.Command(["true"])
ECHO = loopd.Command(["echo"])
HOUR = 3600


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collector:
    """Iterates a blocking EventStream on a thread, keeping the events."""

    def __init__(self, stream):
        self.stream = stream
        self.events = []
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for ev in self.stream:
                self.events.append(ev)
        except Exception as e:      # noqa: BLE001 - reported by the test
            self.error = e

    def types_of(self, oid):
        return [e.type for e in list(self.events) if e.object_id == oid]

    def close(self):
        self.stream.close()
        self.thread.join(10)
        assert not self.thread.is_alive(), "event stream did not end on close()"


class Case(DaemonTestCase):
    opts = {"max_wait": "5s"}

    def connect(self, **kw):
        loop = loopd.connect(self.d.url, token_file=self.d.token_file, **kw)
        self.addCleanup(loop.close)
        return loop

    def aconnect(self, **kw):
        return loopd.connect_async(self.d.url, token_file=self.d.token_file, **kw)


class BlockingSchedulesTest(Case):

    def test_create_get_list(self):
        loop = self.connect()
        s = loop.schedule(ECHO, "x", every=HOUR, name="py-list-a", jitter=0)
        self.assertIsInstance(s, loopd.Schedule)
        self.assertRegex(s.id, r"^s_[0-9a-f]{16}$")
        self.assertEqual(s.state, "active")
        self.assertEqual(s.name, "py-list-a")
        self.assertEqual(len(s.next_unix), 5)
        self.assertGreater(s.next_unix[0], time.time() - 5)
        self.assertEqual(len(s.next_local), 5)
        c = loop.schedule(TRUE, cron="0 3 * * *", tz="Europe/Paris",
                          name="py-list-b", overlap="buffer_one",
                          catchup="latest", catchup_window=120)
        self.assertEqual(c.snapshot["cron"], "0 3 * * *")
        self.assertEqual(c.snapshot["tz"], "Europe/Paris")
        self.assertTrue(c.next_local[0].endswith(("+01:00", "+02:00")))
        cal = loop.schedule(TRUE, calendar="Mon *-*-* 09:00:00", name="py-list-c",
                            start=time.time(), end="2099-01-01T00:00:00Z")
        self.assertEqual(cal.snapshot["calendar"], "Mon *-*-* 09:00:00")
        got = loop.get_schedule(s.id)
        self.assertEqual(got, s)
        self.assertEqual(got.snapshot["args"], ["x"])
        ids = [x.id for x in loop.schedules()]
        self.assertEqual([i for i in ids if i in (s.id, c.id, cal.id)],
                         [s.id, c.id, cal.id])       # oldest first
        self.assertEqual([x.id for x in loop.schedules(name="py-list-b")], [c.id])
        c.pause()
        self.assertIn(c.id, [x.id for x in loop.schedules(state="paused")])
        self.assertNotIn(c.id, [x.id for x in loop.schedules(state="active")])
        for x in (s, c, cal):
            x.delete()

    def test_pause_resume_trigger_refresh(self):
        loop = self.connect()
        s = loop.schedule(ECHO, "hi", every=HOUR, name="py-prt")
        self.assertEqual(s.pause()["state"], "paused")
        self.assertEqual(s.state, "paused")
        with self.assertRaises(loopd.APIError) as cm:
            s.pause()
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(s.resume()["state"], "active")
        with self.assertRaises(loopd.APIError) as cm:
            s.resume()
        self.assertEqual(cm.exception.status, 409)
        call = s.trigger()
        self.assertIsInstance(call, loopd.Call)
        self.assertEqual(call.snapshot["schedule"], s.id)
        self.assertEqual(call.wait(timeout=10)["stdout"], "hi\n")
        obj = s.refresh()
        self.assertIs(obj, s.snapshot)
        self.assertIn(call.id, [r["call"] for r in s.recent])
        occ = [o for o in s.occurrences() if o.id == call.id]
        self.assertEqual(len(occ), 1)
        self.assertIsInstance(occ[0], loopd.Call)
        self.assertEqual(occ[0].wait(timeout=10)["exit_code"], 0)
        self.assertGreaterEqual(s.fired, 1)
        s.delete()

    def test_backfill(self):
        loop = self.connect()
        now = time.time()
        s = loop.schedule(TRUE, every=HOUR, name="py-backfill",
                          start=now - 3 * HOUR)
        n = s.backfill(now - 3 * HOUR, now - 1)
        self.assertGreaterEqual(n, 2)
        self.assertLessEqual(n, 4)
        self.assertGreaterEqual(len(s.recent), n)
        past = {r["call"] for r in s.recent if r["scheduled_for"] < now}
        self.assertGreaterEqual(len(past), n)
        for occ in s.occurrences():
            if occ.id in past:              # not the one made ahead
                occ.wait(timeout=10)
        # Those nominal times have calls now: none is made twice.
        self.assertEqual(s.backfill(now - 3 * HOUR, now - 1), 0)
        with self.assertRaises(loopd.APIError) as cm:
            s.backfill(now - 1, now + HOUR)         # to: in the future
        self.assertEqual(cm.exception.status, 400)
        s.delete()

    def test_update_and_delete(self):
        loop = self.connect()
        s = loop.schedule(TRUE, every=HOUR, name="py-upd", jitter=5)
        self.assertEqual(s.next_unix[1] - s.next_unix[0], HOUR)
        obj = s.update(every=2 * HOUR, jitter=None, name="py-upd2")
        self.assertEqual(obj["name"], "py-upd2")
        self.assertFalse(obj.get("jitter"))         # null: back to none
        self.assertEqual(s.name, "py-upd2")
        self.assertEqual(s.next_unix[1] - s.next_unix[0], 2 * HOUR)
        s.update(ECHO, "new")
        self.assertEqual(s.refresh()["args"], ["new"])
        self.assertIn("command", s.snapshot)
        with self.assertRaises(loopd.APIError) as cm:
            s.update(every="soonish")
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("every", cm.exception.detail)
        self.assertEqual(s.refresh()["name"], "py-upd2")    # changed nothing
        gone = s.delete()
        self.assertEqual(gone["state"], "deleted")
        self.assertEqual(s.state, "deleted")
        with self.assertRaises(loopd.APIError) as cm:
            s.refresh()
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(loopd.APIError) as cm:
            loop.get_schedule(s.id)
        self.assertEqual(cm.exception.status, 404)

    def test_errors(self):
        loop = self.connect()
        with self.assertRaises(loopd.APIError) as cm:
            loop.schedule(TRUE, cron="61 * * * *")
        self.assertEqual(cm.exception.status, 400)
        self.assertEqual(cm.exception.type, "BadRequest")
        self.assertIn("cron", cm.exception.detail)
        with self.assertRaises(loopd.APIError) as cm:
            loop.schedule(TRUE, cron="0 3 * * *", tz="Mars/Olympus")
        self.assertIn("tz", cm.exception.detail)
        with self.assertRaises(loopd.APIError) as cm:
            loop.schedule(TRUE, every=0.2)
        self.assertIn("every", cm.exception.detail)
        with self.assertRaises(loopd.APIError) as cm:
            loop.schedule(TRUE, every=HOUR, overlap="sometimes")
        self.assertIn("overlap", cm.exception.detail)
        with self.assertRaises(TypeError):
            loop.schedule(TRUE)                     # no spec
        with self.assertRaises(TypeError):
            loop.schedule(TRUE, every=5, cron="* * * * *")
        with self.assertRaises(TypeError):
            loop.schedule(TRUE, every=5, colour="red")
        with self.assertRaises(ValueError):
            loop.get_schedule("c_0000000000000001")

    def test_fires_every_second(self):
        loop = self.connect()
        s = loop.schedule(ECHO, "tick", every=1, name="py-tick")
        self.addCleanup(s.delete)
        wait_until(lambda: s.refresh()["recent"], timeout=10,
                   what="an occurrence of an every-1s schedule")
        occ = s.occurrences()[0]
        self.assertEqual(occ.wait(timeout=10)["stdout"], "tick\n")
        self.assertEqual(occ.snapshot["schedule"], s.id)
        self.assertIn("scheduled_for", occ.snapshot)


class AsyncSchedulesTest(Case):

    def test_every_method(self):
        async def main():
            loop = self.aconnect()
            try:
                s = await loop.schedule(ECHO, "a", every=HOUR, name="py-async",
                                        catchup="skip")
                self.assertIsInstance(s, loopd.AsyncSchedule)
                self.assertEqual(s.state, "active")
                got = await loop.get_schedule(s.id)
                self.assertEqual(got.snapshot["args"], ["a"])
                self.assertEqual([x.id for x in await loop.schedules(name="py-async")],
                                 [s.id])
                self.assertEqual((await s.pause())["state"], "paused")
                self.assertEqual([x.id for x in await loop.schedules(
                    state="paused", name="py-async")], [s.id])
                with self.assertRaises(loopd.APIError) as cm:
                    await s.pause()
                self.assertEqual(cm.exception.status, 409)
                self.assertEqual((await s.resume())["state"], "active")
                call = await s.trigger()
                self.assertIsInstance(call, loopd.AsyncCall)
                self.assertEqual((await call)["stdout"], "a\n")
                await s.refresh()
                occ = [o for o in s.occurrences() if o.id == call.id]
                self.assertEqual(len(occ), 1)
                self.assertIsInstance(occ[0], loopd.AsyncCall)
                self.assertEqual((await occ[0])["exit_code"], 0)
                now = time.time()
                n = await s.backfill(now - 2 * HOUR - 60, now - 60)
                self.assertGreaterEqual(n, 0)
                await s.update(name="py-async2", every="2h")
                self.assertEqual(s.name, "py-async2")
                with self.assertRaises(loopd.APIError) as cm:
                    await s.update(tz="Nowhere/Else", every=None, cron="0 1 * * *")
                self.assertEqual(cm.exception.status, 400)
                self.assertIn("tz", cm.exception.detail)
                with self.assertRaises(loopd.APIError) as cm:
                    await loop.schedule(TRUE, calendar="someday")
                self.assertIn("calendar", cm.exception.detail)
                self.assertEqual((await s.delete())["state"], "deleted")
                with self.assertRaises(loopd.APIError) as cm:
                    await s.refresh()
                self.assertEqual(cm.exception.status, 404)
            finally:
                await loop.close()
        asyncio.run(main())

    def test_fires_every_second(self):
        async def main():
            loop = self.aconnect()
            try:
                s = await loop.schedule(ECHO, "tock", every=1, name="py-tock")
                try:
                    deadline = time.monotonic() + 10
                    while not (await s.refresh())["recent"]:
                        self.assertLess(time.monotonic(), deadline)
                        await asyncio.sleep(0.05)
                    occ = s.occurrences()[0]
                    self.assertEqual((await occ.wait(timeout=10))["stdout"], "tock\n")
                finally:
                    await s.delete()
            finally:
                await loop.close()
        asyncio.run(main())


class EventsTest(Case):

    def test_blocking_stream_sees_a_call(self):
        loop = self.connect()
        col = Collector(loop.events())
        self.addCleanup(col.close)
        wait_until(lambda: col.stream.connects and col.stream.last_event_id,
                   what="the stream's opening block")
        opened_at = col.stream.last_event_id
        h = loop.call_soon(TRUE)
        h.wait(timeout=10)
        wait_until(lambda: "call.finished" in col.types_of(h.id),
                   what="call.finished on the stream")
        self.assertEqual(col.types_of(h.id)[:3],
                         ["call.created", "call.started", "call.finished"])
        evs = [e for e in col.events if e.object_id == h.id]
        self.assertIsInstance(evs[0], loopd.Event)
        self.assertEqual(evs[2].data["outcome"], "result")
        self.assertEqual(evs[2].data["kind"], "call")
        ids = [int(e.id) for e in col.events]
        self.assertEqual(ids, sorted(ids))
        self.assertGreater(ids[0], int(opened_at))
        col.close()
        self.assertIsNone(col.error)
        # Replay: from the id before the call's creation, the same events.
        before = evs[0].id
        with loop.events(last_event_id=int(before) - 1) as again:
            got = []
            for ev in again:
                if ev.object_id == h.id:
                    got.append(ev.type)
                if ev.type == "call.finished" and ev.object_id == h.id:
                    break
        self.assertEqual(got[:3], ["call.created", "call.started", "call.finished"])

    def test_async_stream_and_cancel(self):
        async def main():
            loop = self.aconnect()
            try:
                stream = loop.events()
                seen = []
                opened = asyncio.Event()

                async def consume():
                    async for ev in stream:
                        seen.append(ev)

                task = asyncio.ensure_future(consume())
                deadline = time.monotonic() + 10
                while stream.last_event_id is None:
                    self.assertLess(time.monotonic(), deadline)
                    await asyncio.sleep(0.01)
                opened.set()
                h = await loop.call_soon(TRUE)
                await h.wait(timeout=10)
                while not any(e.type == "call.finished" and e.object_id == h.id
                              for e in seen):
                    self.assertLess(time.monotonic(), deadline)
                    await asyncio.sleep(0.01)
                self.assertEqual([e.type for e in seen if e.object_id == h.id][:3],
                                 ["call.created", "call.started", "call.finished"])
                self.assertIsNotNone(stream._stream)
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                self.assertIsNone(stream._stream)    # its connection closed
                # The daemon sees the stream gone.
                while "loopd_event_streams 0" not in self.d.request(
                        "GET", "/metrics").body:
                    self.assertLess(time.monotonic(), deadline)
                    await asyncio.sleep(0.02)
                # async with: a replay from last_event_id, then aclose.
                async with loop.events(last_event_id=seen[0].id) as again:
                    first = await again.__anext__()
                    self.assertEqual(int(first.id), int(seen[0].id) + 1)
            finally:
                await loop.close()
        asyncio.run(main())

    def test_async_aclose_from_another_task(self):
        async def main():
            loop = self.aconnect()
            try:
                stream = loop.events()
                seen = []

                async def consume():
                    async for ev in stream:
                        seen.append(ev)
                    return "ended"

                task = asyncio.ensure_future(consume())
                deadline = time.monotonic() + 10
                while stream.last_event_id is None:
                    self.assertLess(time.monotonic(), deadline)
                    await asyncio.sleep(0.01)
                await stream.aclose()
                self.assertEqual(await asyncio.wait_for(task, 10), "ended")
                self.assertEqual(stream.connects, 1)     # not reopened
            finally:
                await loop.close()
        asyncio.run(main())

    def test_bad_last_event_id(self):
        loop = self.connect()
        with self.assertRaises(loopd.APIError) as cm:
            next(iter(loop.events(last_event_id="banana")))
        self.assertEqual(cm.exception.status, 400)


class EventsRestartTest(unittest.TestCase):
    """A stream across a daemon restart on the same state dir and port:
    the client reconnects with Last-Event-ID; ids of an earlier run give
    `reset`, and the stream goes on with the new run's events."""

    def test_reconnect_after_restart(self):
        with Daemon(listen="127.0.0.1:%d" % free_port()) as d:
            self.restart_case(d)

    def restart_case(self, d):
        loop = loopd.connect(d.url, token_file=d.token_file)
        self.addCleanup(loop.close)
        col = Collector(loop.events(max_backoff=0.5))
        self.addCleanup(col.close)
        wait_until(lambda: col.stream.last_event_id, what="stream open")
        a = loop.call_soon(TRUE)
        a.wait(timeout=10)
        wait_until(lambda: "call.finished" in col.types_of(a.id),
                   what="call.finished of the first call")
        last_before = col.stream.last_event_id
        d.stop()
        d.start()
        self.assertIn(str(d.port), loop.url)
        wait_until(lambda: col.stream.connects >= 2, timeout=20,
                   what="the stream reconnected")
        b = loop.call_soon(TRUE)
        b.wait(timeout=10)
        wait_until(lambda: "call.finished" in col.types_of(b.id),
                   what="call.finished of a call after the restart")
        types = [e.type for e in col.events]
        i = [e.object_id for e in col.events].index(b.id)
        # docs/API.md: ids of an earlier run get a reset, then the stream
        # goes on with the new run's events.
        self.assertIn("reset", types)
        r = types.index("reset")
        self.assertLess(r, i)
        self.assertEqual(col.events[r].data.keys(), {"next"})
        self.assertGreater(int(col.events[r].id), int(last_before))
        self.assertEqual(types[:r][-1], "call.finished")
        self.assertIsNone(col.error)


class FakeStream:
    """A stand-in for GET /v1/events on 127.0.0.1, to drop connections at
    will: each request gets the next script entry (a status, or SSE text
    sent before the connection is closed); Last-Event-ID headers are kept."""

    def __init__(self, script):
        self.script = list(script)
        self.last_ids = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self):
                outer.last_ids.append(self.headers.get("Last-Event-ID"))
                step = outer.script.pop(0) if outer.script else 404
                if isinstance(step, int):
                    body = json.dumps({"type": "Unavailable", "status": step,
                                       "detail": "try later"}).encode()
                    self.send_response(step)
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Content-Length", str(len(body)))
                    if step == 503:
                        self.send_header("Retry-After", "0")
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(step.encode())
                self.wfile.flush()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


SCRIPT = [
    "retry: 2000\nid: 10\n\n: keep-alive\n"
    "id: 11\nevent: call.created\ndata: {\"id\":\"c_1\"}\n\n"
    "id: 12\nevent: call.started\ndata: {\"id\":",       # cut mid-block
    503,
    "retry: 2000\nid: 11\n\n"
    "id: 12\r\nevent: call.started\r\ndata: {\"id\":\"c_1\"}\r\n\r\n"
    "id: 13\nevent: note\ndata: two\ndata: lines\n\n",
    "id: 20\nevent: reset\ndata: {\"next\": 20}\n\n",
]


class EventReconnectTest(unittest.TestCase):
    """Reconnection with Last-Event-ID, against a stream that drops."""

    def check(self, events, fake):
        self.assertEqual([(e.id, e.type) for e in events],
                         [("11", "call.created"), ("12", "call.started"),
                          ("13", "note"), ("20", "reset")])
        self.assertEqual(events[1].data, {"id": "c_1"})
        self.assertEqual(events[2].data, "two\nlines")
        self.assertEqual(events[3].data, {"next": 20})
        # The first connection had no id; after the cut, the last complete
        # event's (11), also after the 503; then 13.
        self.assertEqual(fake.last_ids[:4], [None, "11", "11", "13"])

    def test_blocking(self):
        fake = FakeStream(SCRIPT)
        self.addCleanup(fake.close)
        loop = loopd.connect(fake.url, token="t")
        self.addCleanup(loop.close)
        got = []
        with loop.events(max_backoff=0.2) as evs:
            for ev in evs:
                got.append(ev)
                if ev.type == "reset":
                    break
            self.assertEqual(evs.last_event_id, "20")
        self.check(got, fake)

    def test_async(self):
        fake = FakeStream(SCRIPT)
        self.addCleanup(fake.close)

        async def main():
            loop = loopd.connect_async(fake.url, token="t")
            got = []
            async with loop.events(max_backoff=0.2) as evs:
                async for ev in evs:
                    got.append(ev)
                    if ev.type == "reset":
                        break
            await loop.close()
            return got
        self.check(asyncio.run(main()), fake)

    def test_gives_up(self):
        fake = FakeStream([503, 503, 503, 503])
        self.addCleanup(fake.close)
        loop = loopd.connect(fake.url, token="t")
        self.addCleanup(loop.close)
        with self.assertRaises(loopd.TransportError):
            next(iter(loop.events(max_backoff=0.1, max_retries=2)))
        self.assertEqual(len(fake.last_ids), 3)

        async def main():
            aloop = loopd.connect_async(fake.url, token="t")
            try:
                with self.assertRaises(loopd.TransportError):
                    await aloop.events(max_backoff=0.1, max_retries=0).__anext__()
            finally:
                await aloop.close()
        asyncio.run(main())
        self.assertEqual(len(fake.last_ids), 4)
        # Not worth retrying: raised at once.
        with self.assertRaises(loopd.APIError) as cm:
            next(iter(loop.events()))
        self.assertEqual(cm.exception.status, 404)
