"""
slowloris: GET /v1/time latency of a well-behaved client while 2,000
slow-header connections are held from 40 loopback addresses (issue 13).

`bench/build/slowloris` (C, one thread) opens 2,000 connections from
127.0.0.2 .. 127.0.0.41 (50 each, under max_connections_per_ip), each
sending a request line and then one header byte a second, and opens them
again when loopd closes them (at most 1,000 a round), as an attacker would.
After 5 s of that (longer than loopd is given to receive a request, so
the flood is in its steady state: cut by request_timeout, evicted at
max_connections, back again), the good client sends N requests from
127.0.0.1, each on a new connection, one at a time, 10 ms apart, and
times each from connect() to the last byte of the reply. A reply other
than 200 (a 503 at max_connections) or none at all counts as a failure,
without retry. Figures: p50 and p99 in ms (target p99 <= 50 ms), how
many were served, how many slow connections were open when measuring
started, and loopd's own count of connections it closed (slow / evicted).

loopd runs with its defaults (max_connections 1024, max_connections_per_ip
256, request_timeout 10s) except request_timeout = 3s, so that the run is
short; N = 500 (200 with --quick).
"""
from harness import BenchError, log

TITLE = "GET /v1/time p50/p99 of a good client under 2,000 slow-header connections"

TARGET_P99_MS = 50.0


def run(ctx):
    n = 200 if ctx.args.quick else 500
    d = ctx.loopd("slowloris", opts={"request_timeout": "3s"})
    try:
        res = ctx.tool("slowloris", *d.tool_args(), "--conns", 2000, "--sources", 40,
                       "--interval", 1, "--burst", 1000, "--warmup", 5, "--count", n,
                       "--gap", 0.01, "--timeout", 5)
        m = d.metrics()
    finally:
        d.stop()
    closed = {k: int(m.get('loopd_http_connections_closed_total{reason="%s"}' % k, 0))
              for k in ("slow", "idle", "sending")}
    res["closed_by_loopd"] = closed
    served = res["ok"]
    log("slowloris: %d/%d served, p50 %.2f ms, p99 %.2f ms, %d slow open"
        % (served, n, res["p50_ms"] or -1, res["p99_ms"] or -1, res["slow_open_start"]))
    if served == 0:
        raise BenchError("the good client was never served: %s" % res)
    res["figures"] = [
        ("good client p50 (new connection per request)", res["p50_ms"], "ms"),
        ("good client p99 (target <= %.0f ms)" % TARGET_P99_MS, res["p99_ms"], "ms"),
        ("good client max", res["max_ms"], "ms"),
        ("served / sent (non-200: %d, no reply: %d)" % (res["non_200"], res["no_reply"]),
         "%d / %d" % (served, n), ""),
        ("slow connections open when measuring began / reopened", "%d / %d"
         % (res["slow_open_start"], res["reopened"]), ""),
        ("closed by loopd: request_timeout / evicted sending / evicted idle", "%d / %d / %d"
         % (closed["slow"], closed["sending"], closed["idle"]), ""),
    ]
    return res
