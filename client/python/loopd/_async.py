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
from typing import (Any, Dict, Generator, Iterable, List, Optional,
                    Set, Tuple)

from . import _ops as ops
from ._actions import Action
from ._base import CallMixin, FutureBase, LoopBase
from ._errors import APIError
from ._transport import AsyncTransport


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


