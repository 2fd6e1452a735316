#!/usr/bin/env python3
"""
chaos: a crash-testing harness for loopd's promises, in the spirit of Jepsen.

    python3 tests/chaos/chaos.py [--cycles N] [--seed S] [--load SECONDS]

Several clients do mixed work against one real loopd: command calls due
soon and a little later, each appending a unique tag to a file; futures
created, resolved and given done-callbacks (commands that append a tag);
webhooks to a local receiver that records each delivery's webhook-id and
body. Meanwhile a nemesis, each cycle, lets the load run for a random
while, sometimes freezes the daemon (SIGSTOP, then SIGCONT), fills its
disk or makes its store read-only for a while (the state directory is a
small tmpfs of the harness's own, when it may mount one), and kills it
with SIGKILL at a random moment; the daemon is then started again on the
same state directory. After the last cycle the load stops, every
acknowledged call is awaited, and a checker verifies:

  - every acknowledged object exists (nothing acknowledged is lost);
  - no command ran twice (commands here never ask to be re-run);
  - a command that finished with exit 0 ran exactly once; one that ended
    Interrupted ran at most once (accounted for, not lost);
  - nothing ran that the store does not hold (every tag in the file
    belongs to a stored call);
  - a webhook sent again carries the same webhook-id and body, and every
    acknowledged webhook that succeeded was delivered;
  - resolved futures keep their results across every crash;
  - loop time never goes back.

It prints one table (cycles, acknowledged, lost, duplicated, interrupted,
violations) and exits 1 if any promise was broken. `make chaos CYCLES=200`
runs a long one; the integration suite runs a short one (test_chaos).
LOOPD names the binary, as for the integration tests.
"""
import argparse
import contextlib
import http.server
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness  # noqa: E402

APPEND = 'printf "%s\\n" "$1" >> "$2"'


