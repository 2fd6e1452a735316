"""
HTTP/1.1 to loopd: keep-alive connections over TCP, TLS or a Unix socket.

SyncTransport uses http.client (one pool, safe across threads);
AsyncTransport speaks HTTP/1.1 on asyncio streams, so a long-poll costs
the event loop nothing but a socket. A connection is kept after each
complete reply unless the daemon said "Connection: close". A request that
fails on a reused connection before any reply byte came (the daemon closed
it while it sat idle) is sent once more on a fresh one; any other failure
closes the connection. Cancelling an await closes its connection, which is
how the daemon learns that a long-poll's client went away.
"""
import asyncio
import http.client
import json
import socket
import threading
from typing import Any, Dict, List, Optional, Set, Tuple

from ._config import Endpoint
from ._errors import APIError, InvalidStateError, TransportError
from ._ops import Req

USER_AGENT = "loopd-python/0.1"
SLACK = 10.0            # seconds a held reply may be late before we give up
MAX_IDLE = 128          # idle connections kept per transport

_STALE = (http.client.RemoteDisconnected, ConnectionResetError,
          BrokenPipeError, ConnectionAbortedError)

Reply = Tuple[int, Dict[str, str], Any]


def parse_body(headers: Dict[str, str], data: bytes) -> Any:
    """The body: JSON when the content type says so, else text."""
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise TransportError("loopd sent malformed JSON: %s" % e) from None
    return data.decode("utf-8", "replace")


def check(endpoint: Endpoint, req: Req, reply: Reply) -> Any:
    """The body of a 2xx reply; an APIError for any other."""
    status, headers, body = reply
    if 200 <= status < 300:
        return body
    problem = body if isinstance(body, dict) else {"detail": str(body)[:500]}
    retry_after = None
    if "retry-after" in headers:
        try:
            retry_after = float(headers["retry-after"])
        except ValueError:
            pass
    note = endpoint.token_note if status == 401 else ""
    cls = InvalidStateError if problem.get("type") == "InvalidStateError" \
        else APIError
    return cls(status, problem, req.method, req.path, retry_after, note)


_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def head_bytes(endpoint: Endpoint, req: Req) -> Tuple[bytes, Dict[str, str]]:
    """The request's body bytes and headers."""
    headers = {"Host": endpoint.host_header, "User-Agent": USER_AGENT,
               "Accept": "application/json, application/problem+json"}
    if endpoint.token:
        headers["Authorization"] = "Bearer " + endpoint.token
    data = b""
    if req.body is not None:
        data = _ENCODER.encode(req.body).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if req.body is not None or req.method in ("POST", "PUT", "PATCH"):
        headers["Content-Length"] = str(len(data))
    return data, headers


# -- blocking ------------------------------------------------------------------

class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


