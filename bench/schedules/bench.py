"""
schedules: a schedule firing every second for N minutes (issue 15: 10
minutes; CI cannot wait that long, so this bench is opt-in: `bench/run
schedules`, or standalone `python3 bench/schedules/bench.py --minutes 2`).

One loopd, one `every: 1` schedule running `true`. Afterwards every
occurrence call is read back (GET /v1/calls): lateness = started - due
(loop times; due is the nominal time, there is no jitter), p50/p99/max;
missed = nominal seconds in the span with no call, or a call that never
started; doubled = nominal times with more than one call, and calls whose
command ran more than once (attempts > 1). Then memory per schedule: RSS
before and after creating 10,000 `every: 3600` schedules (each also holds
its one call made ahead), divided by 10,000.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

TITLE = "a schedule every second for N minutes: lateness, missed, doubled; RSS per schedule"
MEMORY_SCHEDULES = 10000


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(q * len(v)))]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(d, minutes, log):
    """d: an object with request(method, path, body) -> (status, body), pid,
    and list_calls(). Returns the result dict."""
    st, s = d.request("POST", "/v1/schedules", {"every": 1, "name": "bench-every-1s",
                                                 "command": {"argv": ["true"]}})
    if st != 201:
        raise RuntimeError("POST /v1/schedules: %s %s" % (st, s))
    sid = s["id"]
    t0 = time.time()
    log("schedules: %s firing every second for %g minutes" % (sid, minutes))
    end = t0 + minutes * 60
    while time.time() < end:
        time.sleep(min(10, max(0.1, end - time.time())))
    d.request("POST", "/v1/schedules/%s/pause" % sid, None)
    time.sleep(1.5)       # the last one finishes
    calls = [c for c in d.list_calls() if c.get("schedule") == sid]
    started = [c for c in calls if "started" in c]
    late = [(c["started"] - c["due"]) * 1000 for c in started]
    fors = {}
    for c in calls:
        fors.setdefault(c["scheduled_for"], []).append(c)
    first, last = min(fors), max(fors)
    span = [first + i for i in range(int(last - first) + 1)]
    missed = [t for t in span if t not in fors or
              not any("started" in c for c in fors[t])]
    # The last one may have been cancelled by the pause.
    missed = [t for t in missed if t != last]
    doubled = [t for t, cs in fors.items() if len(cs) > 1]
    reruns = [c["id"] for c in calls if c.get("attempts", 0) > 1]
    res = {
        "occurrences": len(started), "minutes": minutes,
        "lateness_ms": {"p50": pct(late, 0.5), "p99": pct(late, 0.99),
                        "max": max(late) if late else None},
        "missed": len(missed), "doubled": len(doubled) + len(reruns),
        "missed_at": missed[:20], "doubled_at": doubled[:20],
    }
    log("schedules: %d occurrences, lateness p50 %.3f ms p99 %.3f ms max %.3f ms, "
        "missed %d, doubled %d" % (len(started), res["lateness_ms"]["p50"],
                                   res["lateness_ms"]["p99"], res["lateness_ms"]["max"],
                                   res["missed"], res["doubled"]))
    before = rss_kb(d.pid)
    for i in range(MEMORY_SCHEDULES):
        st, _ = d.request("POST", "/v1/schedules", {
            "every": 3600, "name": "m%d" % i, "command": {"argv": ["/bin/echo", "x" * 40]}})
        if st != 201:
            raise RuntimeError("memory: schedule %d: %s" % (i, st))
    time.sleep(1)
    after = rss_kb(d.pid)
    res["memory"] = {"schedules": MEMORY_SCHEDULES, "rss_kb_before": before,
                     "rss_kb_after": after,
                     "bytes_per_schedule": (after - before) * 1024.0 / MEMORY_SCHEDULES}
    log("schedules: %.0f bytes of RSS per schedule (with its call made ahead)"
        % res["memory"]["bytes_per_schedule"])
    res["figures"] = [
        ("lateness p50", res["lateness_ms"]["p50"], "ms"),
        ("lateness p99", res["lateness_ms"]["p99"], "ms"),
        ("lateness max", res["lateness_ms"]["max"], "ms"),
        ("occurrences", len(started), ""),
        ("missed", res["missed"], ""),
        ("doubled", res["doubled"], ""),
        ("RSS per schedule", res["memory"]["bytes_per_schedule"], "bytes"),
    ]
    return res


class _IntegrationDaemon:
    """Standalone: the integration tests' harness starts loopd."""

    def __init__(self):
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        os.environ.setdefault("LOOPD", os.path.join(ROOT, "build", "loopd"))
        os.environ.setdefault("LOOPCTL", os.path.join(ROOT, "build", "loopctl"))
        import harness
        self.d = harness.Daemon(opts={"max_schedules": MEMORY_SCHEDULES + 10}).start()
        self.pid = self.d.proc.pid

    def request(self, method, path, body):
        r = self.d.request(method, path, body=body)
        return r.status, r.body

    def list_calls(self):
        return self.d.list_calls()

    def close(self):
        self.d.close()


class _BenchDaemon:
    """Under bench/run: its harness starts loopd."""

    def __init__(self, ctx):
        self.d = ctx.loopd("schedules", opts={"max_schedules": MEMORY_SCHEDULES + 10})
        self.pid = self.d.pid

    def request(self, method, path, body):
        return self.d.request(method, path, body)

    def list_calls(self):
        from harness import list_calls
        return list_calls(self.d, "bench-every-1s")


def run(ctx):
    from harness import log
    minutes = float(os.environ.get("SCHEDULES_MINUTES", "2"))
    return measure(_BenchDaemon(ctx), minutes, log)


def main():
    ap = argparse.ArgumentParser(description=TITLE)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    d = _IntegrationDaemon()
    try:
        res = measure(d, args.minutes, lambda m: print(m, file=sys.stderr, flush=True))
    finally:
        d.close()
    res.pop("figures")
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    ok = res["missed"] == 0 and res["doubled"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