class Receiver:
    """A webhook receiver on 127.0.0.1: records (webhook-id, body) per
    delivery, answers 200."""

    def __init__(self):
        self.lock = threading.Lock()
        self.deliveries = []        # (webhook-id, body text)
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode("utf-8", "replace")
                with rec.lock:
                    rec.deliveries.append((self.headers.get("webhook-id"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Ledger:
    """What clients were told: acknowledged calls and futures."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls = {}         # tag -> (id, kind)  acknowledged with 2xx
        self.results = {}       # future id -> result acknowledged
        self.futures = []       # acknowledged pending futures
        self.acked = 0

    def ack_call(self, tag, cid, kind):
        with self.lock:
            self.calls[tag] = (cid, kind)
            self.acked += 1


class Client(threading.Thread):
    """One client doing mixed work until told to stop. Requests that fail
    (the daemon is down or frozen) have an unknown outcome and are not
    counted as acknowledged."""

    def __init__(self, k, daemon, ledger, receiver, tagfile, rng, stop):
        super().__init__(daemon=True)
        self.k, self.d, self.ledger = k, daemon, ledger
        self.receiver, self.tagfile = receiver, tagfile
        self.rng, self.stop_ev = rng, stop
        self.n = 0

    def tag(self):
        self.n += 1
        return "t%d_%d" % (self.k, self.n)

    def post(self, path, body):
        try:
            r = self.d.request("POST", path, body, timeout=5)
        except Exception:
            return None
        return r

    def op_command(self):
        tag = self.tag()
        body = {"name": tag, "command": harness.sh(APPEND, tag, self.tagfile)}
        if self.rng.random() < 0.3:
            body["soon"] = True
        else:
            body["after"] = round(self.rng.uniform(0.0, 1.2), 3)
        r = self.post("/v1/calls", body)
        if r is not None and r.status == 201:
            self.ledger.ack_call(tag, r.body["id"], "command")

    def op_webhook(self):
        tag = self.tag()
        body = {"name": tag, "after": round(self.rng.uniform(0.0, 0.8), 3),
                "webhook": {"url": self.receiver.url}, "args": [tag]}
        r = self.post("/v1/calls", body)
        if r is not None and r.status == 201:
            self.ledger.ack_call(tag, r.body["id"], "webhook")

    def op_future(self):
        r = self.post("/v1/futures", {"name": self.tag()})
        if r is None or r.status != 201:
            return
        fid = r.body["id"]
        with self.ledger.lock:
            self.ledger.futures.append(fid)
        tag = self.tag()
        r = self.post("/v1/futures/%s/callbacks" % fid,
                      {"name": tag, "command": harness.sh(APPEND, tag, self.tagfile)})
        if r is not None and r.status == 201:
            self.ledger.ack_call(tag, r.body["id"], "callback")
        value = {"v": self.tag()}
        r = self.post("/v1/futures/%s/result" % fid, {"result": value})
        if r is not None and r.status == 200:
            with self.ledger.lock:
                self.ledger.results[fid] = value

    def run(self):
        ops = [self.op_command] * 5 + [self.op_webhook] * 2 + [self.op_future] * 2
        while not self.stop_ev.is_set():
            self.rng.choice(ops)()
            time.sleep(self.rng.uniform(0.002, 0.02))


class StateFS:
    """The state directory on a tmpfs of its own (root only), so the
    nemesis can fill it or remount it read-only. A no-op otherwise."""

    SIZE = "64m"

    def __init__(self, d):
        self.path = d.state_dir
        self.mounted = False
        if os.geteuid() == 0:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" %
                                self.SIZE, "loopd-chaos", self.path],
                               capture_output=True)
            self.mounted = r.returncode == 0
        self.filler = os.path.join(self.path, "filler")

    @contextlib.contextmanager
    def full(self):
        """The disk is full while inside."""
        chunk = b"\0" * 65536
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    if os.write(fd, chunk) < len(chunk):
                        break
                except OSError:
                    break
            yield
        finally:
            os.close(fd)
            os.remove(self.filler)

    @contextlib.contextmanager
    def read_only(self):
        """The store is read-only while inside."""
        subprocess.run(["mount", "-o", "remount,ro", self.path], capture_output=True)
        try:
            yield
        finally:
            subprocess.run(["mount", "-o", "remount,rw", self.path],
                           capture_output=True)

    def close(self):
        if self.mounted:
            if subprocess.run(["umount", self.path], capture_output=True).returncode:
                subprocess.run(["umount", "-l", self.path], capture_output=True)


def nemesis(d, fs, rng):
    """One cycle's fault before the kill: none, a freeze, a full disk or a
    read-only store, for a random while."""
    faults = ["none", "freeze"] + (["full", "readonly"] if fs.mounted else [])
    fault = rng.choice(faults)
    if fault == "freeze":
        d.signal(signal.SIGSTOP)    # frozen: clients time out
        time.sleep(rng.uniform(0.05, 0.4))
        d.signal(signal.SIGCONT)
    elif fault in ("full", "readonly"):
        with (fs.full() if fault == "full" else fs.read_only()):
            time.sleep(rng.uniform(0.2, 1.2))
    time.sleep(rng.uniform(0.0, 0.5))
    return fault


def pending(d, cid):
    """Whether call cid is stored and still pending."""
    r = d.request("GET", "/v1/calls/" + cid)
    return r.status == 200 and r.body.get("state") == "pending"


def loop_time(d):
    try:
        return d.loop_time()
    except Exception:
        return None


def run(cycles, seed, load, clients=4, log=print):
    rng = random.Random(seed)
    receiver = Receiver()
    secret = os.path.join(harness.tempfile.mkdtemp(prefix="loopd-chaos-"), "secret")
    with open(secret, "w") as f:
        f.write("chaos-signing-secret-%d\n" % seed)
    # Signed, so every delivery carries its webhook-id.
    d = harness.Daemon(opts={"max_commands": 16, "retention": "1h",
                             "webhook_attempts": 10, "signing_secret_file": secret})
    ledger = Ledger()
    times = []
    tagfile = None
    fs = StateFS(d)
    faults = {}
    try:
        d.start()
        tagfile = d.path("tags")
        open(tagfile, "w").close()
        for cycle in range(cycles):
            stop = threading.Event()
            workers = [Client(k, d, ledger, receiver, tagfile,
                              random.Random(rng.random()), stop)
                       for k in range(cycle * clients, (cycle + 1) * clients)]
            for w in workers:
                w.start()
            time.sleep(rng.uniform(load / 2, load))
            fault = nemesis(d, fs, rng)
            faults[fault] = faults.get(fault, 0) + 1
            d.kill(children=False)
            stop.set()
            for w in workers:
                w.join(10)
            d.start()
            t = loop_time(d)
            if t is not None:
                times.append(t)
        # Settle the futures whose result never got through (the daemon was
        # down or refused it), so their callbacks run; then let everything
        # acknowledged finish.
        for fid in ledger.futures:
            if d.request("GET", "/v1/futures/" + fid).body.get("state") == "pending":
                r = d.request("POST", "/v1/futures/%s/result" % fid,
                              {"result": "final"})
                if r.status != 200:
                    log("could not settle %s: %s %r" % (fid, r.status, r.body))
        deadline = time.monotonic() + 60
        for cid, _ in list(ledger.calls.values()):
            try:
                harness.wait_until(lambda: not pending(d, cid),
                                   timeout=max(1, deadline - time.monotonic()),
                                   what="call %s to finish" % cid)
            except AssertionError:
                log("call %s never finished: %r\n%s" % (
                    cid, d.request("GET", "/v1/calls/" + cid).body, d.log_tail(40)))
                raise
        t = loop_time(d)
        if t is not None:
            times.append(t)
        log("faults before the kills: %s" % ", ".join(
            "%s %d" % kv for kv in sorted(faults.items())))
        return check(d, ledger, receiver, tagfile, times, cycles, log)
    finally:
        d.stop(check=False)
        fs.close()
        d.close(check=False)
        receiver.close()
        harness.shutil.rmtree(os.path.dirname(secret), ignore_errors=True)


def check(d, ledger, receiver, tagfile, times, cycles, log):
    violations = []
    with open(tagfile) as f:
        ran = {}
        for line in f:
            line = line.strip()
            if line:
                ran[line] = ran.get(line, 0) + 1
    stored = {c["name"]: c for c in d.list_calls() if c.get("name")}
    lost = dup = interrupted = 0
    for tag, (cid, kind) in sorted(ledger.calls.items()):
        r = d.request("GET", "/v1/calls/" + cid)
        if r.status != 200:
            lost += 1
            violations.append("acknowledged %s (%s) is gone: %s" % (cid, tag, r.status))
            continue
        c = r.body
        if c["state"] == "pending":
            lost += 1
            violations.append("acknowledged %s (%s) never finished" % (cid, tag))
            continue
        if kind == "webhook":
            continue
        n = ran.get(tag, 0)
        exc = (c.get("exception") or {}).get("type")
        if n > 1:
            dup += 1
            violations.append("%s (%s) ran %d times" % (cid, tag, n))
        elif exc == "Interrupted":
            interrupted += 1
        elif c["state"] == "finished" and exc is None and n != 1:
            lost += 1
            violations.append("%s (%s) finished with a result but ran %d times"
                              % (cid, tag, n))
    for tag, n in ran.items():
        if tag not in stored:
            violations.append("%s ran (%d times) but no stored call has it" % (tag, n))
        elif n > 1 and tag not in ledger.calls:
            dup += 1
            violations.append("%s (not acknowledged) ran %d times" % (tag, n))
    bodies = {}
    for wid, body in receiver.deliveries:
        if wid is None:
            violations.append("a webhook came without a webhook-id")
            continue
        if wid in bodies and bodies[wid] != body:
            violations.append("webhook-id %s re-sent with another body" % wid)
        bodies.setdefault(wid, body)
    delivered_tags = set()
    for body in bodies.values():
        try:
            delivered_tags.update(a for a in json.loads(body).get("args", []))
        except ValueError:
            violations.append("webhook body is not JSON: %r" % body[:80])
    for tag, (cid, kind) in ledger.calls.items():
        if kind != "webhook":
            continue
        c = d.request("GET", "/v1/calls/" + cid).body
        if c.get("state") == "finished" and "result" in c and tag not in delivered_tags:
            lost += 1
            violations.append("webhook %s (%s) succeeded but was never delivered"
                              % (cid, tag))
    for fid, value in ledger.results.items():
        g = d.request("GET", "/v1/futures/" + fid)
        if g.status != 200 or g.body.get("result") != value:
            violations.append("future %s lost its result %r: %r" % (fid, value, g.body))
    if times != sorted(times):
        violations.append("loop time went back: %r" % times)
    row = {"cycles": cycles, "acknowledged": ledger.acked, "lost": lost,
           "duplicated": dup, "interrupted": interrupted,
           "violations": len(violations)}
    log("%-8s %-13s %-6s %-11s %-12s %s" % tuple(row))
    log("%-8d %-13d %-6d %-11d %-12d %d" % tuple(row.values()))
    for v in violations[:30]:
        log("  " + v)
    return row, violations


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--cycles", type=int, default=int(os.environ.get("CYCLES", 20)))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--load", type=float, default=1.5,
                    help="longest load per cycle before the kill, seconds")
    a = ap.parse_args()
    print("chaos: %d cycles, seed %d, loopd %s" % (a.cycles, a.seed, harness.LOOPD))
    _, violations = run(a.cycles, a.seed, a.load)
    sys.exit(1 if violations else 0)


if __name__ == "__main__":
    main()
