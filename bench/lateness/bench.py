"""
lateness (quick version): how late calls start, and that none starts early.

COUNT command calls of `true`, due at evenly spaced loop times over SPREAD
seconds starting LEAD s after now ("at", so the due times do not depend on
when each POST is accepted), are posted by `bench/build/post` (C). After
they have all finished, GET /v1/calls (name filter, paged) gives each
call's `due` and `started` (loop times, microseconds): lateness is
started - due. Also read: the loopd_call_lateness_seconds histogram, and
whether `started` follows due order (API.md §3 ordering rule 2).
"""
import json
import time

from harness import BenchError, list_calls, pct

TITLE = "lateness of 2,000 `true` calls due over 2 s (started - due)"

NAME = "bench-lateness"


def run(ctx):
    count, spread, lead = 2000, 2.0, 1.0
    d = ctx.loopd("lateness")
    try:
        base = d.loop_time() + lead
        body = json.dumps({"at": 0, "name": NAME, "command": {"argv": ["true"]}})
        body = body.replace('"at": 0', '"at": {at}')
        fill = ctx.tool("post", *d.tool_args(), "--count", count, "--conns", 16,
                        "--body", body, "--base", "%.6f" % base, "--step", spread / count,
                        "--expect", 201)
        if fill["ok"] != count:
            raise BenchError("posting: %d of %d accepted: %s" % (fill["ok"], count, fill["statuses"]))
        done_key = ('loopd_calls_finished_total{outcome="result"}',
                    'loopd_calls_finished_total{outcome="exception"}')
        m = d.wait_metric(lambda m: sum(m.get(k, 0) for k in done_key) >= count,
                          lead + spread + 60, "%d calls to finish" % count, every=0.1)
        calls = list_calls(d, NAME)
    finally:
        d.stop()
    if len(calls) != count:
        raise BenchError("listed %d calls, expected %d" % (len(calls), count))
    late = [(c["started"] - c["due"]) * 1e3 for c in calls]
    created_after_due = sum(1 for c in calls if c["created"] > c["due"])
    exceptions = sum(1 for c in calls if "exception" in c)
    by_due = sorted(calls, key=lambda c: (c["due"], c["id"]))
    order_violations = sum(1 for a, b in zip(by_due, by_due[1:]) if b["started"] < a["started"])
    hist = {k: v for k, v in m.items() if k.startswith("loopd_call_lateness_seconds")}
    le1 = hist.get('loopd_call_lateness_seconds_bucket{le="0.001"}', 0)
    res = {
        "count": count, "spread_s": spread, "lead_s": lead, "post": fill,
        "lateness_ms": {"min": min(late), "p50": pct(late, 0.5), "p90": pct(late, 0.9),
                        "p99": pct(late, 0.99), "p999": pct(late, 0.999), "max": max(late),
                        "mean": sum(late) / len(late)},
        "negative": sum(1 for x in late if x < 0), "created_after_due": created_after_due,
        "exceptions": exceptions, "order_violations": order_violations, "histogram": hist,
    }
    L = res["lateness_ms"]
    res["figures"] = [
        ("p50 / p99 / p99.9 / max",
         "%.3f / %.3f / %.3f / %.3f" % (L["p50"], L["p99"], L["p999"], L["max"]), "ms"),
        ("min (never negative)", round(L["min"], 3), "ms"),
        ("calls started early", res["negative"], ""),
        ("histogram: share <= 1 ms", "%.1f%%" % (100.0 * le1 / count), ""),
        ("started out of due order", order_violations, ""),
        ("failed (exception)", exceptions, ""),
    ]
    if created_after_due:
        res["figures"].append(("accepted after their due time (bench too slow)",
                               created_after_due, ""))
    if res["negative"]:
        raise BenchError("%d calls started before their due time (min %.3f ms)"
                         % (res["negative"], L["min"]))
    return res
