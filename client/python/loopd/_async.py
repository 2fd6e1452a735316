"""
The asyncio face: AsyncLoop, AsyncFuture and AsyncCall.

Every network call is a coroutine; a long-poll is a socket the event loop
watches, so thousands of awaits cost no thread. Awaiting a future waits
for it; cancelling that await (task.cancel(), asyncio.wait_for's timeout)
closes the long-poll's connection and leaves the remote future alone.
done(), result() and exception() are coroutines too (they ask the
daemon); snapshot, state and the call's started/finished read what was
last seen without asking.
"""
import asyncio
from typing import (Any, AsyncIterator, Dict, Generator, Iterable, List,
                    Optional, Set, Tuple)

from . import _ops as ops
from ._actions import Action
from ._base import CallMixin, FutureBase, LoopBase, ScheduleBase
from ._errors import APIError, TransportError
from ._events import Event, EventFeed, LineSplitter
from ._transport import AsyncStream, AsyncTransport


class AsyncFuture(FutureBase):
    """A remote future on an AsyncLoop; `await fut` gives its result."""
    _loop: "AsyncLoop"

    async def refresh(self) -> Dict[str, Any]:
        """Ask the daemon for the object now; returns it."""
        return self._seen(await self._loop._run(ops.op_get(self.id)))

    async def _current(self) -> Dict[str, Any]:
        if ops.is_done(self._snap) and "state" in self._snap:
            return self._snap
        return await self.refresh()

    async def done(self) -> bool:
        return ops.is_done(await self._current())

    async def cancelled(self) -> bool:
        return (await self._current()).get("state") == "cancelled"

    async def result(self) -> Any:
        """The result; raises RemoteError, asyncio.CancelledError, or
        asyncio.InvalidStateError while pending. Does not wait."""
        return ops.outcome(await self._current())

    async def exception(self) -> Optional[BaseException]:
        return ops.exception_of(await self._current())

    async def wait(self, timeout: Optional[float] = None) -> Any:
        """Wait until done and return the result or raise what it raised;
        asyncio.TimeoutError after timeout seconds."""
        obj = await self._loop._run(ops.op_await(self.id, timeout,
                                                 self._loop.max_hold))
        return ops.outcome(self._seen(obj))

    def __await__(self) -> Generator[Any, None, Any]:
        return self.wait().__await__()

    async def set_result(self, result: Any) -> None:
        """Finish with result; loopd.InvalidStateError if already done."""
        self._seen(await self._loop._run(ops.op_set_result(self.id, result)))

    async def set_exception(self, exception: Any) -> None:
        """Finish with an exception (instance, class, RemoteError, or a
        (type, message) pair)."""
        self._seen(await self._loop._run(ops.op_set_exception(self.id, exception)))

    async def cancel(self, msg: Optional[str] = None) -> bool:
        """Cancel the remote future; False if it was already done."""
        return await self._loop._run(ops.op_cancel(self.id))

    async def add_done_callback(self, action: Action, *args: Any,
                                idempotency_key: Optional[str] = None) -> "AsyncCall":
        """Have loopd run action once this future is done; returns the
        callback's call (itself a future)."""
        obj = await self._loop._run(ops.op_add_callback(self.id, action, args,
                                                        idempotency_key))
        self._callbacks.append((action, obj["id"]))
        return AsyncCall(self._loop, obj["id"], obj)

    async def remove_done_callback(self, callback: Any) -> int:
        """Remove not-yet-started callbacks equal to callback (an action
        registered through this object, or a callback call or id)."""
        return await self._loop._run(ops.op_remove_callbacks(
            self.id, self._forget_callbacks(callback)))


class AsyncCall(CallMixin, AsyncFuture):
    """A scheduled call: a handle that is also an awaitable future."""

    async def cancel(self, msg: Optional[str] = None) -> bool:
        """Cancel the call (a running command gets SIGTERM)."""
        return await self._loop._run(ops.op_cancel(self.id))


