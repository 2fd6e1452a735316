"""
harness: start the real loopd on a private port and talk to it over HTTP.

    from harness import Daemon
    with Daemon(opts={"max_wait": "5s"}) as d:
        status, headers, body = d.request("GET", "/v1/time")

A Daemon runs $LOOPD (default build/loopd) with --state-dir in a fresh temporary
directory, --listen 127.0.0.1:0 and `-o key=value` for each opt, waits (bounded)
for the `listening on http://HOST:PORT` line on its stderr and reads the token.
On exit it sends SIGTERM, waits (bounded, SIGKILL as a last resort), checks that
the daemon exited 0, kills whatever commands the daemon left behind and removes
the temporary directory. The daemon's stderr goes to a file, never to a pipe
that could fill and block it.

Daemon(opts={}, args=[], auth=True, listen="127.0.0.1:0", config=None, env=None)
    auth=False adds -o auth=off; config is the text of a --config file;
    listen may be "unix:/PATH".
  d.url d.port d.host d.token d.token_file d.state_dir d.dir d.unix_path
  d.request(method, path, body=None, headers=None, auth=True, raw=None,
            timeout=30, chunked=False) -> Response(status, headers, body)
      headers have lowercase keys; body is parsed JSON when the content type
      is JSON, else text; status is None if the daemon hung up silently.
  d.session()            keep-alive connection, same .request(); .connects
  d.begin(method, path, body=None) -> PendingRequest: sent now, read later
      with .response() (.elapsed), .replied(within) peeks (long-polls)
  d.raw_request(bytes), d.http_bytes(method, path, raw, headers), d.connect()
  d.schedule(body, status=201), d.call(id), d.wait_done(id), d.list_calls(q),
  d.call_ids(q), d.get_json(path), d.loop_time(), d.path(name)
  d.loopctl(*args, input=None, timeout=30, env=None) -> CompletedProcess
  d.wait_until(predicate, timeout=10, what="...")   bounded polling
  d.log(), d.log_tail(), d.alive(), d.check_alive()
  d.start(), d.stop(), d.signal(sig), d.wait_exit(), d.kill(), d.close()
DaemonTestCase: one daemon per class (cls.d) from class attributes opts,
  args, auth, config. sh(script, *args, **command_fields) builds a /bin/sh
  command; assert_problem(tc, resp, status, type) checks an RFC 9457 reply.
LOOPD / LOOPCTL name the binaries; LOOPD_KEEP=1 keeps the temp directories.

Python 3 standard library only.
"""
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import namedtuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LOOPD = os.environ.get("LOOPD") or os.path.join(ROOT, "build", "loopd")
LOOPCTL = os.environ.get("LOOPCTL") or os.path.join(ROOT, "build", "loopctl")

START_TIMEOUT = float(os.environ.get("LOOPD_START_TIMEOUT", "10"))
STOP_TIMEOUT = 10.0
KEEP = os.environ.get("LOOPD_KEEP") == "1"     # keep temp dirs for debugging

LISTEN_RE = re.compile(rb"listening on http://(\[[^\]]*\]|[^\s:/]+):(\d+)")
LISTEN_UNIX_RE = re.compile(rb"listening on unix:(\S+)")

# Daemons currently running, so the runner can show their logs on a failure.
LIVE = set()

Response = namedtuple("Response", "status headers body")

# `make valgrind` runs loopd under memcheck (tests/valgrind-loopd).
UNDER_VALGRIND = "valgrind" in os.path.basename(os.environ.get("LOOPD", ""))

SANITIZER_REPORT = re.compile(
    r"ERROR: (Address|Leak|Memory|Thread)Sanitizer[^\n]*|runtime error: [^\n]*")


def _json_loads(text):
    def bad_constant(name):
        raise ValueError("non-JSON constant %s" % name)
    return json.loads(text, parse_constant=bad_constant)


