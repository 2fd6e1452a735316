"""
schedule: POST /v1/calls throughput with 64 keep-alive connections.

wrk (one thread, 64 connections, DURATION s) posts a command call due in an
hour on every request (schedule/post.lua, with the bearer token), against
a fresh loopd with the default durable store. The Lua script counts the
replies by status: every one must be 201. The same wrk run against nginx
(one worker, `return 200 '{}'`) is the ceiling of this client on this
machine, when nginx can be installed. GET /v1/calls/{id} of one call is
measured the same way, against nginx's same fixed reply.

Pinned (issue 18): loopd (every thread) and nginx's one worker on CPU 0,
wrk on CPU 1, so the ratios compare one core's worth of each server.

wrk alternates between loopd and nginx in slices (see run) so that both
sides of a ratio see the same machine.
"""
import os
import re
import subprocess
import time

from harness import BenchError, log, pin_argv, pin_pid

TITLE = "POST /v1/calls throughput, 64 keep-alive connections (wrk)"

HERE = os.path.dirname(os.path.abspath(__file__))
BODY = '{"after":3600,"command":{"argv":["true"]}}'
CONNS = 64


# The pinned layout (issue 18): loopd, all its threads, on LOOPD_CPU; nginx's
# one worker on the same CPU; wrk on the other. Ratios to nginx are then
# per core, whatever else the machine runs.
LOOPD_CPU, WRK_CPU = 0, 1