class AsyncSchedule(ScheduleBase):
    """A recurring schedule on an AsyncLoop: every method that asks the
    daemon is a coroutine; occurrences are AsyncCalls."""
    _loop: "AsyncLoop"

    async def refresh(self) -> Dict[str, Any]:
        """Ask the daemon for the schedule object now; returns it."""
        return self._seen(await self._loop._run(ops.op_get_schedule(self.id)))

    async def pause(self) -> Dict[str, Any]:
        """Pause; loopd.APIError 409 if already paused."""
        return self._seen(await self._loop._run(ops.op_schedule_verb(self.id, "pause")))

    async def resume(self) -> Dict[str, Any]:
        """Resume (missed occurrences follow catchup); 409 if active."""
        return self._seen(await self._loop._run(ops.op_schedule_verb(self.id, "resume")))

    async def trigger(self) -> AsyncCall:
        """Make one occurrence now; returns its AsyncCall."""
        obj = await self._loop._run(ops.op_schedule_verb(self.id, "trigger"))
        return AsyncCall(self._loop, obj["id"], obj)

    async def backfill(self, from_: Any, to: Any) -> int:
        """Make the occurrences of [from_, to] that have none yet; how many."""
        r = await self._loop._run(ops.op_backfill(self.id, from_, to))
        self._seen(r.get("schedule"))
        return int(r.get("backfilled", 0))

    async def update(self, action: Optional[Action] = None, *args: Any,
                     **fields: Any) -> Dict[str, Any]:
        """PATCH: the fields given replace the schedule's (None removes)."""
        body = ops.schedule_fields(fields, True)
        if action is not None:
            body.update(ops.action_json(action))
            if args:
                body["args"] = list(args)
        return self._seen(await self._loop._run(ops.op_patch_schedule(self.id, body)))

    async def delete(self) -> Dict[str, Any]:
        """Delete it; returns the object as it was, state "deleted"."""
        return self._seen(await self._loop._run(ops.op_delete_schedule(self.id)))