def parse_body(headers, data):
    """The body as JSON if the content type says JSON, else as text."""
    ctype = headers.get("content-type", "")
    mtype = ctype.split(";")[0].strip().lower()
    text = data.decode("utf-8", "replace")
    if mtype == "application/json" or mtype.endswith("+json"):
        try:
            return _json_loads(text)
        except ValueError:
            return text
    return text


def _headers(msg):
    out = {}
    for k, v in msg.items():
        k = k.lower()
        out[k] = v if k not in out else out[k] + ", " + v
    return out


def _send(conn, method, path, body, headers, token, raw, chunked):
    hdrs = {}
    data = None
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    for k, v in (headers or {}).items():
        # A header given as None is left out (e.g. {"Authorization": None}).
        for existing in [h for h in hdrs if h.lower() == k.lower()]:
            del hdrs[existing]
        if v is not None:
            hdrs[k] = v
    try:
        if chunked and data is not None:
            size = 4096
            parts = [data[i:i + size] for i in range(0, len(data), size)]
            hdrs["Transfer-Encoding"] = "chunked"
            conn.request(method, path, body=iter(parts), headers=hdrs,
                         encode_chunked=True)
        else:
            conn.request(method, path, body=data, headers=hdrs)
    except (BrokenPipeError, ConnectionResetError):
        # The server answered (and closed) before taking the whole body,
        # as it may for a body over the limit: read what it said.
        pass
    try:
        resp = conn.getresponse()
        payload = resp.read()
    except (http.client.RemoteDisconnected, ConnectionResetError,
            BrokenPipeError, http.client.BadStatusLine) as e:
        return Response(None, {}, "no reply: %s: %s" % (type(e).__name__, e))
    h = _headers(resp.msg)
    return Response(resp.status, h, parse_body(h, payload))


class _CountingConnection(http.client.HTTPConnection):
    """An HTTPConnection that counts how often it (re)connected."""
    connects = 0

    def connect(self):
        super().connect()
        self.connects += 1


class _UnixConnection(_CountingConnection):
    """HTTP over a Unix socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s
        self.connects += 1


class Session:
    """One persistent (keep-alive) connection to the daemon.

    http.client reopens the connection by itself when the server closed it
    after a reply (Connection: close); `connects` tells how often that
    happened, so a test can check that a connection was kept."""

    def __init__(self, daemon, timeout=30):
        self.daemon = daemon
        self.conn = daemon._connection(timeout)

    @property
    def connects(self):
        return self.conn.connects

    def request(self, method, path, body=None, headers=None, auth=True,
                raw=None, chunked=False):
        token = self.daemon.token if auth else None
        return _send(self.conn, method, path, body, headers, token, raw,
                     chunked)

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _proc_stat(pid):
    """(ppid, session, starttime, state) of a process, or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    # rest[0] is field 3 (state); ppid is field 4, session 6, starttime 22.
    return int(rest[1]), int(rest[3]), int(rest[19]), rest[0].decode()


def _all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def pid_alive(pid):
    """True if pid exists and is not a zombie."""
    st = _proc_stat(pid)
    return st is not None and st[3] not in ("Z", "X")


