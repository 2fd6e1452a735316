"""
The blocking face: Loop, Future and Call, for scripts and threads.

Every method is one or a few HTTP requests on keep-alive connections.
As asyncio's, result() and exception() do not wait (a pending future
raises asyncio.InvalidStateError); wait() blocks until the future is done
(a long-poll) and returns its result or raises what it raised.
"""
import http.client
import socket
import threading
from typing import Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from . import _ops as ops
from ._actions import Action
from ._base import CallMixin, FutureBase, LoopBase, ScheduleBase
from ._errors import APIError, TransportError
from ._events import Event, EventFeed
from ._transport import SyncTransport


class Future(FutureBase):
    """A remote future on a blocking Loop (loop.create_future())."""
    _loop: "Loop"

    def refresh(self) -> Dict[str, Any]:
        """Ask the daemon for the object now; returns it."""
        return self._seen(self._loop._run(ops.op_get(self.id)))

    def _current(self) -> Dict[str, Any]:
        if ops.is_done(self._snap) and "state" in self._snap:
            return self._snap           # done is for ever
        return self.refresh()

    def done(self) -> bool:
        """True once the future has a result, an exception or was cancelled."""
        return ops.is_done(self._current())

    def cancelled(self) -> bool:
        return self._current().get("state") == "cancelled"

    def result(self) -> Any:
        """The result; raises RemoteError, asyncio.CancelledError, or
        asyncio.InvalidStateError while pending. Does not wait."""
        return ops.outcome(self._current())

    def exception(self) -> Optional[BaseException]:
        """The RemoteError it ended with, or None; raises as asyncio does
        when cancelled or pending. Does not wait."""
        return ops.exception_of(self._current())

    def wait(self, timeout: Optional[float] = None) -> Any:
        """Block until done (a long-poll, no polling) and return the result
        or raise what awaiting it raises; asyncio.TimeoutError after
        timeout seconds (the future itself is left alone)."""
        obj = self._loop._run(ops.op_await(self.id, timeout, self._loop.max_hold))
        return ops.outcome(self._seen(obj))

    def set_result(self, result: Any) -> None:
        """Finish the future with result (any JSON value). A done future:
        loopd.InvalidStateError (an asyncio.InvalidStateError)."""
        self._seen(self._loop._run(ops.op_set_result(self.id, result)))

    def set_exception(self, exception: Any) -> None:
        """Finish the future with an exception: an exception instance or
        class (its class name becomes the type), a RemoteError, or a
        (type, message) pair."""
        self._seen(self._loop._run(ops.op_set_exception(self.id, exception)))

    def cancel(self, msg: Optional[str] = None) -> bool:
        """Cancel the future; False if it was already done."""
        return self._loop._run(ops.op_cancel(self.id))

    def add_done_callback(self, action: Action, *args: Any,
                          idempotency_key: Optional[str] = None) -> "Call":
        """Have loopd run action once this future is done (in registration
        order). Returns the callback's call, itself a future."""
        obj = self._loop._run(ops.op_add_callback(self.id, action, args,
                                                  idempotency_key))
        self._callbacks.append((action, obj["id"]))
        return Call(self._loop, obj["id"], obj)

    def remove_done_callback(self, callback: Any) -> int:
        """Remove callbacks that have not started: every one registered
        through this object with an action equal to callback, or the one
        callback call (or its id) given. Returns how many were removed."""
        return self._loop._run(ops.op_remove_callbacks(
            self.id, self._forget_callbacks(callback)))


class Call(CallMixin, Future):
    """A scheduled call (a handle that is also a future). Its result is
    the action's outcome: a command's {"exit_code", "stdout", ...}."""

    def cancel(self, msg: Optional[str] = None) -> bool:
        """Cancel: a call not yet started never starts; a running command
        gets SIGTERM, a webhook is aborted. False if already done."""
        return self._loop._run(ops.op_cancel(self.id))


class Schedule(ScheduleBase):
    """A recurring schedule on a blocking Loop (loop.schedule(...)). Each
    method asks the daemon and updates snapshot; occurrences are Calls."""
    _loop: "Loop"

    def refresh(self) -> Dict[str, Any]:
        """Ask the daemon for the schedule object now; returns it."""
        return self._seen(self._loop._run(ops.op_get_schedule(self.id)))

    def pause(self) -> Dict[str, Any]:
        """Pause (the occurrence made ahead is cancelled); loopd.APIError
        409 if already paused."""
        return self._seen(self._loop._run(ops.op_schedule_verb(self.id, "pause")))

    def resume(self) -> Dict[str, Any]:
        """Resume (missed occurrences follow catchup); 409 if active."""
        return self._seen(self._loop._run(ops.op_schedule_verb(self.id, "resume")))

    def trigger(self) -> "Call":
        """Make one occurrence now; returns its Call."""
        obj = self._loop._run(ops.op_schedule_verb(self.id, "trigger"))
        return Call(self._loop, obj["id"], obj)

    def backfill(self, from_: Any, to: Any) -> int:
        """Make the occurrences of [from_, to] that have none yet (Unix
        seconds, RFC 3339 text or datetimes); returns how many."""
        r = self._loop._run(ops.op_backfill(self.id, from_, to))
        self._seen(r.get("schedule"))
        return int(r.get("backfilled", 0))

    def update(self, action: Optional[Action] = None, *args: Any,
               **fields: Any) -> Dict[str, Any]:
        """PATCH: the fields given replace the schedule's (None removes an
        optional one); a new action (with args) replaces the old whole."""
        body = ops.schedule_fields(fields, True)
        if action is not None:
            body.update(ops.action_json(action))
            if args:
                body["args"] = list(args)
        return self._seen(self._loop._run(ops.op_patch_schedule(self.id, body)))

    def delete(self) -> Dict[str, Any]:
        """Delete it (the occurrence made ahead is cancelled; past ones
        stay); returns the object as it was, state "deleted"."""
        return self._seen(self._loop._run(ops.op_delete_schedule(self.id)))