class AsyncEventStream:
    """AsyncLoop.events(): `async for ev in stream` gives Event objects,
    reconnecting with Last-Event-ID after a dropped connection (bounded
    backoff). Cancelling the task that iterates, aclose(), or leaving an
    `async with` block closes the connection."""

    def __init__(self, loop: "AsyncLoop", feed: EventFeed, idle_timeout: float,
                 max_retries: Optional[int]) -> None:
        self._loop = loop
        self.feed = feed
        self.idle_timeout = idle_timeout
        self.max_retries = max_retries
        self.connects = 0
        self._stream: Optional[AsyncStream] = None
        self._closed = False
        self._gen = self._run()

    @property
    def last_event_id(self) -> Optional[str]:
        """The id to go on from (known once the stream opened)."""
        return self.feed.last_event_id

    async def _run(self) -> AsyncIterator[Event]:
        tries = 0
        while True:
            retry_after: Optional[float] = None
            try:
                stream = await self._loop._transport.open_stream(
                    "/v1/events", self.feed.headers())
                self._stream = stream
                self.connects += 1
                self.feed.connected()
                split = LineSplitter()
                try:
                    while True:
                        data = await asyncio.wait_for(stream.read(), self.idle_timeout)
                        if not data:
                            break               # the daemon ended it
                        for line in split.push(data):
                            ev = self.feed.feed(line)
                            if ev is not None:
                                tries = 0
                                yield ev
                finally:
                    stream.close()
                    self._stream = None
            except APIError as e:
                if e.status not in (429, 502, 503, 504):
                    raise
                retry_after = e.retry_after
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                    ValueError):
                pass                            # reconnect below
            if self._closed:
                return
            tries += 1
            if self.max_retries is not None and tries > self.max_retries:
                raise TransportError("GET /v1/events: gave up after %d attempts"
                                     % (tries - 1))
            await asyncio.sleep(self.feed.next_delay(retry_after))

    def __aiter__(self) -> "AsyncEventStream":
        return self

    async def __anext__(self) -> Event:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        """End the stream and close its connection (also while another
        task is iterating: it sees the end of the stream)."""
        self._closed = True
        if self._stream is not None:
            self._stream.close()
        try:
            await self._gen.aclose()
        except RuntimeError:        # running in another task: it ends itself
            pass

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class AsyncLoop(LoopBase):
    """An asyncio client of one loopd (see loopd.connect_async)."""

    def __init__(self, url: Optional[str] = None, **kw: Any) -> None:
        super().__init__(url, **kw)
        self._transport = AsyncTransport(self.endpoint, self.timeout)

    async def _run(self, op: ops.Op) -> Any:
        """Drive an operation with asyncio requests."""
        try:
            req = next(op)
        except StopIteration as e:
            return e.value
        try:
            while True:
                err: Optional[APIError] = None
                body: Any = None
                try:
                    body = await self._transport.request(req)
                except APIError as e:
                    err = e
                try:
                    req = op.send(body) if err is None else op.throw(err)
                except StopIteration as e:
                    return e.value
        finally:
            op.close()

    def future(self, fid: str) -> AsyncFuture:
        """The future or call with this id (made elsewhere); no request."""
        ops._check_id(fid)
        return (AsyncCall if fid.startswith("c_") else AsyncFuture)(self, fid)

    async def time(self) -> float:
        """The loop's time (monotonic seconds)."""
        return (await self._run(ops.op_time()))["loop_time"]

    async def clock(self) -> Tuple[float, float]:
        """(loop time, Unix time) read together."""
        t = await self._run(ops.op_time())
        return t["loop_time"], t["unix_time"]

    async def _schedule(self, trigger: Dict[str, Any], action: Action,
                        args: Tuple[Any, ...], idempotency_key: Optional[str]) -> AsyncCall:
        obj = await self._run(ops.op_schedule(trigger, action, args, idempotency_key))
        return AsyncCall(self, obj["id"], obj)

    async def call_soon(self, action: Action, *args: Any,
                        idempotency_key: Optional[str] = None) -> AsyncCall:
        """Run action on the loop's next iteration (in acceptance order)."""
        return await self._schedule({"soon": True}, action, args, idempotency_key)

    async def call_later(self, delay: float, action: Action, *args: Any,
                         idempotency_key: Optional[str] = None) -> AsyncCall:
        """Run action delay seconds from now."""
        return await self._schedule(self._trigger_after(delay), action, args,
                                    idempotency_key)

    async def call_at(self, when: float, action: Action, *args: Any,
                      idempotency_key: Optional[str] = None) -> AsyncCall:
        """Run action at loop time when."""
        return await self._schedule({"at": float(when)}, action, args,
                                    idempotency_key)

    async def call_at_unix(self, when: Any, action: Action, *args: Any,
                           idempotency_key: Optional[str] = None) -> AsyncCall:
        """Run action at a wall-clock time (Unix seconds or a datetime)."""
        return await self._schedule(self._trigger_at_unix(when), action, args,
                                    idempotency_key)

    async def create_future(self, name: Optional[str] = None,
                            timeout: Optional[float] = None) -> AsyncFuture:
        """A new remote future (cancelled after timeout seconds if pending)."""
        obj = await self._run(ops.op_create_future(name, timeout))
        return AsyncFuture(self, obj["id"], obj)

    async def calls(self, state: Optional[str] = None, phase: Optional[str] = None,
                    name: Optional[str] = None) -> List[AsyncCall]:
        """The calls loopd holds, filtered (every page)."""
        return [AsyncCall(self, o["id"], o) for o in
                await self._run(ops.op_list_calls(state, phase, name))]

    async def schedule(self, action: Action, *args: Any, every: Any = None,
                       cron: Optional[str] = None, calendar: Optional[str] = None,
                       **fields: Any) -> AsyncSchedule:
        """A recurring schedule (see Loop.schedule)."""
        fields.update(every=every, cron=cron, calendar=calendar)
        obj = await self._run(ops.op_create_schedule(
            ops.schedule_body(action, args, fields)))
        return AsyncSchedule(self, obj["id"], obj)

    async def get_schedule(self, sid: str) -> AsyncSchedule:
        """The schedule with this id, fetched (404: APIError)."""
        obj = await self._run(ops.op_get_schedule(sid))
        return AsyncSchedule(self, obj["id"], obj)

    async def schedules(self, state: Optional[str] = None,
                        name: Optional[str] = None) -> List[AsyncSchedule]:
        """The schedules, oldest first, filtered (every page)."""
        return [AsyncSchedule(self, o["id"], o) for o in
                await self._run(ops.op_list_schedules(state, name))]

    def events(self, last_event_id: Optional[Any] = None, *,
               max_backoff: float = 5.0, idle_timeout: float = 60.0,
               max_retries: Optional[int] = None) -> AsyncEventStream:
        """The live event stream (see Loop.events): `async for ev in
        loop.events()`; not a coroutine itself."""
        return AsyncEventStream(self, EventFeed(last_event_id, max_backoff),
                                idle_timeout, max_retries)

    async def wait(self, fs: Iterable[Any], *, timeout: Optional[float] = None,
                   return_when: str = ops.ALL_COMPLETED
                   ) -> Tuple[Set[AsyncFuture], Set[AsyncFuture]]:
        """asyncio.wait, held by the daemon: (done, pending) sets."""
        given = list(fs)
        ids = list(dict.fromkeys(self._ids(given)))
        done, pending = await self._run(ops.op_wait(ids, timeout, return_when,
                                                    self.max_hold))
        by_id = {f.id: f for f in given if isinstance(f, FutureBase)}
        return ({by_id.get(i) or self.future(i) for i in done},
                {by_id.get(i) or self.future(i) for i in pending})

    async def gather(self, *fs: Any, return_exceptions: bool = False,
                     timeout: Optional[float] = None) -> List[Any]:
        """asyncio.gather, held by the daemon: the results in order."""
        return await self._run(ops.op_gather(self._ids(fs), return_exceptions,
                                             timeout, self.max_hold))

    async def close(self) -> None:
        """Close the idle connections."""
        await self._transport.close()

    async def __aenter__(self) -> "AsyncLoop":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "<loopd.AsyncLoop %s>" % self.url


