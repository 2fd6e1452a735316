"""
The Python client (client/python, package loopd) against the real daemon:
both faces (Loop, AsyncLoop), every method, the error mapping onto
asyncio's, cancellation of an await, a future resolved by another process,
discovery of the daemon as loopctl does it (environment, state directory,
unix: URLs, TLS with a CA file), keep-alive, and the examples/ programs
compared line by line with their asyncio originals.
"""
import asyncio
import datetime
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

import harness
from harness import ROOT, LOOPCTL, LOOPD, Daemon, DaemonTestCase, wait_until

PKG = os.path.join(ROOT, "client", "python")
EXAMPLES = os.path.join(ROOT, "examples")
sys.path.insert(0, PKG)

import loopd  # noqa: E402

ECHO = loopd.Command(["echo"])
TRUE = loopd.Command(["true"])
FAIL = loopd.Command(["sh", "-c", "echo out; echo err >&2; exit 3"])
SLEEP = loopd.Command(["sleep", "30"])


def metric(d, name):
    for line in d.request("GET", "/metrics").body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class Receiver:
    """A webhook receiver on 127.0.0.1: answers each request with the next
    status of `statuses` (then 200), records (path, headers, body)."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.got = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n)
                outer.got.append((self.path, dict(self.headers), json.loads(body or b"null")))
                st = outer.statuses.pop(0) if outer.statuses else 200
                data = json.dumps({"ok": st}).encode()
                self.send_response(st)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if st == 503:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ClientCase(DaemonTestCase):
    opts = {"max_wait": "5s"}

    def connect(self, **kw):
        loop = loopd.connect(self.d.url, token_file=self.d.token_file, **kw)
        self.addCleanup(loop.close)
        return loop

    def aconnect(self, **kw):
        return loopd.connect_async(self.d.url, token_file=self.d.token_file, **kw)


class BlockingFaceTest(ClientCase):

    def test_time_and_clock(self):
        loop = self.connect()
        t1 = loop.time()
        lt, ut = loop.clock()
        self.assertIsInstance(t1, float)
        self.assertGreaterEqual(lt, t1)
        self.assertLess(abs(ut - time.time()), 5)

    def test_call_soon_args_and_result(self):
        loop = self.connect()
        h = loop.call_soon(ECHO, "hi", 3, {"a": [1]})
        self.assertIsInstance(h, loopd.Call)
        self.assertRegex(h.id, r"^c_[0-9a-f]{16}$")
        self.assertEqual(h.state, "pending")
        r = h.wait(timeout=10)
        self.assertEqual(r["exit_code"], 0)
        self.assertEqual(r["stdout"], 'hi 3 {"a":[1]}\n')
        self.assertTrue(h.done())
        self.assertFalse(h.cancelled())
        self.assertEqual(h.result(), r)
        self.assertIsNone(h.exception())
        self.assertIsNotNone(h.started)
        self.assertGreaterEqual(h.finished, h.started)
        self.assertEqual(h.phase, "done")
        self.assertFalse(h.cancel())        # already done

    def test_call_later_call_at_order(self):
        loop = self.connect()
        now = loop.time()
        a = loop.call_later(0.3, TRUE)
        b = loop.call_at(now + 0.15, TRUE)
        c = loop.call_soon(TRUE)
        self.assertAlmostEqual(b.when(), now + 0.15, places=5)
        self.assertGreaterEqual(a.when(), now + 0.3)
        loop.gather(a, b, c)
        for x in (a, b, c):
            x.refresh()
            self.assertGreaterEqual(x.started, x.when())
        if c.snapshot["created"] < b.when():    # accepted before b fell due
            self.assertLessEqual(c.started, b.started)
        self.assertLessEqual(b.started, a.started)

    def test_call_at_unix(self):
        loop = self.connect()
        when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=0.2)
        h = loop.call_at_unix(when, TRUE)
        self.assertAlmostEqual(h.snapshot["due_unix"], when.timestamp(), places=3)
        h2 = loop.call_at_unix(time.time() + 0.1, TRUE)
        self.assertEqual(h.wait(10)["exit_code"], 0)
        self.assertEqual(h2.wait(10)["exit_code"], 0)
        with self.assertRaises(TypeError):
            loop.call_at_unix("tomorrow", TRUE)

    def test_cancel_call(self):
        loop = self.connect()
        h = loop.call_later(3600, TRUE)
        self.assertFalse(h.done())
        with self.assertRaises(asyncio.InvalidStateError):
            h.result()
        with self.assertRaises(asyncio.InvalidStateError):
            h.exception()
        self.assertTrue(h.cancel())
        self.assertTrue(h.cancelled())
        self.assertTrue(h.done())
        self.assertFalse(h.cancel())
        with self.assertRaises(asyncio.CancelledError):
            h.result()
        with self.assertRaises(asyncio.CancelledError):
            h.exception()
        with self.assertRaises(asyncio.CancelledError):
            h.wait()

    def test_cancel_running_command(self):
        loop = self.connect()
        h = loop.call_soon(SLEEP)
        self.d.wait_until(lambda: h.refresh()["phase"] == "running", what="running")
        self.assertTrue(h.cancel())
        with self.assertRaises(asyncio.CancelledError):
            h.wait(10)

    def test_future_result(self):
        loop = self.connect()
        f = loop.create_future(name="py-f")
        self.assertIsInstance(f, loopd.Future)
        self.assertRegex(f.id, r"^f_[0-9a-f]{16}$")
        self.assertEqual(f.name, "py-f")
        self.assertFalse(f.done())
        self.assertIsNone(f.set_result({"x": [1, None]}))
        self.assertTrue(f.done())
        self.assertEqual(f.result(), {"x": [1, None]})
        self.assertEqual(f.wait(), {"x": [1, None]})
        self.assertIsNone(f.exception())
        with self.assertRaises(asyncio.InvalidStateError) as cm:
            f.set_result(2)
        self.assertIsInstance(cm.exception, loopd.InvalidStateError)
        self.assertIsInstance(cm.exception, loopd.APIError)
        self.assertEqual(cm.exception.status, 409)
        with self.assertRaises(asyncio.InvalidStateError):
            f.set_exception(ValueError("late"))
        self.assertFalse(f.cancel())
        # null is a result too
        g = loop.create_future()
        g.set_result(None)
        self.assertIsNone(g.wait())

    def test_future_exception(self):
        loop = self.connect()
        for exc, typ, msg in ((ValueError("bad value"), "ValueError", "bad value"),
                              (KeyError, "KeyError", ""),
                              (loopd.RemoteError("Custom", "m"), "Custom", "m"),
                              (("Mine", "text"), "Mine", "text")):
            f = loop.create_future()
            f.set_exception(exc)
            e = f.exception()
            self.assertIsInstance(e, loopd.RemoteError)
            self.assertEqual((e.type, e.message, e.future_id), (typ, msg, f.id))
            with self.assertRaises(loopd.RemoteError) as cm:
                f.result()
            self.assertEqual(cm.exception.type, typ)
            with self.assertRaises(loopd.RemoteError):
                f.wait()
        with self.assertRaises(TypeError):
            loop.create_future().set_exception(42)

    def test_future_cancel_and_timeout(self):
        loop = self.connect()
        f = loop.create_future()
        self.assertTrue(f.cancel())
        self.assertFalse(f.cancel())
        self.assertTrue(f.cancelled())
        with self.assertRaises(asyncio.CancelledError):
            f.wait()
        with self.assertRaises(asyncio.InvalidStateError):
            f.set_result(1)
        g = loop.create_future(timeout=0.2)
        self.assertIn("timeout_at", g.snapshot)
        with self.assertRaises(asyncio.CancelledError):
            g.wait(10)

    def test_wait_timeout_leaves_future(self):
        loop = self.connect(max_hold=0.1)    # several holds in one wait
        f = loop.create_future()
        t0 = time.monotonic()
        with self.assertRaises(asyncio.TimeoutError):
            f.wait(timeout=0.35)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertFalse(f.done())
        f.set_result(1)
        self.assertEqual(f.wait(0), 1)

    def test_remote_error_details(self):
        loop = self.connect()
        h = loop.call_soon(FAIL)
        with self.assertRaises(loopd.RemoteError) as cm:
            h.wait(10)
        e = cm.exception
        self.assertEqual(e.type, "CommandFailed")
        self.assertEqual(e.exit_code, 3)
        self.assertEqual(e.stdout, "out\n")
        self.assertEqual(e.details["stderr"], "err\n")
        self.assertEqual(e.future_id, h.id)
        self.assertIn("CommandFailed", str(e))
        self.assertEqual(e.to_json()["exit_code"], 3)
        import pickle
        e2 = pickle.loads(pickle.dumps(e))
        self.assertEqual((e2.type, e2.exit_code, e2.future_id), ("CommandFailed", 3, h.id))
        t = loop.call_soon(loopd.Command(["sleep", "5"], timeout=0.1))
        with self.assertRaises(loopd.RemoteError) as cm:
            t.wait(10)
        self.assertEqual(cm.exception.type, "TimeoutError")

    def test_command_fields(self):
        loop = self.connect()
        cwd = tempfile.mkdtemp(prefix="loopd-py-")
        self.addCleanup(shutil.rmtree, cwd, True)
        cmd = loopd.Command(["sh", "-c", 'echo "$X $(pwd)"; cat'], env={"X": "y"},
                            cwd=cwd, stdin="in\n", timeout=10, name="fields",
                            retry=loopd.Retry(2, backoff=0.01, max_backoff=0.02),
                            on_restart="rerun")
        h = loop.call_soon(cmd)
        self.assertEqual(h.name, "fields")
        self.assertEqual(h.snapshot["retry"]["attempts"], 2)
        self.assertEqual(h.snapshot["on_restart"], "rerun")
        self.assertEqual(h.wait(10)["stdout"], "y %s\nin\n" % os.path.realpath(cwd))
        self.assertIn(h, loop.calls(name="fields"))
        self.assertEqual([c.id for c in loop.calls(name="fields", state="finished")], [h.id])
        # retry as an int, and as the wire's dict; a dict action
        r = loop.call_soon(loopd.Command(["sh", "-c", "exit 1"], retry=2))
        with self.assertRaises(loopd.RemoteError):
            r.wait(10)
        self.assertEqual(r.refresh()["attempts"], 2)
        h = loop.call_soon({"command": {"argv": ["echo", "raw"]}, "retry": {"attempts": 1}})
        self.assertEqual(h.wait(10)["stdout"], "raw\n")
        with self.assertRaises(TypeError):
            loopd.Command("echo hi")
        with self.assertRaises(TypeError):
            loop.call_soon(print)
        self.assertEqual(cmd.replace(name="x").name, "x")
        self.assertEqual(cmd, loopd.Command(**{k: getattr(cmd, k) for k in (
            "argv", "env", "cwd", "stdin", "timeout", "retry", "name", "on_restart")}))

    def test_webhook(self):
        rx = Receiver(statuses=[503])
        self.addCleanup(rx.close)
        loop = self.connect()
        h = loop.call_soon(loopd.Webhook(rx.url + "/hook", method="PUT",
                                         headers={"X-A": "b"}, body={"k": 1},
                                         timeout=5, retry=loopd.Retry(3, 0.01),
                                         name="hook"))
        # PUT goes to do_PUT, which the receiver lacks: 501 -> WebhookFailed
        with self.assertRaises(loopd.RemoteError) as cm:
            h.wait(10)
        self.assertEqual(cm.exception.type, "WebhookFailed")
        self.assertEqual(cm.exception.status, 501)
        h = loop.call_soon(loopd.Webhook(rx.url + "/hook", headers={"X-A": "b"},
                                         body={"k": 1}, retry=3, name="hook"), "arg")
        r = h.wait(10)
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["body"], {"ok": 200})
        self.assertEqual(h.refresh()["attempts"], 2)    # the 503 was retried
        path, headers, body = rx.got[-1]
        self.assertEqual((path, body, headers.get("X-A")), ("/hook", {"k": 1}, "b"))
        d = loop.call_soon(loopd.Webhook(rx.url + "/default"), 1, "two")
        d.wait(10)
        self.assertEqual(rx.got[-1][2], {"call": d.id, "args": [1, "two"]})

    def test_done_callbacks(self):
        loop = self.connect()
        f = loop.create_future()
        cat = loopd.Command(["cat"])
        a = f.add_done_callback(cat)
        b = f.add_done_callback(ECHO, "second")
        c = f.add_done_callback(ECHO, "removed")
        gone = f.add_done_callback(cat.replace(name="gone"))
        self.assertIsInstance(a, loopd.Call)
        self.assertEqual(a.snapshot["on_done"], f.id)
        self.assertEqual(f.remove_done_callback(c), 1)
        self.assertEqual(f.remove_done_callback(cat.replace(name="gone")), 1)
        self.assertEqual(f.remove_done_callback(cat.replace(name="never")), 0)
        f.set_result("R")
        self.assertEqual(json.loads(a.wait(10)["stdout"])["result"], "R")
        self.assertEqual(b.wait(10)["stdout"], "second\n")
        self.assertLessEqual(a.started, b.started)
        for x in (c, gone):
            with self.assertRaises(asyncio.CancelledError):
                x.wait(10)
        # Registered on a done future: runs soon; removing it once started is 0.
        late = f.add_done_callback(TRUE)
        late.wait(10)
        self.assertEqual(f.remove_done_callback(late.id), 0)
        self.assertEqual(f.remove_done_callback(TRUE), 0)

    def test_wait(self):
        loop = self.connect()
        slow = loop.call_later(0.4, TRUE)
        fast = loop.call_soon(TRUE)
        f = loop.create_future()
        done, pending = loop.wait([slow, fast, f], return_when=loopd.FIRST_COMPLETED)
        self.assertIn(fast, done)
        self.assertIn(f, pending)
        done, pending = loopd.wait([slow, fast, f], timeout=0.05)
        self.assertEqual(pending, {f} | ({slow} if slow in pending else set()))
        f.set_result(1)
        done, pending = loop.wait([slow, fast, f.id])
        self.assertEqual((done, pending), ({slow, fast, f}, set()))
        for x in done:
            self.assertIsInstance(x, loopd.Future)
        # FIRST_EXCEPTION: a result does not end it; an exception does.
        g, h = loop.create_future(), loop.create_future()
        g.set_result(1)
        done, pending = loop.wait([g, h], return_when=loopd.FIRST_EXCEPTION, timeout=0.3)
        self.assertEqual((done, pending), ({g}, {h}))
        e = loop.create_future()
        e.set_exception(ValueError("x"))
        done, pending = loop.wait([g, h, e], return_when=loopd.FIRST_EXCEPTION)
        self.assertEqual((done, pending), ({g, e}, {h}))
        with self.assertRaises(ValueError):
            loop.wait([g], return_when="SOMETIMES")
        with self.assertRaises(ValueError):
            loop.wait([])

    def test_gather(self):
        loop = self.connect(max_hold=0.2)
        a = loop.call_later(0.3, ECHO, "a")
        f = loop.create_future()
        threading.Timer(0.1, lambda: loopd.connect(self.d.url, token_file=self.d.token_file)
                        .future(f.id).set_result({"type": "T", "message": "a result"})).start()
        res = loopd.gather(a, f, return_exceptions=True)
        self.assertEqual(res[0]["stdout"], "a\n")
        self.assertEqual(res[1], {"type": "T", "message": "a result"})
        bad = loop.call_soon(FAIL)
        c = loop.create_future()
        c.cancel()
        res = loop.gather(a, bad, c, return_exceptions=True)
        self.assertIsInstance(res[1], loopd.RemoteError)
        self.assertEqual(res[1].exit_code, 3)
        self.assertIsInstance(res[2], asyncio.CancelledError)
        with self.assertRaises(loopd.RemoteError) as cm:
            loop.gather(a, bad)
        self.assertEqual(cm.exception.future_id, bad.id)
        with self.assertRaises(asyncio.CancelledError):
            loop.gather(a, c)
        # A client may name its exception CancelledError: still a RemoteError.
        x = loop.create_future()
        x.set_exception(("CancelledError", "mine"))
        with self.assertRaises(loopd.RemoteError):
            loop.gather(x)
        self.assertIsInstance(loop.gather(x, return_exceptions=True)[0], loopd.RemoteError)
        p = loop.create_future()
        with self.assertRaises(asyncio.TimeoutError):
            loop.gather(a, p, timeout=0.3)
        self.assertEqual(loop.gather(), [])

    def test_other_process_resolves(self):
        loop = self.connect()
        f = loop.create_future()
        env = dict(os.environ, **loop.child_env())
        child = subprocess.Popen([LOOPCTL, "future", "set", f.id, '{"from": "loopctl"}'],
                                 env=env, stdout=subprocess.DEVNULL)
        self.assertEqual(f.wait(20), {"from": "loopctl"})
        self.assertEqual(child.wait(20), 0)
        g = loop.create_future()
        env["PYTHONPATH"] = PKG
        child = subprocess.Popen([sys.executable, "-c",
                                  "import loopd, sys; loopd.connect().future(sys.argv[1])"
                                  ".set_exception(('Boom', 'from python'))", g.id], env=env)
        with self.assertRaises(loopd.RemoteError) as cm:
            g.wait(20)
        self.assertEqual((cm.exception.type, cm.exception.message), ("Boom", "from python"))
        self.assertEqual(child.wait(20), 0)

    def test_keep_alive(self):
        loop = self.connect()
        for _ in range(20):
            loop.time()
        f = loop.create_future()
        f.set_result(1)
        f.wait()
        self.assertEqual(loop._transport.connects, 1)

    def test_future_by_id_and_repr(self):
        loop = self.connect()
        f = loop.create_future(name="n")
        other = loop.future(f.id)
        self.assertEqual(other, f)
        self.assertEqual(hash(other), hash(f))
        self.assertIsInstance(loop.future("c_0000000000000001"), loopd.Call)
        self.assertIn(f.id, repr(f))
        self.assertIn("Loop", repr(loop))
        with self.assertRaises(ValueError):
            loop.future("nope")

    def test_api_errors(self):
        loop = self.connect()
        with self.assertRaises(loopd.APIError) as cm:
            loop.future("f_00000000000fffff").refresh()
        e = cm.exception
        self.assertEqual((e.status, e.type, e.title), (404, "NotFound", "Not Found"))
        self.assertIn("f_00000000000fffff", e.detail)
        self.assertEqual(e.problem["status"], 404)
        self.assertEqual(e.method, "GET")
        import pickle
        self.assertEqual(pickle.loads(pickle.dumps(e)).detail, e.detail)
        # a negative delay runs at once, as asyncio's call_later does
        self.assertEqual(loop.call_later(-1, TRUE).wait(10)["exit_code"], 0)
        with self.assertRaises(loopd.APIError) as cm:
            loop.create_future(timeout=-1)
        self.assertEqual((cm.exception.status, cm.exception.type), (400, "BadRequest"))
        self.assertIn("timeout", cm.exception.detail)
        with self.assertRaises(loopd.APIError) as cm:
            loop.call_soon(loopd.Webhook("ftp://x"))
        self.assertEqual((cm.exception.status, cm.exception.type), (400, "BadRequest"))
        with self.assertRaises(loopd.APIError) as cm:
            loop.call_at(1e13, TRUE)
        self.assertEqual(cm.exception.status, 400)
        bad = loopd.connect(self.d.url, token="wrong")
        with self.assertRaises(loopd.APIError) as cm:
            bad.time()
        self.assertEqual((cm.exception.status, cm.exception.type), (401, "Unauthorized"))
        self.assertIn("passed in", str(cm.exception))
        # a call is settled by its action, not by a client
        h = loop.call_later(3600, TRUE)
        with self.assertRaises(asyncio.InvalidStateError):
            h.set_result(1)
        h.cancel()

    def test_transport_error(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        loop = loopd.connect("http://127.0.0.1:%d" % port, token="x")
        with self.assertRaises(loopd.TransportError) as cm:
            loop.time()
        self.assertIsInstance(cm.exception, OSError)

        async def main():
            aloop = loopd.connect_async("http://127.0.0.1:%d" % port, token="x")
            with self.assertRaises(loopd.TransportError):
                await aloop.time()
        asyncio.run(main())

    def test_no_reply_times_out(self):
        # A server that accepts and never answers: each face gives up
        # after its timeout with a TransportError.
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        self.addCleanup(srv.close)
        url = "http://127.0.0.1:%d" % srv.getsockname()[1]
        t0 = time.monotonic()
        with self.assertRaises(loopd.TransportError):
            loopd.connect(url, token="x", timeout=0.3).time()
        self.assertLess(time.monotonic() - t0, 5)

        async def main():
            aloop = loopd.connect_async(url, token="x", timeout=0.3)
            t0 = time.monotonic()
            with self.assertRaises(loopd.TransportError) as cm:
                await aloop.time()
            self.assertIn("no reply", str(cm.exception))
            self.assertLess(time.monotonic() - t0, 5)
            # the timeout was the client's: this task is not cancelled
            await asyncio.sleep(0.01)
            return "alive"
        self.assertEqual(asyncio.run(main()), "alive")


class AsyncFaceTest(ClientCase):

    def run_async(self, coro_fn):
        async def main():
            loop = self.aconnect()
            try:
                return await coro_fn(loop)
            finally:
                await loop.close()
        return asyncio.run(main())

    def test_calls_and_await(self):
        async def body(loop):
            t = await loop.time()
            lt, ut = await loop.clock()
            self.assertGreaterEqual(lt, t)
            a = await loop.call_later(0.2, ECHO, "later")
            b = await loop.call_at(t + 0.1, ECHO, "at")
            c = await loop.call_soon(ECHO, "soon")
            d = await loop.call_at_unix(ut + 0.05, ECHO, "unix")
            self.assertIsInstance(a, loopd.AsyncCall)
            self.assertEqual((await a)["stdout"], "later\n")
            self.assertEqual((await b.wait(10))["stdout"], "at\n")
            self.assertEqual((await c.result())["stdout"], "soon\n")
            self.assertTrue(await d.done())
            self.assertFalse(await d.cancelled())
            self.assertIsNone(await d.exception())
            for x in (a, b, c, d):
                await x.refresh()
            if c.snapshot["created"] < b.when():
                self.assertLessEqual(c.started, b.started)
            self.assertLessEqual(b.started, a.started)
            self.assertGreaterEqual(b.started, b.when())
            self.assertEqual(len(await loop.calls(state="finished")) >= 4, True)
        self.run_async(body)

    def test_futures(self):
        async def body(loop):
            f = await loop.create_future(name="af", timeout=60)
            self.assertIsInstance(f, loopd.AsyncFuture)
            self.assertFalse(await f.done())
            with self.assertRaises(asyncio.InvalidStateError):
                await f.result()
            with self.assertRaises(asyncio.InvalidStateError):
                await f.exception()
            waiter = asyncio.ensure_future(f.wait())
            await f.set_result([1, 2])
            self.assertEqual(await waiter, [1, 2])
            self.assertEqual(await f, [1, 2])
            with self.assertRaises(asyncio.InvalidStateError):
                await f.set_result(3)
            with self.assertRaises(loopd.InvalidStateError):
                await f.set_exception(ValueError())
            self.assertFalse(await f.cancel())
            g = await loop.create_future()
            await g.set_exception(RuntimeError("r"))
            with self.assertRaises(loopd.RemoteError) as cm:
                await g
            self.assertEqual((cm.exception.type, cm.exception.message), ("RuntimeError", "r"))
            self.assertEqual((await g.exception()).type, "RuntimeError")
            h = await loop.create_future()
            self.assertTrue(await h.cancel())
            self.assertTrue(await h.cancelled())
            with self.assertRaises(asyncio.CancelledError):
                await h
            with self.assertRaises(asyncio.CancelledError):
                await h.result()
            bad = await loop.call_soon(FAIL)
            with self.assertRaises(loopd.RemoteError) as cm:
                await bad
            self.assertEqual(cm.exception.exit_code, 3)
            s = await loop.call_later(3600, TRUE)
            self.assertTrue(await s.cancel())
            with self.assertRaises(asyncio.CancelledError):
                await s
            self.assertEqual(loop.future(f.id), f)
        self.run_async(body)

    def test_done_callbacks(self):
        async def body(loop):
            f = await loop.create_future()
            a = await f.add_done_callback(ECHO, "one")
            b = await f.add_done_callback(ECHO.replace(name="two"), "two")
            self.assertEqual(await f.remove_done_callback(ECHO.replace(name="two")), 1)
            c = await f.add_done_callback(TRUE)
            self.assertEqual(await f.remove_done_callback(c), 1)
            await f.set_result(0)
            self.assertEqual((await a)["stdout"], "one\n")
            for x in (b, c):
                with self.assertRaises(asyncio.CancelledError):
                    await x
        self.run_async(body)

    def test_cancelling_an_await_cancels_the_long_poll(self):
        async def body(loop):
            f = await loop.create_future()
            task = asyncio.ensure_future(f.wait())
            for _ in range(500):
                if metric(self.d, "loopd_waiters") == 1:
                    break
                await asyncio.sleep(0.01)
            self.assertEqual(metric(self.d, "loopd_waiters"), 1)
            task.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await task
            for _ in range(500):
                if metric(self.d, "loopd_waiters") == 0:
                    break
                await asyncio.sleep(0.01)
            self.assertEqual(metric(self.d, "loopd_waiters"), 0)
            self.assertEqual((await f.refresh())["state"], "pending")
            # wait_for's timeout is a cancellation too
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(f, 0.2)
            self.assertFalse(await f.done())
            with self.assertRaises(asyncio.TimeoutError):
                await f.wait(timeout=0.1)
            # and the loop is still usable
            await f.set_result("still here")
            self.assertEqual(await f, "still here")
        self.run_async(body)

    def test_many_awaits_do_not_block_the_loop(self):
        async def body(loop):
            fs = [await loop.create_future() for _ in range(50)]
            waiters = [asyncio.ensure_future(f.wait()) for f in fs]
            ticks = 0
            while metric(self.d, "loopd_waiters") != 50:
                ticks += 1
                await asyncio.sleep(0.01)
                self.assertLess(ticks, 1000)
            await asyncio.gather(*(f.set_result(i) for i, f in enumerate(fs)))
            self.assertEqual(await asyncio.gather(*waiters), list(range(50)))
        self.run_async(body)

    def test_wait_and_gather(self):
        async def body(loop):
            slow = await loop.call_later(0.3, ECHO, "slow")
            fast = await loop.call_soon(ECHO, "fast")
            f = await loop.create_future()
            done, pending = await loopd.wait([slow, fast, f], return_when=loopd.FIRST_COMPLETED)
            self.assertIn(fast, done)
            self.assertIn(f, pending)
            done, pending = await loop.wait([slow, f], timeout=0.05)
            self.assertIn(f, pending)
            await f.set_result("f")
            done, pending = await loopd.wait([slow, fast, f])
            self.assertEqual(pending, set())
            self.assertEqual(await loopd.gather(fast, f), [{"exit_code": 0, "stdout": "fast\n",
                                                           "stderr": "", "duration":
                                                           (await fast)["duration"]}, "f"])
            e = await loop.create_future()
            await e.set_exception(("E", "m"))
            done, pending = await loop.wait([e, await loop.create_future()],
                                            return_when=loopd.FIRST_EXCEPTION)
            self.assertEqual(done, {e})
            with self.assertRaises(loopd.RemoteError):
                await loopd.gather(f, e)
            res = await loop.gather(f, e, return_exceptions=True)
            self.assertEqual(res[0], "f")
            self.assertEqual(res[1].type, "E")
            with self.assertRaises(asyncio.TimeoutError):
                await loop.gather(await loop.create_future(), timeout=0.1)
        self.run_async(body)

    def test_api_error(self):
        async def body(loop):
            with self.assertRaises(loopd.APIError) as cm:
                await loop.future("c_00000000000fffff").refresh()
            self.assertEqual(cm.exception.status, 404)
            with self.assertRaises(loopd.APIError) as cm:
                await loop.call_soon(loopd.Command([""]))
            self.assertEqual(cm.exception.status, 400)
            self.assertTrue(cm.exception.detail)
        self.run_async(body)

    def test_keep_alive(self):
        async def body(loop):
            for _ in range(20):
                await loop.time()
            self.assertEqual(loop._transport.connects, 1)
            await asyncio.gather(*(loop.time() for _ in range(10)))
            self.assertLessEqual(loop._transport.connects, 11)
        self.run_async(body)

    def test_context_manager_and_event_loops(self):
        loop = self.aconnect()

        async def use():
            f = await loop.create_future()
            await f.set_result("x")
            return await f

        async def use_and_close():
            async with loop as same:
                self.assertIs(same, loop)
                return await use()
        # One AsyncLoop across two asyncio.run calls: the first event
        # loop's idle connections (left open) are not reused on the second.
        self.assertEqual(asyncio.run(use()), "x")
        self.assertEqual(len(loop._transport._idle), 1)
        self.assertEqual(asyncio.run(use_and_close()), "x")
        self.assertEqual(loop._transport.connects, 2)
        self.assertEqual(loop._transport._idle, [])
        self.assertIn("AsyncLoop", repr(loop))


class CommandsOffTest(ClientCase):
    opts = {"commands": "off", "max_waiters": 2}

    def test_forbidden_and_too_many(self):
        loop = self.connect()
        with self.assertRaises(loopd.APIError) as cm:
            loop.call_soon(TRUE)
        self.assertEqual((cm.exception.status, cm.exception.type), (403, "Forbidden"))
        f = loop.create_future()
        held = [self.d.begin("GET", "/v1/futures/%s?wait=5" % f.id) for _ in range(2)]
        try:
            self.d.wait_until(lambda: metric(self.d, "loopd_waiters") == 2, what="2 waiters")
            with self.assertRaises(loopd.APIError) as cm:
                f.wait(1)
            self.assertIn(cm.exception.status, (429, 503))
            self.assertIsNotNone(cm.exception.retry_after)
        finally:
            for h in held:
                h.close()


class ConnectTest(unittest.TestCase):
    """Finding the daemon: arguments, environment, state directory, unix:."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(opts={"max_wait": "5s"})
        cls.addClassCleanup(cls.d.close)
        cls.d.start()

    def env(self, **kw):
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LOOP_")
                 and k not in ("STATE_DIRECTORY", "XDG_STATE_HOME")}
        clean.update(kw)
        return mock.patch.dict(os.environ, clean, clear=True)

    def test_environment(self):
        with self.env(LOOP_URL=self.d.url, LOOP_TOKEN=self.d.token):
            loop = loopd.connect()
            self.assertEqual(loop.url, self.d.url)
            self.assertIsInstance(loop.time(), float)
            self.assertEqual(loop.child_env()["LOOP_TOKEN"], self.d.token)
        with self.env(LOOP_URL=self.d.url + "/", LOOP_TOKEN_FILE=self.d.token_file):
            loop = loopd.connect()
            self.assertIsInstance(loop.time(), float)
            self.assertEqual(loop.child_env(), {"LOOP_URL": self.d.url,
                                                "LOOP_TOKEN_FILE": self.d.token_file})
        # LOOP_TOKEN wins over LOOP_TOKEN_FILE; an argument over both
        with self.env(LOOP_URL=self.d.url, LOOP_TOKEN="wrong",
                      LOOP_TOKEN_FILE=self.d.token_file):
            with self.assertRaises(loopd.APIError) as cm:
                loopd.connect().time()
            self.assertIn("LOOP_TOKEN", str(cm.exception))
            self.assertIsInstance(loopd.connect(token_file=self.d.token_file).time(), float)
            self.assertIsInstance(loopd.connect(token=self.d.token).time(), float)

    def test_state_directory(self):
        xdg = os.path.dirname(self.d.state_dir)
        link = os.path.join(xdg, "loopd")
        os.symlink(self.d.state_dir, link)
        self.addCleanup(os.unlink, link)
        if os.geteuid() != 0:
            with self.env(LOOP_URL=self.d.url, XDG_STATE_HOME=xdg):
                self.assertEqual(loopd.state_dir(), link)
                self.assertIsInstance(loopd.connect().time(), float)
        with self.env(LOOP_URL=self.d.url, STATE_DIRECTORY=self.d.state_dir + ":/other"):
            self.assertEqual(loopd.state_dir(), self.d.state_dir)
            loop = loopd.connect()
            self.assertIsInstance(loop.time(), float)
            self.assertEqual(loop.endpoint.token_file,
                             os.path.join(self.d.state_dir, "token"))
        with self.env(LOOP_URL=self.d.url, STATE_DIRECTORY="/nonexistent"):
            with self.assertRaises(loopd.APIError) as cm:
                loopd.connect().time()
            self.assertEqual(cm.exception.status, 401)
            self.assertIn("no token: the default /nonexistent/token", str(cm.exception))

    def test_default_url_and_bad_urls(self):
        with self.env():
            self.assertEqual(loopd.connect().url, loopd.DEFAULT_URL)
        for bad in ("ftp://x", "unix:", "localhost:7700"):
            with self.assertRaises(ValueError):
                loopd.connect(bad)

    def test_unix_socket(self):
        tmp = tempfile.mkdtemp(prefix="loopd-py-unix-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "s")
        with Daemon(listen="unix:" + path) as d:
            with self.env(LOOP_URL="unix:" + path):
                loop = loopd.connect()
                h = loop.call_soon(ECHO, "over unix")
                self.assertEqual(h.wait(10)["stdout"], "over unix\n")

                async def main():
                    aloop = loopd.connect_async()
                    f = await aloop.create_future()
                    await f.set_result(1)
                    self.assertEqual(await f, 1)
                    await aloop.close()
                asyncio.run(main())
            self.assertTrue(d.alive())

    def test_tls_with_ca_file(self):
        if shutil.which("openssl") is None:
            self.skipTest("openssl not installed")
        tmp = tempfile.mkdtemp(prefix="loopd-py-tls-")
        self.addCleanup(shutil.rmtree, tmp, True)
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
                            "-addext", "subjectAltName=IP:127.0.0.1", "-days", "2",
                            "-keyout", key, "-out", cert], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        state, log_path = os.path.join(tmp, "state"), os.path.join(tmp, "log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([LOOPD, "--state-dir", state, "--listen", "127.0.0.1:0",
                                     "-o", "tls_cert=" + cert, "-o", "tls_key=" + key],
                                    stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            def port():
                with open(log_path) as f:
                    m = re.search(r"listening on https://127\.0\.0\.1:(\d+)", f.read())
                return m and int(m.group(1))
            url = "https://127.0.0.1:%d" % wait_until(
                port, 60 if harness.UNDER_VALGRIND else 10, "loopd on https")
            token_file = os.path.join(state, "token")
            wait_until(lambda: os.path.exists(token_file), 5, "token")
            loop = loopd.connect(url, token_file=token_file, cafile=cert)
            self.assertEqual(loop.call_soon(ECHO, "tls").wait(10)["stdout"], "tls\n")
            self.assertEqual(loop._transport.connects, 1)
            loop.close()
            with self.env(LOOP_URL=url, LOOP_TOKEN_FILE=token_file, LOOP_CACERT=cert):
                async def main():
                    aloop = loopd.connect_async()
                    self.assertIsInstance(await aloop.time(), float)
                    await aloop.close()
                asyncio.run(main())
                self.assertEqual(loopd.connect().child_env()["LOOP_CACERT"], cert)
            with self.env():
                with self.assertRaises(loopd.TransportError):
                    loopd.connect(url, token_file=token_file).time()   # system CAs only
        finally:
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(15), 0)


class ExamplesTest(unittest.TestCase):
    """Each examples/loopd program prints, line for line and in order,
    what its asyncio original in examples/asyncio prints."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.addClassCleanup(cls.d.close)
        cls.d.start()

    def run_program(self, path, env=None):
        r = subprocess.run([sys.executable, path], capture_output=True, text=True,
                           timeout=60, env=env, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, "%s failed:\n%s" % (path, r.stderr))
        return r.stdout.splitlines()

    def test_examples_match_their_asyncio_originals(self):
        names = sorted(n for n in os.listdir(os.path.join(EXAMPLES, "loopd"))
                       if n.endswith(".py"))
        self.assertGreaterEqual(len(names), 7)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOOP_")}
        env.update(LOOP_URL=self.d.url, LOOP_TOKEN_FILE=self.d.token_file, PYTHONPATH=PKG)
        for name in names:
            with self.subTest(example=name):
                want = self.run_program(os.path.join(EXAMPLES, "asyncio", name))
                got = self.run_program(os.path.join(EXAMPLES, "loopd", name), env)
                self.assertTrue(want)
                self.assertEqual(got, want)


class PipInstallTest(unittest.TestCase):
    """pip install ./client/python gives an importable, typed package."""

    def test_pip_install(self):
        python = None
        for cand in (sys.executable, "/usr/bin/python3"):
            if os.path.exists(cand) and subprocess.run(
                    [cand, "-c", "import setuptools, wheel, pip"],
                    capture_output=True, timeout=60).returncode == 0:
                python = cand
                break
        if python is None:
            self.skipTest("no interpreter with pip, setuptools and wheel (offline build)")
        tmp = tempfile.mkdtemp(prefix="loopd-py-pip-")
        self.addCleanup(shutil.rmtree, tmp, True)
        src = os.path.join(tmp, "src")
        shutil.copytree(PKG, src, ignore=shutil.ignore_patterns(
            "__pycache__", "*.egg-info", "build"))
        site = os.path.join(tmp, "site")
        r = subprocess.run([python, "-m", "pip", "install", "-q", "--no-build-isolation",
                            "--no-deps", "--no-index", "--target", site, src],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = subprocess.run([python, "-c", "import loopd, os; print(loopd.__version__, "
                            "os.path.exists(os.path.join(os.path.dirname(loopd.__file__), "
                            "'py.typed')), loopd.__file__)"],
                           capture_output=True, text=True, timeout=60, cwd=tmp,
                           env=dict(os.environ, PYTHONPATH=site))
        self.assertEqual(r.returncode, 0, r.stderr)
        version, typed, where = r.stdout.split()
        self.assertEqual((version, typed), ("0.1.0", "True"))
        self.assertTrue(where.startswith(site), where)


if __name__ == "__main__":
    unittest.main()
