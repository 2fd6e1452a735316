#!/usr/bin/env python3
"""
measure.py: what the Python client costs, against raw HTTP from the same
process (Python stdlib only). Prints one JSON line.

    measure.py --url URL --token-file FILE [--quick]

- schedule: POST /v1/calls {"after": 3600, "command": {"argv": ["true"]}}
  N times: through AsyncLoop.call_later with 100 tasks at once (100
  keep-alive connections), and through raw HTTP/1.1 on asyncio streams
  (100 connections, the same bytes); through Loop.call_later in one thread,
  and through http.client on one keep-alive connection. calls/s; each rate
  is the median of the runs, and so is this process's CPU time per call
  (time.process_time(): steadier than the rate on a shared machine).
- await: wake latency. A future is created, W waiters await it (the
  client's `await fut` / Future.wait(), or raw GET /v1/futures/ID?wait=60
  each on its own connection), /metrics is polled until loopd holds W
  waiters, then the result is set (through the client, or a raw POST) and
  each waiter's wake-up time minus the moment the set began is recorded:
  W = 1 (many rounds) and W = 100 (a few rounds) with asyncio, W = 1 with
  the blocking face (the waiter in a thread). p50 / p99 in ms.
"""
import argparse
import asyncio
import http.client
import json
import math
import os
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "client", "python"))

import loopd  # noqa: E402

BODY = {"after": 3600, "command": {"argv": ["true"]}}
ACTION = loopd.Command(["true"])


def pct(values, q):
    v = sorted(values)
    k = max(1, min(len(v), math.ceil(q * len(v) - 1e-9)))
    return v[k - 1]