class EventStream:
    """Loop.events(): a blocking iterator of Event, reconnecting with
    Last-Event-ID after a dropped connection (bounded backoff). close()
    (from any thread) or leaving a with block ends it and its connection."""

    def __init__(self, loop: "Loop", feed: EventFeed, idle_timeout: float,
                 max_retries: Optional[int]) -> None:
        self._loop = loop
        self.feed = feed
        self.idle_timeout = idle_timeout
        self.max_retries = max_retries
        self.connects = 0
        self._conn: Optional[http.client.HTTPConnection] = None
        self._closed = threading.Event()
        self._gen = self._run()

    @property
    def last_event_id(self) -> Optional[str]:
        """The id to go on from (known once the stream opened)."""
        return self.feed.last_event_id

    def _run(self) -> Iterator[Event]:
        tries = 0
        while not self._closed.is_set():
            retry_after: Optional[float] = None
            try:
                conn, resp = self._loop._transport.open_stream(
                    "/v1/events", self.feed.headers(), self.idle_timeout)
                self._conn = conn
                if self._closed.is_set():
                    conn.close()
                    break
                self.connects += 1
                self.feed.connected()
                try:
                    while True:
                        line = resp.readline()
                        if not line:
                            break               # the daemon ended it
                        if not line.endswith(b"\n"):
                            break               # cut mid-line
                        ev = self.feed.feed(line[:-1].decode("utf-8", "replace"))
                        if ev is not None:
                            tries = 0
                            yield ev
                finally:
                    conn.close()
                    self._conn = None
            except APIError as e:
                if e.status not in (429, 502, 503, 504):
                    raise
                retry_after = e.retry_after
            except (OSError, http.client.HTTPException, ValueError):
                if self._closed.is_set():
                    break
                # TransportError (cannot connect), a reset or a timeout
                # reading: reconnect below.
            if self._closed.is_set():
                break
            tries += 1
            if self.max_retries is not None and tries > self.max_retries:
                raise TransportError("GET /v1/events: gave up after %d attempts"
                                     % (tries - 1))
            if self._closed.wait(self.feed.next_delay(retry_after)):
                break

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Event:
        return next(self._gen)

    def close(self) -> None:
        """End the stream (safe from another thread)."""
        self._closed.set()
        conn = self._conn
        if conn is not None:
            try:
                if conn.sock is not None:
                    conn.sock.shutdown(socket.SHUT_RDWR)    # wakes a reader
            except OSError:
                pass
        try:
            self._gen.close()
        except ValueError:      # it is running in another thread: it ends
            pass                # on its own, seeing the stream closed

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Loop(LoopBase):
    """A blocking client of one loopd (see loopd.connect)."""

    def __init__(self, url: Optional[str] = None, **kw: Any) -> None:
        super().__init__(url, **kw)
        self._transport = SyncTransport(self.endpoint, self.timeout)

    def _run(self, op: ops.Op) -> Any:
        """Drive an operation with blocking requests."""
        try:
            req = next(op)
        except StopIteration as e:
            return e.value
        while True:
            err: Optional[APIError] = None
            body: Any = None
            try:
                body = self._transport.request(req)
            except APIError as e:
                err = e
            try:
                req = op.send(body) if err is None else op.throw(err)
            except StopIteration as e:
                return e.value

    def future(self, fid: str) -> Future:
        """The future or call with this id (made elsewhere); no request."""
        ops._check_id(fid)
        return (Call if fid.startswith("c_") else Future)(self, fid)

    # -- clock and calls --------------------------------------------------------

    def time(self) -> float:
        """The loop's time (monotonic seconds; loop.time())."""
        return self._run(ops.op_time())["loop_time"]

    def clock(self) -> Tuple[float, float]:
        """(loop time, Unix time) read together."""
        t = self._run(ops.op_time())
        return t["loop_time"], t["unix_time"]

    def _schedule(self, trigger: Dict[str, Any], action: Action, args: Tuple[Any, ...],
                  idempotency_key: Optional[str]) -> Call:
        obj = self._run(ops.op_schedule(trigger, action, args, idempotency_key))
        return Call(self, obj["id"], obj)

    def call_soon(self, action: Action, *args: Any,
                  idempotency_key: Optional[str] = None) -> Call:
        """Run action on the loop's next iteration (in acceptance order)."""
        return self._schedule({"soon": True}, action, args, idempotency_key)

    def call_later(self, delay: float, action: Action, *args: Any,
                   idempotency_key: Optional[str] = None) -> Call:
        """Run action delay seconds from now."""
        return self._schedule(self._trigger_after(delay), action, args,
                              idempotency_key)

    def call_at(self, when: float, action: Action, *args: Any,
                idempotency_key: Optional[str] = None) -> Call:
        """Run action at loop time when (a past time runs at once)."""
        return self._schedule({"at": float(when)}, action, args, idempotency_key)

    def call_at_unix(self, when: Any, action: Action, *args: Any,
                     idempotency_key: Optional[str] = None) -> Call:
        """Run action at a wall-clock time (Unix seconds or a datetime);
        it follows the system clock if that is stepped."""
        return self._schedule(self._trigger_at_unix(when), action, args,
                              idempotency_key)

    def create_future(self, name: Optional[str] = None,
                      timeout: Optional[float] = None) -> Future:
        """A new remote future; cancelled by loopd if still pending after
        timeout seconds."""
        obj = self._run(ops.op_create_future(name, timeout))
        return Future(self, obj["id"], obj)

    def calls(self, state: Optional[str] = None, phase: Optional[str] = None,
              name: Optional[str] = None) -> List[Call]:
        """The calls loopd holds, filtered (every page)."""
        return [Call(self, o["id"], o) for o in
                self._run(ops.op_list_calls(state, phase, name))]

    # -- schedules ---------------------------------------------------------------

    def schedule(self, action: Action, *args: Any, every: Any = None,
                 cron: Optional[str] = None, calendar: Optional[str] = None,
                 **fields: Any) -> Schedule:
        """A recurring schedule running action (with args) on every=
        (seconds, a timedelta or "1h30m"), cron= or calendar=; fields: tz,
        start, end, count, catchup, catchup_window, overlap, jitter,
        pause_on_failure, name (see docs/API.md)."""
        fields.update(every=every, cron=cron, calendar=calendar)
        obj = self._run(ops.op_create_schedule(ops.schedule_body(action, args,
                                                                 fields)))
        return Schedule(self, obj["id"], obj)

    def get_schedule(self, sid: str) -> Schedule:
        """The schedule with this id, fetched (404: APIError)."""
        obj = self._run(ops.op_get_schedule(sid))
        return Schedule(self, obj["id"], obj)

    def schedules(self, state: Optional[str] = None,
                  name: Optional[str] = None) -> List[Schedule]:
        """The schedules, oldest first, filtered (every page)."""
        return [Schedule(self, o["id"], o) for o in
                self._run(ops.op_list_schedules(state, name))]

    # -- events ------------------------------------------------------------------

    def events(self, last_event_id: Optional[Any] = None, *,
               max_backoff: float = 5.0, idle_timeout: float = 60.0,
               max_retries: Optional[int] = None) -> EventStream:
        """The live event stream: iterate for Event(id, type, data). With
        last_event_id, the events after it (or a "reset" event if they are
        gone). A dropped connection is opened again with Last-Event-ID,
        after 0.1 s doubling up to max_backoff; max_retries failed attempts
        in a row (None: no limit) raise TransportError. idle_timeout: no
        byte for that long (the daemon sends a keep-alive every 15 s)
        counts as a dropped connection."""
        return EventStream(self, EventFeed(last_event_id, max_backoff),
                           idle_timeout, max_retries)

    # -- wait and gather -----------------------------------------------------------

    def wait(self, fs: Iterable[Any], *, timeout: Optional[float] = None,
             return_when: str = ops.ALL_COMPLETED) -> Tuple[Set[Future], Set[Future]]:
        """asyncio.wait, held by the daemon: (done, pending) sets."""
        given = list(fs)
        ids = list(dict.fromkeys(self._ids(given)))
        done, pending = self._run(ops.op_wait(ids, timeout, return_when,
                                              self.max_hold))
        by_id = {f.id: f for f in given if isinstance(f, FutureBase)}
        return ({by_id.get(i) or self.future(i) for i in done},
                {by_id.get(i) or self.future(i) for i in pending})

    def gather(self, *fs: Any, return_exceptions: bool = False,
               timeout: Optional[float] = None) -> List[Any]:
        """asyncio.gather, held by the daemon: the results in order."""
        return self._run(ops.op_gather(self._ids(fs), return_exceptions,
                                       timeout, self.max_hold))

    # -- life ------------------------------------------------------------------

    def close(self) -> None:
        """Close the idle connections."""
        self._transport.close()

    def __enter__(self) -> "Loop":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<loopd.Loop %s>" % self.url


__all__ = ["Loop", "Future", "Call", "Schedule", "EventStream"]