def wait_until(predicate, timeout=10, what="condition", interval=0.005,
               check=None):
    """Poll predicate (bounded) until it returns something true; return it.

    Raises AssertionError after timeout seconds. check(), if given, is
    called on each round and may raise to stop early."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %gs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.05)


def run_loopd(args, timeout=10, env=None, input=None):
    """Run loopd once (e.g. with -n) and return the CompletedProcess."""
    e = _daemon_env(env)
    return subprocess.run([LOOPD] + [str(a) for a in args], input=input,
                          capture_output=True, text=True, timeout=timeout,
                          env=e, stdin=None if input is not None
                          else subprocess.DEVNULL)


def _daemon_env(extra=None):
    e = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
              "STATE_DIRECTORY", "LOOP_TOKEN", "LOOP_URL", "LOOP_TOKEN_FILE"):
        e.pop(k, None)
    for k, v in (extra or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


class Daemon:
    """A loopd process on a private port with its own state directory."""

    def __init__(self, opts=None, args=None, auth=True, listen="127.0.0.1:0",
                 config=None, env=None, start_timeout=START_TIMEOUT):
        self.opts = dict(opts or {})
        self.args = [str(a) for a in (args or [])]
        self.auth = auth
        self.listen = listen
        self.config = config
        self.env = env
        self.start_timeout = start_timeout
        self.dir = tempfile.mkdtemp(prefix="loopd-it-")
        self.state_dir = os.path.join(self.dir, "state")
        os.mkdir(self.state_dir, 0o700)
        self.log_path = os.path.join(self.dir, "loopd.stderr")
        self.out_path = os.path.join(self.dir, "loopd.stdout")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.dir, "loopd.conf")
            with open(self.config_path, "w") as f:
                f.write(config)
        self.proc = None
        self.returncode = None
        self.host = None
        self.port = None
        self.url = None
        self.unix_path = None       # when listening on unix:PATH
        self.token = None
        self.token_file = None
        self._signalled = False
        self._log_offset = 0
        self._files = []
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    def command_line(self):
        cmd = [LOOPD, "--state-dir", self.state_dir, "--listen", self.listen]
        if self.config_path is not None:
            cmd += ["--config", self.config_path]
        for k, v in self.opts.items():
            cmd += ["-o", "%s=%s" % (k, v)]
        if not self.auth:
            cmd += ["-o", "auth=off"]
        return cmd + self.args

    def _token_path(self):
        for i, a in enumerate(self.args):
            if a == "--token-file" and i + 1 < len(self.args):
                return self.args[i + 1]
            if a.startswith("--token-file="):
                return a.split("=", 1)[1]
        for k in ("token_file",):
            if k in self.opts:
                return str(self.opts[k])
        return os.path.join(self.state_dir, "token")

    def start(self):
        """Start loopd and wait until it listens. Returns self."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("daemon already running")
        if not os.access(LOOPD, os.X_OK):
            raise AssertionError("no loopd binary at %s (run make, or set "
                                 "LOOPD)" % LOOPD)
        self._log_offset = os.path.getsize(self.log_path) \
            if os.path.exists(self.log_path) else 0
        for f in self._files:
            f.close()
        err = open(self.log_path, "ab")
        out = open(self.out_path, "ab")
        self._files = [err, out]
        self._signalled = False
        self.returncode = None
        self.proc = subprocess.Popen(self.command_line(),
                                     stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, env=_daemon_env(self.env),
                                     cwd=self.dir, start_new_session=True)
        LIVE.add(self)
        try:
            self._await_listening()
            self._read_token()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def _await_listening(self):
        deadline = time.monotonic() + self.start_timeout
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                text = f.read()
            if self.listen.startswith("unix:"):
                m = LISTEN_UNIX_RE.search(text)
                if m:
                    self.unix_path = m.group(1).decode()
                    self.host, self.port = "localhost", None
                    self.url = "unix:" + self.unix_path
                    return
            m = LISTEN_RE.search(text)
            if m:
                self.host = m.group(1).decode().strip("[]")
                self.port = int(m.group(2))
                host = m.group(1).decode()
                self.url = "http://%s:%d" % (host, self.port)
                return
            if self.proc.poll() is not None:
                raise AssertionError(
                    "loopd exited with status %s before listening:\n%s"
                    % (self.proc.returncode, self.log_tail()))
            if time.monotonic() > deadline:
                raise AssertionError(
                    "loopd did not log 'listening on http://HOST:PORT' "
                    "within %gs:\n%s" % (self.start_timeout, self.log_tail()))
            time.sleep(0.005)

    def _read_token(self):
        self.token_file = self._token_path()
        self.token = None
        if not self.auth:
            if not os.path.exists(self.token_file):
                self.token_file = None
            return

        def read():
            try:
                with open(self.token_file) as f:
                    return f.read().strip()
            except OSError:
                return None
        self.token = wait_until(read, timeout=2,
                                what="token file %s" % self.token_file)

    def signal(self, sig):
        """Send sig to the daemon; a later stop() will not hold the
        resulting exit against it."""
        self._signalled = True
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait (bounded) for the daemon to exit and return its status."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("loopd still running %gs later" % timeout)
        return self.returncode

    def _victims(self):
        """The daemon's descendants and session members, as (pid, start)."""
        pid = self.proc.pid
        kids = {}
        stats = {}
        for p in _all_pids():
            st = _proc_stat(p)
            if st is None:
                continue
            stats[p] = st
            kids.setdefault(st[0], []).append(p)
        found = set()
        todo = [pid]
        while todo:
            p = todo.pop()
            for c in kids.get(p, []):
                if c not in found:
                    found.add(c)
                    todo.append(c)
        for p, st in stats.items():
            if st[1] == pid and p != pid:
                found.add(p)
        return [(p, stats[p][2]) for p in found if p in stats]

    def _reap(self, victims):
        victims = victims + [v for v in self._victims_by_session()
                             if v not in victims]
        for p, start in victims:
            st = _proc_stat(p)
            if st is not None and st[2] == start and st[3] not in "ZX":
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        # Until they are gone (or zombies, their files closed): a command
        # spawned just before a kill -9 holds loopd's descriptors until its
        # exec, the state directory's lock among them, and a loopd started
        # again at once found the directory in use.
        deadline = time.monotonic() + 5
        for p, start in victims:
            while time.monotonic() < deadline:
                st = _proc_stat(p)
                if st is None or st[2] != start or st[3] in "ZX":
                    break
                time.sleep(0.005)

    def _victims_by_session(self):
        out = []
        for p in _all_pids():
            st = _proc_stat(p)
            if st is not None and st[1] == self.proc.pid and p != self.proc.pid:
                out.append((p, st[2]))
        return out

    def stop(self, sig=None, timeout=STOP_TIMEOUT, check=True):
        """Stop the daemon (sig, default SIGTERM, then SIGKILL after
        timeout). With check, raise AssertionError unless it exited 0
        because of our signal."""
        sig = signal.SIGTERM if sig is None else sig
        if self.proc is None:
            return None
        problem = None
        victims = []
        if self.proc.poll() is None:
            victims = self._victims()
            self.proc.send_signal(sig)
            try:
                self.returncode = self.proc.wait(timeout)
                if self.returncode != 0:
                    problem = "loopd exited with status %s after %s" % (
                        self.returncode, signal.Signals(sig).name)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.returncode = self.proc.wait()
                problem = "loopd did not exit within %gs of %s; killed" % (
                    timeout, signal.Signals(sig).name)
        else:
            self.returncode = self.proc.returncode
            if not self._signalled:
                problem = "loopd died on its own (status %s)" % \
                    self.returncode
        self._reap(victims)
        for f in self._files:
            f.close()
        self._files = []
        LIVE.discard(self)
        # A sanitizer build reports into the log; any report is a failure,
        # however the daemon ended (kill -9 included).
        report = SANITIZER_REPORT.search(self.log())
        if report and problem is None:
            problem = "sanitizer report in loopd's log: %s" % report.group(0)
        if check and problem:
            raise AssertionError("%s:\n%s" % (problem, self.log_tail()))
        return self.returncode

    def kill(self, children=True):
        """SIGKILL the daemon now (a crash, as far as it can tell), and
        with children the commands it was running."""
        if self.proc is not None and self.proc.poll() is None:
            self._signalled = True
            victims = []
            try:
                if children:
                    # Stopped first, so the crash happens now, not after
                    # the scan of /proc (slow on a busy machine): a call
                    # due meanwhile does not start.
                    self.proc.send_signal(signal.SIGSTOP)
                    victims = self._victims()
            finally:
                self.proc.kill()
            self.proc.wait()
            self.returncode = self.proc.returncode
            if children:
                self._reap(victims)

    def close(self, check=True):
        """Stop the daemon (see stop) and remove the temporary directory."""
        if self._closed:
            return
        self._closed = True
        try:
            self.stop(check=check)
        finally:
            if not KEEP:
                shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            try:
                self.start()
            except BaseException:
                self.close(check=False)
                raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.close(check=exc_type is None)
        except AssertionError as e:
            if exc_type is None:
                raise
            sys.stderr.write("harness: also: %s\n" % e)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        """The daemon's stderr so far (all runs of this Daemon)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=30):
        text = self.log().splitlines()
        return "\n".join("    | " + l for l in text[-lines:]) or "    | (empty)"

    def path(self, *names):
        """A path in this daemon's temporary directory (for test files)."""
        return os.path.join(self.dir, *names)

    # -- HTTP ----------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, auth=True,
                raw=None, timeout=30, chunked=False):
        """One request on a fresh connection.

        Returns (status, headers with lowercase keys, body): body is parsed
        JSON when the content type is JSON, else text. raw=bytes sends
        exactly those bytes. auth=False sends no Authorization header."""
        conn = self._connection(timeout)
        try:
            return _send(conn, method, path, body, headers,
                         self.token if auth else None, raw, chunked)
        finally:
            conn.close()

    def _connection(self, timeout):
        if self.unix_path is not None:
            return _UnixConnection(self.unix_path, timeout)
        return _CountingConnection(self.host, self.port, timeout=timeout)

    def session(self, timeout=30):
        """A keep-alive connection: .request() like Daemon.request."""
        return Session(self, timeout=timeout)

    def connect(self, timeout=10):
        """A plain socket (TCP, or Unix) connected to the daemon."""
        if self.unix_path is not None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.unix_path)
            return s
        return socket.create_connection((self.host, self.port), timeout)

    def raw_request(self, data, timeout=10, method="GET"):
        """Send raw bytes on a new connection; read one HTTP response.

        Sending stops early when the daemon answers before it has read
        everything (as it may for a body over the limit). Returns a
        Response, or None when the daemon closed the connection without
        replying."""
        with self.connect(timeout) as s:
            send_until_reply(s, data, timeout)
            return read_response(s, method)

    def http_bytes(self, method, path, raw=b"", headers=None, auth=True):
        """The bytes of an HTTP/1.1 request with Content-Length (and the
        token unless auth=False)."""
        h = {"Host": "%s:%s" % (self.host, self.port or 80),
             "Content-Length": str(len(raw)), "Connection": "close"}
        if auth and self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        head = "%s %s HTTP/1.1\r\n" % (method, path)
        head += "".join("%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
        return head.encode("latin-1") + raw

    def begin(self, method, path, body=None, timeout=30):
        """Send a request on a new connection and return at once: a
        PendingRequest whose .response() reads the reply later (for
        long-polls that other requests should complete)."""
        return PendingRequest(self, method, path, body, timeout)

    def get_json(self, path, status=200, **kw):
        """GET path, check the status, return the JSON body."""
        r = self.request("GET", path, **kw)
        if r.status != status:
            raise AssertionError("GET %s: expected %d, got %d: %r"
                                 % (path, status, r.status, r.body))
        return r.body

    # -- loop helpers --------------------------------------------------------

    def loop_time(self):
        return self.get_json("/v1/time")["loop_time"]

    def schedule(self, body, status=201, headers=None):
        """POST /v1/calls; check the status; return the call object."""
        r = self.request("POST", "/v1/calls", body=body, headers=headers)
        if r.status != status:
            raise AssertionError("POST /v1/calls %s: expected %d, got %d: %r"
                                 % (json.dumps(body)[:300], status, r.status,
                                    r.body))
        return r.body

    def call(self, cid):
        return self.get_json("/v1/calls/" + cid)

    def wait_done(self, oid, timeout=10, route="/v1/calls/"):
        """Poll (bounded) until call/future oid is no longer pending."""
        last = {}

        def done():
            r = self.request("GET", route + oid)
            if r.status != 200:
                raise AssertionError("GET %s%s: %d %r" % (route, oid,
                                                          r.status, r.body))
            last["v"] = r.body
            return r.body if r.body.get("state") != "pending" else None
        try:
            return wait_until(done, timeout, what="%s to be done" % oid,
                              check=self.check_alive)
        except AssertionError as e:
            raise AssertionError("%s; last seen: %s" % (e, last.get("v")))

    def call_ids(self, query=""):
        """Every call id GET /v1/calls lists (following the pages)."""
        return [c["id"] for c in self.list_calls(query)]

    def list_calls(self, query="", page_size=1000):
        items = []
        token = ""
        for _ in range(10000):
            q = "page_size=%d" % page_size
            if query:
                q += "&" + query
            if token:
                q += "&page_token=" + token
            body = self.get_json("/v1/calls?" + q)
            items += body["items"]
            token = body.get("next_page_token", "")
            if not token:
                return items
        raise AssertionError("GET /v1/calls paging never ends")

    def check_alive(self):
        if not self.alive():
            raise AssertionError("loopd is not running (status %s):\n%s"
                                 % (self.proc.returncode if self.proc
                                    else None, self.log_tail()))

    def wait_until(self, predicate, timeout=10, what="condition",
                   interval=0.005):
        """wait_until that also fails fast if the daemon died."""
        return wait_until(predicate, timeout, what, interval,
                          check=self.check_alive)

    # -- loopctl -------------------------------------------------------------

    def loopctl(self, *args, input=None, timeout=30, env=None):
        """Run loopctl against this daemon (text mode, output captured)."""
        e = dict(os.environ)
        for k in ("LOOP_TOKEN", "LOOP_URL", "LOOP_TOKEN_FILE"):
            e.pop(k, None)
        e["LOOP_URL"] = self.url
        if self.token_file:
            e["LOOP_TOKEN_FILE"] = self.token_file
        for k, v in (env or {}).items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run([LOOPCTL] + [str(a) for a in args], input=input,
                              capture_output=True, text=True,
                              timeout=timeout, env=e,
                              stdin=None if input is not None
                              else subprocess.DEVNULL)


class PendingRequest:
    """A request sent on its own connection, its reply not yet read."""

    def __init__(self, daemon, method, path, body=None, timeout=30):
        self.method = method
        raw = b"" if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        self.sock = daemon.connect(timeout)
        self.t0 = time.monotonic()
        self.sock.sendall(daemon.http_bytes(method, path, raw, headers))
        self.elapsed = None

    def replied(self, within=0.0):
        """True if the daemon has begun to answer (or closed) within
        `within` seconds."""
        r, _, _ = select.select([self.sock], [], [], within)
        return bool(r)

    def response(self):
        """Read the reply (a Response, or None if the connection closed);
        .elapsed is the time since the request was sent."""
        try:
            return read_response(self.sock, self.method)
        finally:
            self.elapsed = time.monotonic() - self.t0
            self.sock.close()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def send_until_reply(sock, data, timeout=10):
    """Send data, stopping early if the peer starts answering or closes."""
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while view:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        r, w, _ = select.select([sock], [sock], [], left)
        if r:
            return
        if w:
            try:
                n = sock.send(view[:65536])
            except OSError:
                return
            view = view[n:]


def read_response(sock, method="GET"):
    """Read one HTTP response from sock: a Response, or None if the peer
    closed (or reset) the connection without one."""
    resp = http.client.HTTPResponse(sock, method=method)
    try:
        resp.begin()
        data = resp.read()
    except (http.client.RemoteDisconnected, ConnectionResetError,
            BrokenPipeError):
        return None
    except http.client.BadStatusLine as e:
        if not str(e) or str(e) == "''":
            return None
        raise
    h = _headers(resp.msg)
    return Response(resp.status, h, parse_body(h, data))


# -- helpers for tests ---------------------------------------------------------

class PostStream:
    """`threads` clients posting calls as fast as they can until stop(),
    each on its own keep-alive connection. body(tag) makes the request for
    a tag ("t<client>-<seq>"). After stop(): acked maps tag -> call id for
    every 201; unacked holds tags whose POST got no reply; other lists
    (tag, status, body) of any other reply. A client stops at its first
    failure."""

    def __init__(self, daemon, threads, body):
        self.d, self.body = daemon, body
        self.acked, self.unacked, self.other = {}, set(), []
        self.lock, self._stop = threading.Lock(), threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(k,), daemon=True)
                        for k in range(threads)]

    def _client(self, k):
        s = self.d.session(timeout=10)
        seq = 0
        try:
            while not self._stop.is_set():
                tag = "t%d-%d" % (k, seq)
                seq += 1
                try:
                    r = s.request("POST", "/v1/calls", body=self.body(tag))
                except (OSError, http.client.HTTPException):
                    r = None
                with self.lock:
                    if r is None or r.status is None:
                        self.unacked.add(tag)
                        return
                    if r.status != 201:
                        self.other.append((tag, r.status, r.body))
                        return
                    self.acked[tag] = r.body["id"]
        finally:
            s.close()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def stop(self, timeout=15):
        self._stop.set()
        for t in self.threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self.threads)