class _TCPHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _TLSHTTPConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class SyncTransport:
    """Blocking requests over a pool of keep-alive connections."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._idle: List[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self.connects = 0

    def _new(self) -> http.client.HTTPConnection:
        e = self.endpoint
        self.connects += 1
        if e.unix_path is not None:
            return _UnixHTTPConnection(e.unix_path, self.timeout)
        if e.scheme == "https":
            return _TLSHTTPConnection(e.host, e.port, timeout=self.timeout,
                                      context=e.ssl_context)
        return _TCPHTTPConnection(e.host, e.port, timeout=self.timeout)

    def request(self, req: Req) -> Any:
        """Send req; the reply's body, or raise (see check)."""
        data, headers = head_bytes(self.endpoint, req)
        timeout = self.timeout + (req.hold + SLACK if req.hold else 0.0)
        for attempt in (0, 1):
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = self._new()
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            try:
                conn.request(req.method, self.endpoint.base + req.path,
                             body=data if data or "Content-Length" in headers
                             else None, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except _STALE as e:
                conn.close()
                if reused and attempt == 0:
                    continue
                raise TransportError("%s %s: %s" % (req.method, req.path, e)) from e
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                if isinstance(e, TransportError):
                    raise
                raise TransportError("%s %s: %s: %s" % (
                    req.method, req.path, type(e).__name__, e)) from e
            except BaseException:
                conn.close()
                raise
            h = {k.lower(): v for k, v in resp.getheaders()}
            if resp.will_close:
                conn.close()
            else:
                with self._lock:
                    if len(self._idle) < MAX_IDLE:
                        self._idle.append(conn)
                        conn = None
                if conn is not None:
                    conn.close()
            out = check(self.endpoint, req, (resp.status, h, parse_body(h, raw)))
            if isinstance(out, APIError):
                raise out
            return out
        raise AssertionError("unreachable")

    def open_stream(self, path: str, extra: Dict[str, str],
                    idle_timeout: float) -> Tuple[http.client.HTTPConnection,
                                                  http.client.HTTPResponse]:
        """GET path on a connection of its own, for a stream (SSE): the
        connection and the response, its body left unread (readline()).
        A reply other than 200 raises as request() does."""
        req = Req("GET", path)
        _, headers = head_bytes(self.endpoint, req)
        headers.update(extra)
        conn = self._new()
        conn.timeout = self.timeout
        try:
            conn.request("GET", self.endpoint.base + path, headers=headers)
            resp = conn.getresponse()
            if resp.status != 200:
                raw = resp.read()
                h = {k.lower(): v for k, v in resp.getheaders()}
                conn.close()
                out = check(self.endpoint, req, (resp.status, h, parse_body(h, raw)))
                if isinstance(out, APIError):
                    raise out
                raise TransportError("GET %s: status %d" % (path, resp.status))
            if conn.sock is not None:
                conn.sock.settimeout(idle_timeout)
            return conn, resp
        except APIError:
            raise
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            if isinstance(e, TransportError):
                raise
            raise TransportError("GET %s: %s: %s" % (path, type(e).__name__, e)) from e
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for c in idle:
            c.close()


# -- asyncio -------------------------------------------------------------------

class _Stale(Exception):
    """The reused connection was closed before any reply byte came."""


async def _bounded(coro: Any, seconds: float) -> Any:
    """Connecting, bounded (rare: asyncio's own timeout is fine here)."""
    return await asyncio.wait_for(coro, seconds)


class _Watchdog:
    """Deadlines of the requests in flight, checked by one timer per
    transport rather than one per request (a timer per request cost a
    third of the client's CPU per call). A request past its deadline has
    its task cancelled, and request() turns that into a TransportError;
    deadlines are met within TICK seconds."""
    TICK = 0.5

    def __init__(self) -> None:
        self.inflight: Dict[Any, float] = {}     # task -> deadline
        self.expired: Set[Any] = set()
        self.handle: Optional[asyncio.TimerHandle] = None

    def add(self, loop: asyncio.AbstractEventLoop, task: Any, seconds: float) -> None:
        if task is None:
            return
        self.inflight[task] = loop.time() + seconds
        if self.handle is None:
            self.handle = loop.call_later(self.TICK, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self.handle = None
        now = loop.time()
        for task, deadline in list(self.inflight.items()):
            if deadline <= now and task not in self.expired:
                self.expired.add(task)
                task.cancel()
        if self.inflight:
            self.handle = loop.call_later(self.TICK, self._tick, loop)

    def done(self, task: Any) -> bool:
        """Forget task's request; True if it was cancelled for its deadline
        (the cancellation is then taken back: it was ours, not the caller's)."""
        self.inflight.pop(task, None)
        if task in self.expired:
            self.expired.discard(task)
            if hasattr(task, "uncancel"):
                task.uncancel()
            return True
        return False

    def reset(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.__init__()  # type: ignore[misc]


def parse_head(req: Req, head: bytes) -> Tuple[int, Dict[str, str]]:
    """The status and the (lower-cased) headers of a reply's head."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise TransportError("%s %s: not an HTTP reply: %r"
                             % (req.method, req.path, lines[0][:80]))
    h: Dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip()
        h[k] = h[k] + ", " + v if k in h else v
    return int(parts[1]), h


class AsyncStream:
    """A streamed reply body (SSE) on a connection of its own: read()
    gives the next bytes (b"" at the end), undoing chunked encoding."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 chunked: bool) -> None:
        self.reader = reader
        self.writer = writer
        self.chunked = chunked
        self.ended = False

    async def read(self) -> bytes:
        if self.ended:
            return b""
        if not self.chunked:
            data = await self.reader.read(65536)
            self.ended = not data
            return data
        line = await self.reader.readline()
        if not line:
            raise asyncio.IncompleteReadError(b"", None)
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            self.ended = True
            return b""
        data = await self.reader.readexactly(size)
        await self.reader.readexactly(2)
        return data

    def close(self) -> None:
        self.writer.close()


class AsyncTransport:
    """Requests on asyncio streams over a pool of keep-alive connections.
    No cap on connections: each long-poll holds one while it waits (the
    daemon's per-client limit, 256 by default, is the cap)."""

    def __init__(self, endpoint: Endpoint, timeout: float) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._idle: List[Tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._watch = _Watchdog()
        self.connects = 0

    def _own_loop(self) -> asyncio.AbstractEventLoop:
        """The running loop. Idle connections belong to the event loop that
        opened them: on another one (asyncio.run called again) they are
        dropped."""
        running = asyncio.get_running_loop()
        if running is not self._loop:
            idle, self._idle = self._idle, []
            for _, w in idle:
                try:
                    w.close()
                except RuntimeError:        # that loop is closed already
                    pass
            self._watch.reset()
            self._loop = running
        return running

    async def _open(self) -> Tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        e = self.endpoint
        self.connects += 1
        try:
            if e.unix_path is not None:
                coro = asyncio.open_unix_connection(e.unix_path)
            else:
                coro = asyncio.open_connection(
                    e.host, e.port, ssl=e.ssl_context,
                    server_hostname=e.host if e.ssl_context else None)
            return await _bounded(coro, self.timeout)
        except (OSError, asyncio.TimeoutError) as err:
            raise TransportError("cannot connect to %s: %s" % (
                e.url, err or type(err).__name__)) from err

    async def _exchange(self, conn: Tuple[asyncio.StreamReader, asyncio.StreamWriter],
                        req: Req, reused: bool) -> Tuple[int, Dict[str, str], bytes]:
        reader, writer = conn
        data, headers = head_bytes(self.endpoint, req)
        head = "%s %s HTTP/1.1\r\n" % (req.method, self.endpoint.base + req.path)
        head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
        writer.write(head.encode("latin-1") + data)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if reused and not e.partial:
                raise _Stale() from e
            raise TransportError("%s %s: loopd closed the connection without "
                                 "a reply" % (req.method, req.path)) from None
        except (ConnectionResetError, BrokenPipeError) as e:
            if reused:
                raise _Stale() from e
            raise
        status, h = parse_head(req, head)
        if h.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in h:
            body = await reader.readexactly(int(h["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:
            body = await reader.read()
            h["connection"] = "close"
        return status, h, body

    async def request(self, req: Req) -> Any:
        """Send req; the reply's body, or raise (see check)."""
        bound = self.timeout + (req.hold + SLACK if req.hold else 0.0)
        loop = self._own_loop()
        task = asyncio.current_task(loop)
        for attempt in (0, 1):
            conn = self._idle.pop() if self._idle else None
            reused = conn is not None
            if conn is None:
                conn = await self._open()
            self._watch.add(loop, task, bound)
            try:
                try:
                    status, h, raw = await self._exchange(conn, req, reused)
                finally:
                    timed_out = self._watch.done(task)
            except asyncio.CancelledError:
                conn[1].close()
                if timed_out:
                    raise TransportError("%s %s: no reply within %gs" % (
                        req.method, req.path, bound)) from None
                raise
            except _Stale:
                conn[1].close()
                if attempt == 0:
                    continue
                raise TransportError("%s %s: connection closed" % (req.method, req.path))
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ValueError) as e:
                conn[1].close()
                if isinstance(e, TransportError):
                    raise
                raise TransportError("%s %s: %s: %s" % (
                    req.method, req.path, type(e).__name__, e)) from e
            except BaseException:
                # Cancelled (or worse) mid-request: the connection is in an
                # unknown state; closing it ends a long-poll on the daemon.
                conn[1].close()
                raise
            if h.get("connection", "").lower() == "close" or len(self._idle) >= MAX_IDLE:
                conn[1].close()
            else:
                self._idle.append(conn)
            out = check(self.endpoint, req, (status, h, parse_body(h, raw)))
            if isinstance(out, APIError):
                raise out
            return out
        raise AssertionError("unreachable")

    async def open_stream(self, path: str, extra: Dict[str, str]) -> AsyncStream:
        """GET path on a connection of its own, for a stream (SSE). A reply
        other than 200 raises as request() does; cancelling closes it."""
        req = Req("GET", path)
        self._own_loop()
        reader, writer = await self._open()
        try:
            _, headers = head_bytes(self.endpoint, req)
            headers.update(extra)
            head = "GET %s HTTP/1.1\r\n" % (self.endpoint.base + path)
            head += "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n"
            writer.write(head.encode("latin-1"))
            try:
                raw_head = await _bounded(reader.readuntil(b"\r\n\r\n"), self.timeout)
            except asyncio.TimeoutError:
                raise TransportError("GET %s: no reply within %gs"
                                     % (path, self.timeout)) from None
            status, h = parse_head(req, raw_head)
            stream = AsyncStream(reader, writer,
                                 h.get("transfer-encoding", "").lower() == "chunked")
            if status != 200:
                if "content-length" in h:
                    raw = await reader.readexactly(int(h["content-length"]))
                else:
                    chunks = []
                    while True:
                        data = await stream.read()
                        if not data:
                            break
                        chunks.append(data)
                    raw = b"".join(chunks)
                writer.close()
                out = check(self.endpoint, req, (status, h, parse_body(h, raw)))
                if isinstance(out, APIError):
                    raise out
                raise TransportError("GET %s: status %d" % (path, status))
            return stream
        except APIError:
            raise
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError) as e:
            writer.close()
            if isinstance(e, TransportError):
                raise
            raise TransportError("GET %s: %s: %s" % (path, type(e).__name__, e)) from e
        except BaseException:
            writer.close()
            raise

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for _, w in idle:
            w.close()
        for _, w in idle:
            try:
                await w.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass
