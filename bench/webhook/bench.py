"""
webhook: deliveries per second to a local keep-alive receiver, and timer
lateness while 1,000 webhooks are in flight.

1. COUNT webhook calls, all due at one loop time LEAD s ahead ("at", so the
   posting rate does not matter), are posted by `bench/build/post`; the
   receiver is nginx answering 200 '{}' (one worker, keep-alive). From the
   calls' own times: deliveries/s = COUNT / (last finished - first started).
2. A slow receiver (an asyncio server in this process that holds each
   request HOLD s) gets 1,000 webhook calls; once loopd reports 1,000 in
   flight (loopd_webhooks_running), 2,000 `true` command calls due over 2 s
   are posted, and their lateness (started - due) is read from the calls.
"""
import asyncio
import json
import threading
import time

from harness import BenchError, list_calls, log, pct

TITLE = "webhook deliveries/s, and lateness with 1,000 webhooks in flight"


def post_at(ctx, d, count, base, step, body, conns=16):
    body = json.dumps(body).replace('"at": 0', '"at": {at}')
    r = ctx.tool("post", *d.tool_args(), "--count", count, "--conns", conns, "--body", body,
                 "--base", "%.6f" % base, "--step", step, "--expect", 201)
    if r["ok"] != count:
        raise BenchError("posting: %d of %d accepted: %s" % (r["ok"], count, r["statuses"]))
    return r


def finished(m):
    return sum(m.get('loopd_calls_finished_total{outcome="%s"}' % k, 0)
               for k in ("result", "exception", "cancelled"))


def deliveries(ctx, count):
    with ctx.nginx() as url:
        if url is None:
            raise BenchError("nginx could not be had for the receiver")
        d = ctx.loopd("webhook-rate", opts={"webhook_max_per_host": 64})
        try:
            lead = 2.0 + count / 20000.0
            post_at(ctx, d, count, d.loop_time() + lead, 0,
                    {"at": 0, "name": "rate", "webhook": {"url": url + "/hook"}})
            d.wait_metric(lambda m: finished(m) >= count, lead + 120,
                          "%d deliveries" % count, every=0.05)
            calls = list_calls(d, "rate")
        finally:
            d.stop()
    bad = [c for c in calls if "result" not in c or c["result"]["status"] != 200]
    if bad:
        raise BenchError("%d deliveries failed, e.g. %s" % (len(bad), bad[0]))
    span = max(c["finished"] for c in calls) - min(c["started"] for c in calls)
    return {"count": count, "span_s": span, "per_s": count / span}


class SlowReceiver:
    """Holds every request `hold` seconds, then answers 200."""

    def __init__(self, hold):
        self.hold, self.port, self.held = hold, None, 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        ready.wait(10)

    async def _serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                await reader.readexactly(n)
                self.held += 1
                await asyncio.sleep(self.hold)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                             b"Content-Type: application/json\r\n\r\n{}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=4096))
        self.port = server.sockets[0].getsockname()[1]
        self.server = server
        ready.set()
        self.loop.run_forever()

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def lateness_in_flight(ctx, in_flight, count, spread):
    rx = SlowReceiver(hold=4.0 + spread)
    d = ctx.loopd("webhook-lateness", opts={"max_webhooks": in_flight * 2,
                                             "webhook_max_per_host": in_flight * 2,
                                             "webhook_timeout": "60s"})
    try:
        url = "http://127.0.0.1:%d/slow" % rx.port
        post_at(ctx, d, in_flight, d.loop_time(), 0,
                {"at": 0, "name": "slow", "webhook": {"url": url}})
        m = d.wait_metric(lambda m: m.get("loopd_webhooks_running", 0) >= in_flight, 30,
                          "%d webhooks in flight" % in_flight, every=0.05)
        base = d.loop_time() + 1.0
        post_at(ctx, d, count, base, spread / count,
                {"at": 0, "name": "timed", "command": {"argv": ["true"]}})
        m = d.wait_metric(lambda m: finished(m) >= count, 60, "the timed calls", every=0.1)
        running = m.get("loopd_webhooks_running", 0)
        # The count above includes slow webhooks that came back: on a
        # machine that spawns fewer than 1,000 commands a second some
        # timed calls are still running then. Wait for all of them.
        until = time.monotonic() + 60
        while True:
            calls = list_calls(d, "timed")
            if all("started" in c and "finished" in c for c in calls):
                break
            if time.monotonic() > until:
                raise BenchError("the timed calls did not all finish within 60 s")
            time.sleep(0.2)
    finally:
        d.stop()
        rx.close()
    late = [(c["started"] - c["due"]) * 1e3 for c in calls]
    if min(late) < 0:
        raise BenchError("a call started early (%.3f ms)" % min(late))
    return {"in_flight": in_flight, "still_in_flight_after": running, "count": count,
            "lateness_ms": {"min": min(late), "p50": pct(late, 0.5), "p99": pct(late, 0.99),
                            "p999": pct(late, 0.999), "max": max(late)}}


def run(ctx):
    rate = deliveries(ctx, 5000 if ctx.args.quick else 20000)
    log("webhook: %.0f deliveries/s" % rate["per_s"])
    lat = lateness_in_flight(ctx, 1000, 2000, 2.0)
    L = lat["lateness_ms"]
    res = {"deliveries": rate, "lateness_with_webhooks": lat}
    res["figures"] = [
        ("deliveries/s to nginx (keep-alive, %d calls)" % rate["count"],
         round(rate["per_s"]), "per s"),
        ("lateness with %d webhooks in flight: p50 / p99 / p99.9 / max" % lat["in_flight"],
         "%.3f / %.3f / %.3f / %.3f" % (L["p50"], L["p99"], L["p999"], L["max"]), "ms"),
        ("  min (never negative)", round(L["min"], 3), "ms"),
        ("  webhooks still in flight when the last timed call ran",
         int(lat["still_in_flight_after"]), ""),
    ]
    return res
