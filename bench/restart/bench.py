"""
restart: start-up time with many pending calls; store and memory per call.

A fresh loopd gets N pending calls (command calls due in an hour) from
`bench/build/post` (C, 64 keep-alive connections). Then loopd is stopped
with SIGTERM and started again on the same state directory, and once more
after a kill -9. The C launcher times each start from just before exec to
the `listening on` line, to the first 200 from GET /healthz and to the
`ready:` line. Store bytes per call: loopd.db + loopd.db-wal while running
with the N calls, divided by N (and loopd.db alone after the clean stop,
which checkpoints the WAL). RSS per call: loopd's VmRSS after the
restart minus that of an empty loopd, divided by N. N is 100,000 and
1,000,000 (--quick: 100,000 only, unless --million is also given).
"""
from harness import BenchError, log

TITLE = "restart time with 100k and 1M pending calls; bytes per call"

BODY = '{"after":3600,"command":{"argv":["true"]}}'


def one(ctx, n):
    d = ctx.loopd("restart-%d" % n)
    empty = {"rss_kb": d.rss_kb(), "start": dict(d.started)}
    fill = ctx.tool("post", *d.tool_args(), "--count", n, "--conns", 64, "--body", BODY,
                    "--expect", 201, timeout=3600)
    if fill["ok"] != n:
        raise BenchError("fill: %d of %d accepted: %s" % (fill["ok"], n, fill["statuses"]))
    m = d.wait_metric(lambda m: m.get("loopd_pending_calls") == n, 60, "%d pending calls" % n)
    filled = {"rss_kb": d.rss_kb(), "store": d.store_bytes()}
    ev = d.stop("term")
    if ev is None or ev.get("status") != 0:
        raise BenchError("loopd did not exit 0 on SIGTERM: %s (log %s)" % (ev, d.log_path))
    after_term = {"stop_s": ev["stop_s"], "store": d.store_bytes()}
    res = {"n": n, "fill": fill, "empty": empty, "filled": filled, "after_term": after_term}
    for how in ("term", "kill"):
        d.restart()
        m = d.metrics()
        if m.get("loopd_pending_calls") != n:
            raise BenchError("after restart (%s): %s pending calls, not %d"
                             % (how, m.get("loopd_pending_calls"), n))
        res["restart_after_" + how] = {"start": dict(d.started), "rss_kb": d.rss_kb(),
                                       "store": d.store_bytes()}
        ev = d.stop("term" if how == "kill" else "kill")
        if how == "kill":
            res["restart_after_kill"]["stop"] = ev
    return res


def run(ctx):
    sizes = [100000] + ([1000000] if ctx.args.million or not ctx.args.quick else [])
    out = {"figures": [], "sizes": {}}
    for n in sizes:
        log("restart: %d calls" % n)
        r = one(ctx, n)
        out["sizes"][str(n)] = r
        st = r["filled"]["store"]
        store_live = st["db"] + st["db-wal"]
        t, k = r["restart_after_term"]["start"], r["restart_after_kill"]["start"]
        e = r["empty"]["start"]
        rss_per = (r["restart_after_term"]["rss_kb"] - r["empty"]["rss_kb"]) * 1024.0 / n
        rss_live = (r["filled"]["rss_kb"] - r["empty"]["rss_kb"]) * 1024.0 / n
        lab = "%dk calls" % (n // 1000) if n < 1000000 else "%dM calls" % (n // 1000000)
        out["figures"] += [
            ("%s: fill rate (64 conns)" % lab, round(r["fill"]["rate"]), "calls/s"),
            ("%s: start after SIGTERM: listening / healthz" % lab,
             "%.3f / %.3f" % (t["listen_s"], t["healthz_s"]), "s"),
            ("%s: start after kill -9: listening / healthz" % lab,
             "%.3f / %.3f" % (k["listen_s"], k["healthz_s"]), "s"),
            ("%s: SIGTERM to exit" % lab, r["after_term"]["stop_s"], "s"),
            ("%s: store (db+wal) per call, running" % lab, round(store_live / n, 1), "bytes"),
            ("%s: store (db) per call after clean stop" % lab,
             round(r["after_term"]["store"]["db"] / n, 1), "bytes"),
            ("%s: RSS per pending call after restart" % lab, round(rss_per, 1), "bytes"),
            ("%s: RSS per pending call before restart" % lab, round(rss_live, 1), "bytes"),
        ]
    e = out["sizes"][str(sizes[0])]["empty"]["start"]
    out["figures"].append(("empty store: listening / healthz",
                           "%.3f / %.3f" % (e["listen_s"], e["healthz_s"]), "s"))
    return out
