"""
memory: RSS and store bytes per pending call, at 100,000 and 1,000,000
pending calls whose argv is about 100 bytes.

A fresh loopd (its own; the lateness bench's loopd also holds done calls
and webhook state) is filled by `bench/build/post` (C, 64 keep-alive
connections) with `after: 86400` command calls, argv
["/bin/echo", "<85-91 chars, unique per call>"] (95-100 bytes of
strings). VmRSS and loopd.db + loopd.db-wal are read before the fill,
once 100,000 are pending and once 1,000,000 are pending:

    RSS per pending call   = (VmRSS at N - VmRSS before) / N
    store per pending call = (db + wal at N - db + wal before) / N

--quick: 100,000 only, unless --million is also given.
"""
from harness import BenchError, log

TITLE = "RSS and store bytes per pending call (100k and 1M calls, ~100-byte argv)"

ARG = "x" * 84 + "-{i}"
BODY = '{"after":86400,"command":{"argv":["/bin/echo","%s"]}}' % ARG
TARGET = 200
PEERS = "asyncio ~233 / Node.js ~430 / Redis+BullMQ ~770"


def store(d):
    s = d.store_bytes()
    return s["db"] + s["db-wal"]


def run(ctx):
    levels = [100000] + ([1000000] if ctx.args.million or not ctx.args.quick else [])
    d = ctx.loopd("memory", opts={"max_pending": 10000000})
    res = {"argv_bytes": len("/bin/echo") + len(ARG.replace("{i}", "999999")), "levels": {}}
    try:
        res["before"] = {"rss_kb": d.rss_kb(), "store": store(d)}
        have = 0
        for n in levels:
            log("memory: filling %d -> %d pending" % (have, n))
            fill = ctx.tool("post", *d.tool_args(), "--count", n - have, "--conns", 64,
                            "--body", BODY, "--expect", 201, timeout=3600)
            if fill["ok"] != n - have:
                raise BenchError("fill: %d of %d accepted: %s"
                                 % (fill["ok"], n - have, fill["statuses"]))
            d.wait_metric(lambda m: m.get("loopd_pending_calls") == n, 60, "%d pending" % n)
            res["levels"][str(n)] = {"rss_kb": d.rss_kb(), "store": store(d),
                                     "fill": {k: fill[k] for k in ("elapsed_s", "rate")}}
            have = n
    finally:
        d.stop()
    b = res["before"]
    figs = []
    for n in levels:
        r = res["levels"][str(n)]
        r["rss_per_call"] = (r["rss_kb"] - b["rss_kb"]) * 1024.0 / n
        r["store_per_call"] = (r["store"] - b["store"]) / float(n)
        lab = "{:,}".format(n)
        figs.append(("RSS per pending call, %s pending (target <= %d)" % (lab, TARGET),
                     "%.1f" % r["rss_per_call"], "bytes"))
    for n in levels:
        r = res["levels"][str(n)]
        figs.append(("store (db+wal) per pending call, %s pending" % "{:,}".format(n),
                     "%.1f" % r["store_per_call"], "bytes"))
    figs += [
        ("peers (the issue's figures, not measured here): per pending timer / job",
         PEERS, "bytes"),
        ("loopd VmRSS before / at %s pending" % "{:,}".format(levels[-1]),
         "%.1f / %.1f" % (b["rss_kb"] / 1024.0, res["levels"][str(levels[-1])]["rss_kb"] / 1024.0),
         "MiB"),
        ("argv strings per call (at most)", res["argv_bytes"], "bytes"),
    ]
    for n in levels:
        f = res["levels"][str(n)]["fill"]
        figs.append(("fill rate up to %s (64 conns)" % "{:,}".format(n), round(f["rate"]),
                     "calls/s"))
    res["figures"] = figs
    return res
