"""
python: the Python client (client/python) beside raw HTTP from the same
Python process: calls scheduled per second (asyncio face with 100 at once,
blocking face in one thread) and await wake latency (1 and 100 waiters
with asyncio, 1 with the blocking face). The measuring is done by
bench/python/measure.py in a process of its own (the interpreter running
bench/run), against a fresh loopd; it prints one JSON line.
"""
import json
import os
import subprocess
import sys

from harness import BenchError, fmt

TITLE = "Python client: calls/s (async x100, blocking) and await wake latency, vs raw HTTP"

HERE = os.path.dirname(os.path.abspath(__file__))


def pair(a, b):
    return "%s / %s" % (fmt(a), fmt(b))


def run(ctx):
    d = ctx.loopd("python", opts={"max_connections_per_ip": 1024})
    try:
        argv = [sys.executable, os.path.join(HERE, "measure.py"), "--url", d.url,
                "--token-file", d.token_file]
        if ctx.args.quick:
            argv.append("--quick")
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=1800)
        lines = [l for l in p.stdout.decode().splitlines() if l.startswith("{")]
        if p.returncode != 0 or not lines:
            raise BenchError("measure.py exited %d: %s" % (p.returncode,
                                                          p.stderr.decode()[-2000:]))
        r = json.loads(lines[-1])
    finally:
        d.stop()
    s, w = r["schedule"], r["await"]

    def ratio(a, b):
        return round(s[a]["median"] / s[b]["median"], 2)

    def lat(k):
        return pair(w[k]["p50"], w[k]["p99"])
    r["figures"] = [
        ("schedule, asyncio x100: client / raw", pair(s["async_client"]["median"],
                                                      s["async_raw"]["median"]), "calls/s"),
        ("schedule, asyncio x100: client / raw", ratio("async_client", "async_raw"), "ratio"),
        ("schedule, asyncio x100: client / raw CPU per call",
         pair(s["async_client"]["cpu_us_per_call"], s["async_raw"]["cpu_us_per_call"]), "us"),
        ("schedule, blocking: client / raw", pair(s["sync_client"]["median"],
                                                  s["sync_raw"]["median"]), "calls/s"),
        ("schedule, blocking: client / raw", ratio("sync_client", "sync_raw"), "ratio"),
        ("schedule, blocking: client / raw CPU per call",
         pair(s["sync_client"]["cpu_us_per_call"], s["sync_raw"]["cpu_us_per_call"]), "us"),
        ("await 1 waiter, asyncio, client: p50 / p99", lat("async_client_1"), "ms"),
        ("await 1 waiter, asyncio, raw: p50 / p99", lat("async_raw_1"), "ms"),
        ("await 100 waiters, asyncio, client: p50 / p99", lat("async_client_100"), "ms"),
        ("await 100 waiters, asyncio, raw: p50 / p99", lat("async_raw_100"), "ms"),
        ("await 1 waiter, blocking, client: p50 / p99", lat("sync_client_1"), "ms"),
        ("await 1 waiter, blocking, raw: p50 / p99", lat("sync_raw_1"), "ms"),
    ]
    return r