def wrk(ctx, wrk_bin, url, duration, token=None, method="POST", path="/v1/calls"):
    env = dict(os.environ, BENCH_BODY=BODY, LOOPD_TOKEN=token or "", BENCH_METHOD=method,
               BENCH_PATH=path)
    argv = pin_argv(WRK_CPU) + [
        wrk_bin, "-t1", "-c%d" % CONNS, "-d%ds" % duration, "--timeout", "10s",
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


def lat(w):
    """wrk's p50 / p99 as text, ms."""
    return "%.2f / %.2f" % (w["latency_us"]["50"] / 1e3, w["latency_us"]["99"] / 1e3)


def check(w, status, what):
    """Fail the benchmark on any reply but status, or a socket error."""
    bad = sum(v for k, v in w["statuses"].items() if k != str(status))
    if bad or w["non_2xx"] or sum(w.get("errors", {}).values()):
        raise BenchError("%s: replies that were not %d: %s, errors %s"
                         % (what, status, w["statuses"], w.get("errors")))
    return bad


def merge(runs):
    """Several wrk runs of the same thing as one: requests / time summed, p50
    the median of the runs', p99 the worst run's."""
    out = {"statuses": {}, "errors": {}, "non_2xx": 0, "requests": 0, "duration_s": 0.0,
           "latency_us": {}, "runs": len(runs)}
    for w in runs:
        for k, v in w["statuses"].items():
            out["statuses"][k] = out["statuses"].get(k, 0) + v
        for k, v in w.get("errors", {}).items():
            out["errors"][k] = out["errors"].get(k, 0) + v
        out["non_2xx"] += w["non_2xx"]
        out["requests"] += w["requests"]
        out["duration_s"] += w["duration_s"]
    p50 = sorted(w["latency_us"]["50"] for w in runs)
    out["latency_us"]["50"] = p50[(len(p50) - 1) // 2]
    out["latency_us"]["99"] = max(w["latency_us"]["99"] for w in runs)
    out["rps"] = out["requests"] / out["duration_s"]
    out["rps_runs"] = [round(w["rps"]) for w in runs]
    return out


def run(ctx):
    """loopd and nginx run side by side; wrk alternates between them in
    short slices (POST loopd, POST nginx, GET loopd, GET nginx, again), so a
    change in the machine's load falls on both sides of each ratio."""
    duration = 5 if ctx.args.quick else 10
    rounds = 5
    slice_s = max(1, duration // rounds)
    wrk_bin = ctx.ensure_pkg("wrk", "wrk")
    if wrk_bin is None:
        raise BenchError("wrk is not installed and apt-get install wrk failed")
    d = ctx.loopd("schedule")
    runs = {"post": [], "get": [], "ng_post": [], "ng_get": []}
    try:
        pinned = pin_pid(d.pid, LOOPD_CPU)
        with ctx.nginx(cpu=LOOPD_CPU if pinned else None) as url:
            if url is None:
                log("schedule: nginx could not be had; no ceiling")
            before = d.metrics()
            st, one = d.post("/v1/calls", {"after": 3600, "command": {"argv": ["true"]}})
            if st != 201:
                raise BenchError("POST /v1/calls: %s %s" % (st, one))
            for _ in range(rounds):
                runs["post"].append(wrk(ctx, wrk_bin, d.url, slice_s, token=d.token))
                if url is not None:
                    runs["ng_post"].append(wrk(ctx, wrk_bin, url, slice_s))
                runs["get"].append(wrk(ctx, wrk_bin, d.url, slice_s, token=d.token,
                                       method="GET", path="/v1/calls/" + one["id"]))
                if url is not None:
                    runs["ng_get"].append(wrk(ctx, wrk_bin, url, slice_s, method="GET",
                                              path="/v1/calls/c_0"))
            time.sleep(0.2)  # replies in flight when wrk stopped
            after = d.metrics()
            rss_kb = d.rss_kb()
            store = d.store_bytes()
    finally:
        d.stop()
    w, g = merge(runs["post"]), merge(runs["get"])
    key = 'loopd_http_requests_total{route="/v1/calls",method="POST",code="201"}'
    accepted = after.get(key, 0) - before.get(key, 0) - 1
    non201 = check(w, 201, "POST /v1/calls")
    check(g, 200, "GET /v1/calls/{id}")
    out = {"loopd": w, "loopd_get": g, "accepted_201": accepted,
           "pending_calls": after.get("loopd_pending_calls"), "rss_kb": rss_kb,
           "store_bytes": store, "pinned": pinned}
    out["figures"] = [
        ("layout", "loopd and nginx on CPU %d, wrk on CPU %d" % (LOOPD_CPU, WRK_CPU)
         if pinned else "not pinned (no taskset or one CPU)", ""),
        ("loopd: POST requests/s", round(w["rps"]), "req/s"),
        ("loopd: POST latency p50 / p99", lat(w), "ms"),
        ("loopd: replies not 201 (wrk non-2xx %d)" % w["non_2xx"], non201, ""),
        ("loopd: calls accepted (/metrics 201s)", int(accepted), ""),
        ("loopd: GET /v1/calls/{id} requests/s", round(g["rps"]), "req/s"),
        ("loopd: GET latency p50 / p99", lat(g), "ms"),
    ]
    if not runs["ng_post"]:
        out["figures"].append(("nginx ceiling", "not available", ""))
        return out
    ng, ngg = merge(runs["ng_post"]), merge(runs["ng_get"])
    out["nginx"], out["nginx_get"] = ng, ngg
    out["ratio"] = w["rps"] / ng["rps"]
    out["ratio_get"] = g["rps"] / ngg["rps"]
    out["ratio_runs"] = [round(a["rps"] / b["rps"], 3)
                         for a, b in zip(runs["post"], runs["ng_post"])]
    out["ratio_get_runs"] = [round(a["rps"] / b["rps"], 3)
                             for a, b in zip(runs["get"], runs["ng_get"])]
    out["figures"] += [
        ("nginx ceiling, POST: requests/s", round(ng["rps"]), "req/s"),
        ("nginx ceiling, POST: latency p50 / p99", lat(ng), "ms"),
        ("nginx ceiling, GET: requests/s", round(ngg["rps"]), "req/s"),
        ("loopd / nginx, POST /v1/calls (target >= 0.5, p99 <= 5 ms)",
         "%.3f (slices %s)" % (out["ratio"], " ".join("%.2f" % r for r in out["ratio_runs"])),
         ""),
        ("loopd / nginx, GET /v1/calls/{id} (target >= 0.7)",
         "%.3f (slices %s)" % (out["ratio_get"],
                               " ".join("%.2f" % r for r in out["ratio_get_runs"])), ""),
    ]
    return out
