"""
loopd: asyncio's loop, lent by a daemon, in asyncio's own words.

    import loopd

    loop = loopd.connect()                       # blocking face
    h = loop.call_later(0.5, loopd.Command(["echo", "hi"]))
    print(h.wait()["stdout"])                    # "hi\n"

    async def main():
        loop = loopd.connect_async()             # asyncio face
        fut = await loop.create_future()
        await fut.add_done_callback(loopd.Webhook("http://127.0.0.1:8080/done"))
        ...
        print(await fut)                         # set by another process

connect() finds the daemon as loopctl does (LOOP_URL, LOOP_TOKEN,
LOOP_TOKEN_FILE, the state directory's token; LOOP_CACERT for TLS).
Standard library only; Python 3.9+.
"""
from typing import Any, Iterable, Optional

from ._actions import Action, Command, Retry, Webhook
from ._async import (AsyncCall, AsyncEventStream, AsyncFuture, AsyncLoop,
                     AsyncSchedule)
from ._base import FutureBase
from ._config import DEFAULT_URL, state_dir
from ._errors import (APIError, Error, InvalidStateError, RemoteError,
                      TransportError)
from ._ops import ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION
from ._events import Event
from ._sync import Call, EventStream, Future, Loop, Schedule

__version__ = "0.1.0"


def connect(url: Optional[str] = None, **kw: Any) -> Loop:
    """A blocking Loop. url (else LOOP_URL, else http://127.0.0.1:7700;
    "unix:/path" for a Unix socket); keywords: token, token_file, cafile,
    ssl_context, timeout (seconds per request, 30), max_hold (longest
    single long-poll, 60). No connection is made until the first request."""
    return Loop(url, **kw)


def connect_async(url: Optional[str] = None, **kw: Any) -> AsyncLoop:
    """An AsyncLoop, with connect()'s arguments."""
    return AsyncLoop(url, **kw)


def _loop_of(fs: Iterable[Any]) -> Any:
    for f in fs:
        if isinstance(f, FutureBase):
            return f.loop
    raise TypeError("loopd.wait/gather need at least one loopd future "
                    "(plain ids: use loop.wait / loop.gather)")


def wait(fs: Iterable[Any], *, timeout: Optional[float] = None,
         return_when: str = ALL_COMPLETED) -> Any:
    """asyncio.wait over remote futures, held by the daemon: (done,
    pending) sets. With AsyncLoop futures it is awaited; with blocking
    Loop futures it blocks and returns."""
    fs = list(fs)
    return _loop_of(fs).wait(fs, timeout=timeout, return_when=return_when)


def gather(*fs: Any, return_exceptions: bool = False,
           timeout: Optional[float] = None) -> Any:
    """asyncio.gather over remote futures, held by the daemon: their
    results in order. Awaited with AsyncLoop futures, blocking with Loop
    futures; timeout (an extension) raises asyncio.TimeoutError."""
    return _loop_of(fs).gather(*fs, return_exceptions=return_exceptions,
                               timeout=timeout)


__all__ = [
    "connect", "connect_async", "wait", "gather",
    "Loop", "Future", "Call", "AsyncLoop", "AsyncFuture", "AsyncCall",
    "Schedule", "AsyncSchedule", "Event", "EventStream", "AsyncEventStream",
    "Command", "Webhook", "Retry", "Action",
    "Error", "APIError", "InvalidStateError", "RemoteError", "TransportError",
    "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED",
    "DEFAULT_URL", "state_dir",
]
