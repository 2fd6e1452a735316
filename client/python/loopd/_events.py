"""
The live event stream (GET /v1/events, Server-Sent Events), sans I/O.

EventFeed parses the stream's lines into Event objects and keeps what a
reconnection needs: the last event id (the stream's opening block carries
one, so it is known before the first event) and the delay before the next
attempt (0.1 s doubling up to max_backoff; reset once a connection has
delivered its opening block). The faces own the sockets: Loop.events()
reads them blocking, AsyncLoop.events() on asyncio streams.
"""
import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

INITIAL_BACKOFF = 0.1


@dataclass(frozen=True)
class Event:
    """One event: id (the stream's id: text, e.g. "1796467023193227"),
    type (call.created, call.started, call.finished, call.cancelled,
    future.created, future.settled, schedule.changed, or reset: list the
    objects again), data (the JSON of data:, or its text if not JSON)."""
    id: Optional[str]
    type: str
    data: Any

    @property
    def object_id(self) -> Optional[str]:
        """The id of the call, future or schedule the event is about."""
        return self.data.get("id") if isinstance(self.data, dict) else None


class EventFeed:
    """The state of one logical stream across its connections."""

    def __init__(self, last_event_id: Optional[Any] = None,
                 max_backoff: float = 5.0) -> None:
        self.last_event_id: Optional[str] = \
            None if last_event_id is None else str(last_event_id)
        self.max_backoff = max(INITIAL_BACKOFF, float(max_backoff))
        self.retry_ms: Optional[int] = None      # the daemon's retry:
        self.failures = 0                        # attempts since one worked
        self._start_block()

    def _start_block(self) -> None:
        self._type = ""
        self._data: List[str] = []
        self._id: Optional[str] = self.last_event_id

    def headers(self) -> Dict[str, str]:
        """The request headers of the next connection."""
        h = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_event_id is not None:
            h["Last-Event-ID"] = self.last_event_id
        return h

    def connected(self) -> None:
        """A new connection answered 200: a half-read block is dropped."""
        self._start_block()

    def next_delay(self, retry_after: Optional[float] = None) -> float:
        """Seconds to wait before reconnecting after a failure (bounded)."""
        delay = min(self.max_backoff, INITIAL_BACKOFF * (2 ** min(self.failures, 16)))
        self.failures += 1
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff))
        return delay

    def feed(self, line: str) -> Optional[Event]:
        """One line (without its end); an Event when a block is complete."""
        if line.endswith("\r"):
            line = line[:-1]
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None                         # a comment (keep-alive)
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._type = value
        elif field == "data":
            self._data.append(value)
        elif field == "id":
            if "\0" not in value:
                self._id = value
        elif field == "retry":
            if value.isdigit():
                self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Optional[Event]:
        # As the SSE rules say: the id counts even for a block without
        # data (the opening block), which is not an event.
        self.last_event_id = self._id
        self.failures = 0
        etype, data = self._type or "message", self._data
        self._type, self._data = "", []
        if not data:
            return None
        text = "\n".join(data)
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        return Event(self.last_event_id, etype, value)


class LineSplitter:
    """Bytes in, text lines out (\\n ends a line; \\r before it is dropped
    by EventFeed.feed; a lone \\r is rare enough to be left alone)."""

    def __init__(self) -> None:
        self._buf = b""

    def push(self, data: bytes) -> List[str]:
        self._buf += data
        if b"\n" not in self._buf:
            return []
        *lines, self._buf = self._buf.split(b"\n")
        return [x.decode("utf-8", "replace") for x in lines]


__all__ = ["Event", "EventFeed", "LineSplitter"]
