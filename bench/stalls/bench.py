"""
stalls: does the loop ever stop for more than a few milliseconds when work
grows with the input (issue 13)? Two cases:

1. Three POST /v1/wait held on the same 10,000 futures (registration is
   O(n) in one turn), then all 10,000 resolved (`bench/build/post`, 8
   connections): the resolve rate, with and without the waits held.
2. 100,000 calls due at one loop time (webhooks to a closed port with
   webhook_attempts = 1: each fails at once, so the loop does all of the
   starting and settling and no receiver sets the pace).

Two measures of "stall" run through both:
- timer lateness: 300 futures whose timeouts fall due 10 ms apart across
  the case; lateness = finished - (created + timeout), from loopd's own
  loop times (a future's timeout is a core timer like a call's due time).
- the ticker (`bench/build/ticker`): a GET on one keep-alive connection
  every 1 ms; a reply's latency is how long a timer due at that moment
  would have waited for the loop (plus a loopback round trip). Two run
  side by side: `GET /loop-tick` (a 404: no commit holds it, so the loop
  alone) and `GET /healthz` (a 2xx: held while changes wait for their
  commit, so it also shows the group commit under way - the 100,000-row
  commit of case 2 took hundreds of ms, which an earlier version of this
  bench reported as a loop stall).
Figures: p50 / p99 / max of each, per case. --quick: 20,000 calls in
case 2.
"""
import json
import subprocess
import threading
import time

from harness import BenchError, log, pct

TITLE = "loop stalls: timer lateness under a 10,000-id wait and 100,000 calls due at once"

N_WAIT = 10000
N_PROBES = 300
PROBE_STEP = 0.01
FINISHED = ['loopd_calls_finished_total{outcome="%s"}' % k
            for k in ("result", "exception", "cancelled")]


def finished(m):
    return sum(m.get(k, 0) for k in FINISHED)


def fid(n):
    return "f_%016x" % n


def new_future(d, body=None):
    st, f = d.post("/v1/futures", body or {})
    if st != 201:
        raise BenchError("POST /v1/futures: %s %s" % (st, f))
    return int(f["id"][2:], 16)