class Raw:
    """Hand-written requests: what the client is measured against."""

    def __init__(self, url, token):
        ep = loopd.Loop(url, token=token).endpoint
        self.host, self.port = ep.host, ep.port
        self.token = token
        self.head = ("Host: %s\r\nAuthorization: Bearer %s\r\n" % (ep.host_header, token))

    def bytes(self, method, path, body=None):
        data = b"" if body is None else json.dumps(body).encode()
        h = "%s %s HTTP/1.1\r\n%s" % (method, path, self.head)
        if body is not None or method == "POST":
            h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        return (h + "\r\n").encode() + data

    async def open(self):
        return await asyncio.open_connection(self.host, self.port)

    @staticmethod
    async def exchange(conn, data):
        reader, writer = conn
        writer.write(data)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(None, 2)[1])
        n = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                n = int(line[15:])
        return status, json.loads(await reader.readexactly(n))

    def conn(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(self, conn, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        h = {"Authorization": "Bearer " + self.token}
        if data is not None:
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=data if data is not None
                     else (b"" if method == "POST" else None), headers=h)
        r = conn.getresponse()
        return r.status, json.loads(r.read())


def waiters(raw):
    c = raw.conn()
    try:
        c.request("GET", "/metrics", headers={"Authorization": "Bearer " + raw.token})
        r = c.getresponse()
        for line in r.read().decode().splitlines():
            if line.startswith("loopd_waiters "):
                return int(float(line.split()[1]))
    finally:
        c.close()
    return 0


async def until_waiters(raw, n):
    deadline = time.monotonic() + 30
    while waiters(raw) != n:
        if time.monotonic() > deadline:
            raise RuntimeError("loopd never held %d waiters" % n)
        await asyncio.sleep(0.002)


# -- schedule ----------------------------------------------------------------

async def sched_async_client(url, tf, n, conc):
    loop = loopd.connect_async(url, token_file=tf)
    left = iter(range(n))

    async def worker():
        for _ in left:
            await loop.call_later(3600, ACTION)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    dt = time.perf_counter() - t0
    await loop.close()
    return n / dt


async def sched_async_raw(raw, n, conc):
    conns = [await raw.open() for _ in range(conc)]
    left = iter(range(n))

    async def worker(conn):
        for _ in left:
            st, _ = await Raw.exchange(conn, raw.bytes("POST", "/v1/calls", BODY))
            if st != 201:
                raise RuntimeError("POST /v1/calls: %d" % st)
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    dt = time.perf_counter() - t0
    for _, w in conns:
        w.close()
    return n / dt


def sched_sync_client(url, tf, n):
    with loopd.connect(url, token_file=tf) as loop:
        t0 = time.perf_counter()
        for _ in range(n):
            loop.call_later(3600, ACTION)
        return n / (time.perf_counter() - t0)


def sched_sync_raw(raw, n):
    c = raw.conn()
    t0 = time.perf_counter()
    for _ in range(n):
        st, _ = raw.request(c, "POST", "/v1/calls", BODY)
        if st != 201:
            raise RuntimeError("POST /v1/calls: %d" % st)
    dt = time.perf_counter() - t0
    c.close()
    return n / dt


# -- await -------------------------------------------------------------------

async def wake_async_client(url, tf, raw, w, rounds):
    loop = loopd.connect_async(url, token_file=tf)
    out = []
    for _ in range(rounds):
        fut = await loop.create_future()

        async def one():
            await fut
            return time.perf_counter()
        tasks = [asyncio.ensure_future(one()) for _ in range(w)]
        await until_waiters(raw, w)
        t0 = time.perf_counter()
        await fut.set_result(1)
        out += [(t - t0) * 1000 for t in await asyncio.gather(*tasks)]
    await loop.close()
    return out


async def wake_async_raw(raw, w, rounds):
    setter = await raw.open()
    out = []
    for _ in range(rounds):
        st, f = await Raw.exchange(setter, raw.bytes("POST", "/v1/futures", {}))
        conns = [await raw.open() for _ in range(w)]
        poll = raw.bytes("GET", "/v1/futures/%s?wait=60" % f["id"])

        async def one(conn):
            st, obj = await Raw.exchange(conn, poll)
            if obj["state"] != "finished":
                raise RuntimeError("woke with %r" % obj)
            return time.perf_counter()
        tasks = [asyncio.ensure_future(one(c)) for c in conns]
        await until_waiters(raw, w)
        t0 = time.perf_counter()
        await Raw.exchange(setter, raw.bytes("POST", "/v1/futures/%s/result" % f["id"],
                                             {"result": 1}))
        out += [(t - t0) * 1000 for t in await asyncio.gather(*tasks)]
        for _, wr in conns:
            wr.close()
    setter[1].close()
    return out


def wake_sync(raw, rounds, client):
    """One waiter in a thread; the result set from this one."""
    loop = client and loopd.connect(raw.url, token_file=raw.token_file)
    setter = raw.conn()
    waiter_conn = raw.conn()
    out = []
    for _ in range(rounds):
        if client:
            fut = loop.create_future()
        else:
            fid = raw.request(setter, "POST", "/v1/futures", {})[1]["id"]
        woke = []

        def wait():
            if client:
                fut.wait()
            else:
                raw.request(waiter_conn, "GET", "/v1/futures/%s?wait=60" % fid)
            woke.append(time.perf_counter())
        t = threading.Thread(target=wait)
        t.start()
        deadline = time.monotonic() + 30
        while waiters(raw) != 1:
            if time.monotonic() > deadline:
                raise RuntimeError("loopd never held the waiter")
            time.sleep(0.002)
        t0 = time.perf_counter()
        if client:
            fut.set_result(1)
        else:
            raw.request(setter, "POST", "/v1/futures/%s/result" % fid, {"result": 1})
        t.join(60)
        out.append((woke[0] - t0) * 1000)
    setter.close()
    waiter_conn.close()
    if loop:
        loop.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    with open(a.token_file) as f:
        token = f.read().strip()
    raw = Raw(a.url, token)
    raw.url, raw.token_file = a.url, a.token_file
    q = a.quick
    n_async, n_sync, runs = (2000, 1000, 2) if q else (5000, 2000, 3)
    res = {"python": sys.version.split()[0], "n_async": n_async, "n_sync": n_sync,
           "runs": runs, "schedule": {}, "await": {}}
    # warm both paths (connections, the daemon's allocator) before measuring
    asyncio.run(sched_async_client(a.url, a.token_file, 500, 100))
    asyncio.run(sched_async_raw(raw, 500, 100))
    rates = {"async_client": [], "async_raw": [], "sync_client": [], "sync_raw": []}
    cpu = {k: [] for k in rates}

    def timed(key, n, fn):
        c0 = time.process_time()
        rates[key].append(fn())
        cpu[key].append((time.process_time() - c0) / n * 1e6)
    for _ in range(runs):
        timed("async_client", n_async, lambda: asyncio.run(
            sched_async_client(a.url, a.token_file, n_async, 100)))
        timed("async_raw", n_async, lambda: asyncio.run(sched_async_raw(raw, n_async, 100)))
        timed("sync_client", n_sync, lambda: sched_sync_client(a.url, a.token_file, n_sync))
        timed("sync_raw", n_sync, lambda: sched_sync_raw(raw, n_sync))
    for k, v in rates.items():
        res["schedule"][k] = {"median": statistics.median(v), "runs": v,
                              "cpu_us_per_call": statistics.median(cpu[k]),
                              "cpu_runs": cpu[k]}
    r1, r100, rs = (40, 2, 30) if q else (150, 5, 100)
    lat = {
        "async_client_1": asyncio.run(wake_async_client(a.url, a.token_file, raw, 1, r1)),
        "async_raw_1": asyncio.run(wake_async_raw(raw, 1, r1)),
        "async_client_100": asyncio.run(wake_async_client(a.url, a.token_file, raw, 100, r100)),
        "async_raw_100": asyncio.run(wake_async_raw(raw, 100, r100)),
        "sync_client_1": wake_sync(raw, rs, True),
        "sync_raw_1": wake_sync(raw, rs, False),
    }
    for k, v in lat.items():
        res["await"][k] = {"n": len(v), "p50": pct(v, 0.5), "p99": pct(v, 0.99),
                           "max": max(v)}
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
