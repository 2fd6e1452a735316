"""
schedule: POST /v1/calls throughput with 64 keep-alive connections.

wrk (one thread, 64 connections, DURATION s) posts a command call due in an
hour on every request (schedule/post.lua, with the bearer token), against
a fresh loopd with the default durable store. The Lua script counts the
replies by status: every one must be 201. The same wrk run against nginx
(one worker, `return 200 '{}'`) is the ceiling of this client on this
machine, when nginx can be installed.
"""
import os
import re
import subprocess
import time

from harness import BenchError, log

TITLE = "POST /v1/calls throughput, 64 keep-alive connections (wrk)"

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = '{"after":3600,"command":{"argv":["true"]}}'
CONNS = 64


def wrk(ctx, wrk_bin, url, duration, token=None):
    env = dict(os.environ, BENCH_BODY=BODY, LOOPD_TOKEN=token or "")
    argv = [wrk_bin, "-t1", "-c%d" % CONNS, "-d%ds" % duration, "--timeout", "10s",
            "-s", os.path.join(HERE, "post.lua"), url]
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 60)
    if p.returncode != 0:
        raise BenchError("wrk exited %d: %s" % (p.returncode, p.stderr.strip()))
    out = {"statuses": {}, "latency_us": {}, "raw": p.stdout}
    for line in p.stdout.splitlines():
        f = line.split()
        if not f:
            continue
        if f[0] == "STATUS":
            out["statuses"][f[1]] = int(f[2])
        elif f[0] == "LATENCY_US":
            out["latency_us"][f[1]] = int(f[2])
        elif f[0] == "REQUESTS":
            out["requests"] = int(f[1])
        elif f[0] == "DURATION_US":
            out["duration_s"] = int(f[1]) / 1e6
        elif f[0] == "ERRORS":
            out["errors"] = dict(kv.split("=") for kv in f[1:])
            out["errors"] = {k: int(v) for k, v in out["errors"].items()}
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", p.stdout)
    out["non_2xx"] = int(m.group(1)) if m else 0
    out["rps"] = out["requests"] / out["duration_s"]
    return out


def nginx_ceiling(ctx, wrk_bin, duration):
    with ctx.nginx() as url:
        if url is None:
            log("schedule: nginx could not be had; no ceiling")
            return None
        return wrk(ctx, wrk_bin, url + "/v1/calls", duration)


def run(ctx):
    duration = 5 if ctx.args.quick else 10
    wrk_bin = ctx.ensure_pkg("wrk", "wrk")
    if wrk_bin is None:
        raise BenchError("wrk is not installed and apt-get install wrk failed")
    d = ctx.loopd("schedule")
    try:
        before = d.metrics()
        w = wrk(ctx, wrk_bin, d.url + "/v1/calls", duration, token=d.token)
        time.sleep(0.2)  # replies in flight when wrk stopped
        after = d.metrics()
        rss_kb = d.rss_kb()
        store = d.store_bytes()
    finally:
        d.stop()
    key = 'loopd_http_requests_total{route="/v1/calls",method="POST",code="201"}'
    accepted = after.get(key, 0) - before.get(key, 0)
    non201 = sum(v for k, v in w["statuses"].items() if k != "201")
    out = {"loopd": {k: v for k, v in w.items() if k != "raw"}, "accepted_201": accepted,
           "pending_calls": after.get("loopd_pending_calls"), "rss_kb": rss_kb,
           "store_bytes": store}
    lat = w["latency_us"]
    out["figures"] = [
        ("loopd: requests/s", round(w["rps"]), "req/s"),
        ("loopd: latency p50 / p99", "%.2f / %.2f" % (lat["50"] / 1e3, lat["99"] / 1e3), "ms"),
        ("loopd: replies not 201 (wrk non-2xx %d)" % w["non_2xx"], non201, ""),
        ("loopd: calls accepted (/metrics 201s)", int(accepted), ""),
    ]
    if non201 or w["non_2xx"] or sum(w.get("errors", {}).values()):
        raise BenchError("replies that were not 201: %s, errors %s"
                         % (w["statuses"], w.get("errors")))
    ng = nginx_ceiling(ctx, wrk_bin, duration)
    if ng is not None:
        nl = ng["latency_us"]
        out["nginx"] = {k: v for k, v in ng.items() if k != "raw"}
        out["ratio"] = w["rps"] / ng["rps"]
        out["figures"] += [
            ("nginx ceiling: requests/s", round(ng["rps"]), "req/s"),
            ("nginx ceiling: latency p50 / p99",
             "%.2f / %.2f" % (nl["50"] / 1e3, nl["99"] / 1e3), "ms"),
            ("loopd / nginx", "%.3f" % out["ratio"], ""),
        ]
    else:
        out["figures"].append(("nginx ceiling", "not available", ""))
    return out