class Ticker:
    """bench/build/ticker in the background, until stop()."""

    def __init__(self, ctx, d, duration, path="/loop-tick", status=404):
        self.p = subprocess.Popen([ctx.bin("ticker"), "--host", d.host, "--port", str(d.port),
                                   "--duration", str(duration), "--gap", "0.001",
                                   "--path", path, "--status", str(status)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        line = self.p.stderr.readline().decode()
        if "started" not in line:
            raise BenchError("ticker: %s" % line)

    def stop(self):
        out, err = self.p.communicate(b"x\n", timeout=120)
        lines = [l for l in out.decode().splitlines() if l.startswith("{")]
        if self.p.returncode != 0 or not lines:
            raise BenchError("ticker exited %d: %s" % (self.p.returncode, err.decode()[-500:]))
        return json.loads(lines[-1])


def probes(d, first_timeout):
    """N_PROBES futures timing out PROBE_STEP apart from first_timeout s on.
    Returns (numeric id, timeout) pairs."""
    out = []
    for i in range(N_PROBES):
        t = round(first_timeout + i * PROBE_STEP, 6)
        out.append((new_future(d, {"timeout": t}), t))
    return out


def probe_lateness(d, pr, timeout):
    """ms each probe finished after created + timeout (its timer's due time)."""
    deadline = time.monotonic() + timeout
    late = []
    for n, t in pr:
        while True:
            st, f = d.get("/v1/futures/%s" % fid(n))
            if st != 200:
                raise BenchError("GET probe: %s %s" % (st, f))
            if f["state"] != "pending":
                break
            if time.monotonic() > deadline:
                raise BenchError("probe %s still pending" % fid(n))
            time.sleep(0.05)
        if f["state"] != "cancelled":
            raise BenchError("probe %s: %s" % (fid(n), f))
        late.append((f["finished"] - f["created"] - t) * 1e3)
    return late


def summary(values):
    return {"p50": pct(values, 0.5), "p99": pct(values, 0.99), "max": max(values),
            "count": len(values)}


def resolve(ctx, d, base):
    r = ctx.tool("post", *d.tool_args(), "--count", N_WAIT, "--conns", 8,
                 "--path", "/v1/futures/{fid}/result", "--fid-base", base,
                 "--body", '{"result": 1}', "--expect", 200)
    if r["ok"] != N_WAIT:
        raise BenchError("resolve: %d of %d: %s" % (r["ok"], N_WAIT, r["statuses"]))
    return r


def make_targets(ctx, d):
    base = new_future(d) + 1
    r = ctx.tool("post", *d.tool_args(), "--count", N_WAIT, "--conns", 8, "--path",
                 "/v1/futures", "--body", "{}", "--expect", 201)
    if r["ok"] != N_WAIT:
        raise BenchError("futures: %d of %d" % (r["ok"], N_WAIT))
    for n in (base, base + N_WAIT - 1):
        if d.get("/v1/futures/%s" % fid(n))[0] != 200:
            raise BenchError("target ids are not consecutive (%s)" % fid(n))
    return base


def case_wait(ctx, d):
    # Without waits: the resolve rate alone.
    plain = resolve(ctx, d, make_targets(ctx, d))
    base = make_targets(ctx, d)
    ids = [fid(base + i) for i in range(N_WAIT)]
    t = Ticker(ctx, d, 120)
    tc = Ticker(ctx, d, 120, "/healthz", 200)
    pr = probes(d, 1.0)
    replies = []

    def waiter():
        replies.append(d.post("/v1/wait", {"futures": ids, "timeout": 120}, timeout=180))

    threads = [threading.Thread(target=waiter) for _ in range(3)]
    for th in threads:
        th.start()
    d.wait_metric(lambda m: m.get("loopd_waiters", 0) >= 3, 30, "three waits held")
    held = resolve(ctx, d, base)
    for th in threads:
        th.join(200)
    if len(replies) != 3 or any(st != 200 for st, _ in replies):
        raise BenchError("waits: %s" % [st for st, _ in replies])
    late = probe_lateness(d, pr, 30)
    tick = t.stop()
    return {"rate_plain": plain["rate"], "rate_held": held["rate"],
            "timer_ms": summary(late),
            "ticker_ms": tick, "healthz_ms": tc.stop()}


def case_burst(ctx, d, n):
    lead = 5.0 + n / 4000.0
    at = d.loop_time() + lead
    m0 = d.metrics()
    body = json.dumps({"at": round(at, 6), "webhook": {"url": "http://127.0.0.1:1/"}})
    post = ctx.tool("post", *d.tool_args(), "--count", n, "--conns", 32, "--body", body,
                    "--expect", 201, timeout=3600)
    if post["ok"] != n:
        raise BenchError("burst: %d of %d accepted" % (post["ok"], n))
    left = at - d.loop_time()
    if left < 1.5:
        raise BenchError("burst: posting took too long (%.1f s left)" % left)
    t = Ticker(ctx, d, 600)
    tc = Ticker(ctx, d, 600, "/healthz", 200)
    # Probes due from 0.5 s before the burst to 2.5 s after.
    pr = probes(d, at - 0.5 - d.loop_time())
    d.wait_metric(lambda m: finished(m) - finished(m0) >= n, lead + 600,
                  "%d calls to finish" % n, every=0.1)
    finish = d.loop_time() - at
    late = probe_lateness(d, pr, 60)
    tick = t.stop()
    return {"count": n, "post": post, "ticker_ms": tick, "timer_ms": summary(late),
            "finish_s": finish, "healthz_ms": tc.stop()}


def run(ctx):
    n = 20000 if ctx.args.quick else 100000
    d = ctx.loopd("stalls", opts={"max_pending": 10000000, "max_waiters": 1000000,
                                  "webhook_attempts": 1, "retention": "1h"})
    try:
        w = case_wait(ctx, d)
        log("stalls: wait: timer p99 %.3f max %.3f ms; ticker p99 %.3f max %.3f ms; "
            "resolve %d/s plain, %d/s with 3 waits"
            % (w["timer_ms"]["p99"], w["timer_ms"]["max"], w["ticker_ms"]["p99"],
               w["ticker_ms"]["max"], w["rate_plain"], w["rate_held"]))
        b = case_burst(ctx, d, n)
    finally:
        d.stop()
    res = {"wait": w, "burst": b}
    tw, kw, kb = w["timer_ms"], w["ticker_ms"], b["ticker_ms"]
    hw, hb = w["healthz_ms"], b["healthz_ms"]
    res["figures"] = [
        ("3 waits on 10,000 ids: timer lateness p50 / p99 / max",
         "%.3f / %.3f / %.3f" % (tw["p50"], tw["p99"], tw["max"]), "ms"),
        ("3 waits on 10,000 ids: loop (ticker, 404) p50 / p99 / max",
         "%.3f / %.3f / %.3f" % (kw["p50"], kw["p99"], kw["max"]), "ms"),
        ("3 waits on 10,000 ids: /healthz (waits for commits) p50 / p99 / max",
         "%.3f / %.3f / %.3f" % (hw["p50"], hw["p99"], hw["max"]), "ms"),
        ("resolving 10,000: plain / with 3 waits held",
         "%d / %d" % (w["rate_plain"], w["rate_held"]), "/s"),
        ("%s calls due at once: timer lateness p50 / p99 / max" % "{:,}".format(n),
         "%.3f / %.3f / %.3f" % (b["timer_ms"]["p50"], b["timer_ms"]["p99"],
                                 b["timer_ms"]["max"]), "ms"),
        ("%s calls due at once: loop (ticker, 404) p50 / p99 / max" % "{:,}".format(n),
         "%.3f / %.3f / %.3f" % (kb["p50"], kb["p99"], kb["max"]), "ms"),
        ("%s calls due at once: /healthz (waits for commits) p50 / p99 / max"
         % "{:,}".format(n),
         "%.3f / %.3f / %.3f" % (hb["p50"], hb["p99"], hb["max"]), "ms"),
        ("%s calls due at once: all finished after" % "{:,}".format(n),
         "%.2f" % b["finish_s"], "s"),
    ]
    return res
