"""
command: calls/s of `/bin/true` through loopd, against a plain C
posix_spawn loop (the ceiling).

loopd: a fresh loopd gets N `soon` command calls, argv ["/bin/true"],
posted as fast as `bench/build/post` (C, 64 keep-alive connections) can.
From the calls' own loop times (GET /v1/calls, paged):

    calls/s = N / (last `finished` - first `created`)

i.e. from the first POST accepted to the last call done (posting
overlaps with the spawning: soon calls start at once). Every call must
finish with exit code 0.

Ceiling: `bench/build/spawn` runs N /bin/true with posix_spawn, keeping K
in flight (reaping with waitpid), K = loopd's default max_commands (read
from etc/loopd.conf); it runs once before and once after loopd, and the
mean is the ceiling. Then the same with K = 16 (loopd with
-o max_commands=16) when the default differs. N = 5,000 (2,000 with
--quick).
"""
import os
import re

from harness import ROOT, BenchError, list_calls, log

TITLE = "command calls/s of /bin/true through loopd vs a C posix_spawn loop"

BODY = '{"soon":true,"name":"true","command":{"argv":["/bin/true"]}}'
TARGET = 0.70


def default_max_commands():
    with open(os.path.join(ROOT, "etc", "loopd.conf")) as f:
        for line in f:
            m = re.match(r"\s*max_commands\s*=\s*(\d+)", line)
            if m:
                return int(m.group(1))
    raise BenchError("max_commands not found in etc/loopd.conf")


def finished(m):
    return sum(m.get('loopd_calls_finished_total{outcome="%s"}' % k, 0)
               for k in ("result", "exception", "cancelled"))


def through_loopd(ctx, n, k, default):
    opts = {} if default else {"max_commands": k}
    d = ctx.loopd("command-%d" % k, opts=opts)
    try:
        post = ctx.tool("post", *d.tool_args(), "--count", n, "--conns", 64, "--body", BODY,
                        "--expect", 201)
        if post["ok"] != n:
            raise BenchError("posting: %d of %d accepted: %s" % (post["ok"], n, post["statuses"]))
        d.wait_metric(lambda m: finished(m) >= n, 300, "%d commands" % n, every=0.05)
        calls = list_calls(d, "true")
    finally:
        d.stop()
    if len(calls) != n:
        raise BenchError("listed %d calls, expected %d" % (len(calls), n))
    bad = [c for c in calls if c.get("result", {}).get("exit_code") != 0]
    if bad:
        raise BenchError("%d calls did not exit 0, e.g. %s" % (len(bad), bad[0]))
    first_created = min(c["created"] for c in calls)
    first_started = min(c["started"] for c in calls)
    last_finished = max(c["finished"] for c in calls)
    return {"n": n, "max_commands": k, "post": post,
            "span_s": last_finished - first_created,
            "rate": n / (last_finished - first_created),
            "rate_from_first_start": n / (last_finished - first_started),
            "posting_s": max(c["created"] for c in calls) - first_created}


def run(ctx):
    n = 2000 if ctx.args.quick else 5000
    k0 = default_max_commands()
    ks = [k0] + ([16] if k0 != 16 else [])
    res = {"n": n, "default_max_commands": k0, "by_k": {}}
    for k in ks:
        c1 = ctx.tool("spawn", "--count", n, "--conc", k)
        lo = through_loopd(ctx, n, k, k == k0)
        c2 = ctx.tool("spawn", "--count", n, "--conc", k)
        ceil = (c1["rate"] + c2["rate"]) / 2
        res["by_k"][str(k)] = {"loopd": lo, "ceiling_runs": [c1, c2], "ceiling": ceil,
                               "ratio": lo["rate"] / ceil}
        log("command: %d in flight: loopd %.0f/s, posix_spawn %.0f/s" % (k, lo["rate"], ceil))
    figs = []
    for k in ks:
        r = res["by_k"][str(k)]
        lab = "%d in flight%s" % (k, " (default max_commands)" if k == k0 else "")
        figs += [
            ("%s: loopd, first POST to last finished" % lab, round(r["loopd"]["rate"]),
             "calls/s"),
            ("%s: C posix_spawn loop (ceiling; runs %d / %d)"
             % (lab, r["ceiling_runs"][0]["rate"], r["ceiling_runs"][1]["rate"]),
             round(r["ceiling"]), "per s"),
            ("%s: loopd / ceiling (target >= %.2f)" % (lab, TARGET), round(r["ratio"], 3), ""),
        ]
    r0 = res["by_k"][str(k0)]["loopd"]
    figs += [
        ("%d in flight: loopd, first start to last finished" % k0,
         round(r0["rate_from_first_start"]), "calls/s"),
        ("calls per run; posting them took (loopd's created)", "%d; %.2f s"
         % (n, r0["posting_s"]), ""),
    ]
    res["figures"] = figs
    return res