def hold_until(path, then="", **fields):
    """A command action that runs until the file path exists (then runs
    `then`): it holds a command slot for as long as a test needs."""
    return sh('while [ ! -e "$1" ]; do sleep 0.01; done' + ("; " + then if then else ""),
              path, **fields)


def sh(script, *args, **fields):
    """A command action running script with /bin/sh -c."""
    cmd = {"argv": ["/bin/sh", "-c", script, "sh"] + list(args)}
    cmd.update(fields)
    return cmd


def assert_problem(tc, resp, status, type_=None, detail_has=None):
    """Check that resp is an RFC 9457 problem with this status."""
    st, headers, body = resp
    where = "%r" % (body,)
    tc.assertEqual(st, status, "status; body: " + where)
    ctype = headers.get("content-type", "")
    tc.assertEqual(ctype.split(";")[0].strip(), "application/problem+json",
                   "content type; body: " + where)
    tc.assertIsInstance(body, dict, "problem body is not a JSON object")
    for k in ("type", "title", "detail"):
        tc.assertIsInstance(body.get(k), str, "problem field %s: %s"
                            % (k, where))
        tc.assertTrue(body[k], "problem field %s is empty" % k)
    tc.assertEqual(body.get("status"), status, "problem status: " + where)
    if type_ is not None:
        types = type_ if isinstance(type_, (tuple, list)) else (type_,)
        tc.assertIn(body["type"], types, "problem type: " + where)
    if detail_has is not None:
        tc.assertIn(detail_has, body["detail"], "detail: " + where)
    return body


ID_RE = re.compile(r"^c_[0-9a-f]{16}$")
FUTURE_ID_RE = re.compile(r"^f_[0-9a-f]{16}$")


class DaemonTestCase(unittest.TestCase):
    """A TestCase class that shares one daemon (cls.d) among its tests."""
    opts = {}
    args = []
    auth = True
    config = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        d = Daemon(opts=dict(cls.opts), args=list(cls.args), auth=cls.auth,
                   config=cls.config)
        cls.addClassCleanup(d.close)
        cls.d = d
        d.start()

    def setUp(self):
        super().setUp()
        self.d.check_alive()
