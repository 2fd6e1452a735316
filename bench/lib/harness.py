"""
harness: what the benchmark scripts share (Python 3 stdlib only).

Python only orchestrates here: it starts loopd (through the C launcher,
which times the start-up), reads /metrics and object listings, and runs
the C tools and wrk, which do every latency and throughput measurement.

    ctx.loopd(opts={...}, name="await")  -> Loopd, started (fresh state dir)
    d.pid d.port d.host d.url d.token_file d.state_dir d.started
        started: {"listen_s", "healthz_s", "ready_s"} from the launcher
    d.get(path) / d.post(path, body) -> (status, parsed JSON or text)
    d.metrics() -> {name: value} for unlabelled samples (and labelled ones
        under their full name, e.g. 'loopd_calls_finished_total{outcome="result"}')
    d.rss_kb(), d.store_bytes(), d.stop("term"|"kill") -> exit event
    d.restart() -> starts again on the same state dir (new port)
    ctx.tool(name, *args) -> parsed JSON line printed by a C tool
    ctx.ensure_pkg(cmd, *debian_packages) -> path of cmd or None
"""
import http.client
import json
import math
import os
import select
import socket
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)


class BenchError(Exception):
    pass


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Loopd:
    def __init__(self, ctx, name, opts=None, auth=True, nofile=65536, state_dir=None):
        self.ctx = ctx
        self.name = name
        self.opts = dict(opts or {})
        self.auth = auth
        self.nofile = nofile
        self.state_dir = state_dir or tempfile.mkdtemp(prefix=name + "-", dir=ctx.tmp)
        self.log_path = os.path.join(ctx.tmp, name + ".log")
        self.proc = None
        self.exit = None
        self.starts = 0

    # -- life cycle -----------------------------------------------------
    def start(self, timeout=600):
        argv = [self.ctx.bin("launch"), "--log", self.log_path, "--nofile", str(self.nofile),
                "--timeout", str(timeout), "--", self.ctx.loopd_bin,
                "--state-dir", self.state_dir, "--listen", "127.0.0.1:0"]
        opts = dict(self.opts)
        if not self.auth:
            opts["auth"] = "off"
        for k, v in opts.items():
            argv += ["-o", "%s=%s" % (k, v)]
        with open(self.log_path, "a") as f:
            f.write("---- bench: start #%d: %s\n" % (self.starts + 1, " ".join(argv)))
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0)
        self.ctx.live.add(self)
        self.starts += 1
        self.exit = None
        self.started = {}
        ev = self._events(until=lambda: "healthz_s" in self.started and "ready_s" in self.started,
                          timeout=timeout + 5)
        if ev is not None and ev.get("event") == "exit":
            raise BenchError("%s: loopd exited during start-up (%s); log: %s"
                             % (self.name, ev, self.log_path))
        self.token_file = os.path.join(self.state_dir, "token") if self.auth else None
        self.token = open(self.token_file).read().strip() if self.auth else None
        return self

    def _events(self, until, timeout):
        """Read launcher events until until() is true or the process exits."""
        deadline = time.monotonic() + timeout
        buf = b""
        while True:
            if until():
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError("%s: launcher timed out (log: %s)" % (self.name, self.log_path))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if not r:
                continue
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait()
                self.ctx.live.discard(self)
                return {"event": "exit", "status": None}
            ev = json.loads(line)
            kind = ev.get("event")
            if kind == "started":
                self.pid = ev["pid"]
            elif kind == "listening":
                self.host, self.port = ev["host"], ev["port"]
                self.url = "http://%s:%d" % (self.host, self.port)
                self.started["listen_s"] = ev["listen_s"]
            elif kind in ("healthz", "ready"):
                self.started[kind + "_s"] = ev[kind + "_s"]
            elif kind == "exit":
                self.exit = ev
                self.proc.wait()
                self.ctx.live.discard(self)
                return ev

    def stop(self, how="term", timeout=120):
        """Stop loopd (SIGTERM or SIGKILL) and return the launcher's exit event."""
        if self.proc is None or self.exit is not None:
            return self.exit
        try:
            self.proc.stdin.write((how + "\n").encode())
            self.proc.stdin.flush()
            self._events(until=lambda: self.exit is not None, timeout=timeout)
        except (BenchError, BrokenPipeError, OSError):
            self.proc.kill()  # the launcher: loopd then gets SIGTERM, SIGKILL in 15 s
            self.proc.wait()
        finally:
            self.ctx.live.discard(self)
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.stdout.close()
        return self.exit

    def restart(self, timeout=600):
        self.proc = None
        return self.start(timeout=timeout)

    # -- talking to it --------------------------------------------------
    def request(self, method, path, body=None, timeout=60):
        c = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        headers = {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            ctype = r.getheader("Content-Type", "")
            val = json.loads(raw) if "json" in ctype else raw.decode("utf-8", "replace")
            return r.status, val
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def metrics(self):
        st, text = self.get("/metrics")
        if st != 200:
            raise BenchError("GET /metrics: %s" % st)
        out = {}
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name, _, val = line.rpartition(" ")
            try:
                out[name] = float(val)
            except ValueError:
                pass
        return out

    def loop_time(self):
        st, t = self.get("/v1/time")
        if st != 200:
            raise BenchError("GET /v1/time: %s" % st)
        return t["loop_time"]

    def wait_metric(self, pred, timeout, what, every=0.05):
        deadline = time.monotonic() + timeout
        while True:
            m = self.metrics()
            if pred(m):
                return m
            if time.monotonic() > deadline:
                raise BenchError("%s: timed out waiting for %s" % (self.name, what))
            time.sleep(every)

    def rss_kb(self):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return None

    def store_bytes(self):
        """Sizes of loopd.db, -wal and -shm in the state directory."""
        out = {}
        for suffix in ("", "-wal", "-shm"):
            p = os.path.join(self.state_dir, "loopd.db" + suffix)
            out["db" + suffix] = os.path.getsize(p) if os.path.exists(p) else 0
        return out

    def tool_args(self):
        args = ["--host", self.host, "--port", str(self.port)]
        if self.token_file:
            args += ["--token-file", self.token_file]
        return args


NGINX_CONF = """
worker_processes 1;
master_process off;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            default_type application/json;
            return 200 '{{}}';
        }}
    }}
}}
"""


def pin_argv(cpu):
    """A command prefix that runs a program on CPU cpu alone ([] if cpu is
    None, or taskset is missing, or the machine has one CPU)."""
    if cpu is None or not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        return []
    return ["taskset", "-c", str(cpu)]


def pin_pid(pid, cpu):
    """Move every thread of a running process to CPU cpu. True if done."""
    pin = pin_argv(cpu)
    if not pin or pid is None:
        return False
    return subprocess.run(pin[:1] + ["-a", "-p", "-c", str(cpu), str(pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


class _Nginx:
    """nginx with one worker answering every request with 200 '{}': the
    ceiling for HTTP throughput, and a fast keep-alive webhook receiver.
    A context manager giving its base URL, or None if it cannot be had."""

    def __init__(self, ctx, cpu=None):
        self.ctx, self.p, self.cpu = ctx, None, cpu

    def __enter__(self):
        nginx = self.ctx.ensure_pkg("nginx", "nginx-light", "nginx")
        if nginx is None:
            return None
        d = tempfile.mkdtemp(prefix="nginx-", dir=self.ctx.tmp)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(dir=d, port=port))
        pin = pin_argv(self.cpu)
        self.p = subprocess.Popen(pin + [nginx, "-c", conf, "-p", d, "-e", os.path.join(d, "error.log")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return "http://127.0.0.1:%d" % port
            except OSError:
                if self.p.poll() is not None or time.monotonic() > deadline:
                    log("nginx did not start: %s" % self.p.stderr.read().decode()[-500:])
                    return None
                time.sleep(0.02)

    def __exit__(self, *exc):
        if self.p is not None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


class Context:
    def __init__(self, args):
        self.args = args
        self.keep = args.keep
        self.tmp = tempfile.mkdtemp(prefix="loopd-bench-")
        self.live = set()
        self.loopd_bin = os.environ.get("LOOPD") or os.path.join(ROOT, "build", "loopd")

    def bin(self, name):
        return os.path.join(BENCH, "build", name)

    def loopd(self, name, **kw):
        return Loopd(self, name, **kw).start()

    def tool(self, name, *args, timeout=3600, check=True):
        argv = [self.bin(name)] + [str(a) for a in args]
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
        lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
        if (check and p.returncode != 0) or not lines:
            raise BenchError("%s exited %d: %s" % (name, p.returncode,
                                                  (p.stderr.decode().strip() or p.stdout.decode())[-2000:]))
        return json.loads(lines[-1])

    def nginx(self, cpu=None):
        """nginx (see _Nginx), on CPU cpu alone when it is given."""
        return _Nginx(self, cpu)

    def ensure_pkg(self, cmd, *pkgs):
        """The path of cmd, installing Debian packages (in order, first that
        works) when it is missing. None if it cannot be had."""
        path = shutil.which(cmd) or shutil.which(cmd, path="/usr/sbin:/sbin")
        if path:
            return path
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        if not getattr(self, "_apt_updated", False):
            log("apt-get update (to install %s)" % cmd)
            subprocess.run(sudo + ["apt-get", "update", "-qq"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
            self._apt_updated = True
        for pkg in pkgs:
            log("apt-get install %s" % pkg)
            r = subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", pkg],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
            path = shutil.which(cmd) or shutil.which(cmd, path="/usr/sbin:/sbin")
            if r.returncode == 0 and path:
                return path
        return None

    def stop_all(self):
        for d in list(self.live):
            try:
                d.stop("term", timeout=30)
            except Exception as e:  # a last resort: never leave a daemon behind
                log("stopping %s: %s" % (d.name, e))

    def cleanup(self):
        self.stop_all()
        if self.keep:
            log("kept %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def list_calls(d, name):
    """Every call named name, through the paged GET /v1/calls."""
    calls, token = [], ""
    while True:
        q = {"name": name, "page_size": 1000}
        if token:
            q["page_token"] = token
        st, page = d.get("/v1/calls?" + urllib.parse.urlencode(q))
        if st != 200:
            raise BenchError("GET /v1/calls: %s %s" % (st, page))
        calls += page["items"]
        token = page.get("next_page_token") or ""
        if not token:
            return calls



def pct(values, q):
    """Nearest-rank quantile of a list (sorted here)."""
    v = sorted(values)
    if not v:
        return None
    k = max(1, min(len(v), math.ceil(q * len(v) - 1e-9)))
    return v[k - 1]


def median_run(runs, key):
    """The run whose key is the median (the lower one for an even count)."""
    s = sorted(runs, key=key)
    return s[(len(s) - 1) // 2]


def fmt(v, prec=2):
    if v is None:
        return "-"
    if isinstance(v, float):
        return "%.*f" % (prec, v)
    return str(v)
