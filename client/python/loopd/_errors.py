"""
Errors of the loopd client, mapped onto asyncio's where asyncio has one.

- Setting a done future: InvalidStateError (also asyncio.InvalidStateError).
- Awaiting a cancelled future: asyncio.CancelledError itself.
- A future that ended with an exception: RemoteError (type, message,
  details), raised where asyncio would raise the exception.
- Any other problem reply: APIError with the RFC 9457 fields.
- The daemon cannot be reached or broke the protocol: TransportError
  (also an OSError).
"""
import asyncio
from typing import Any, Dict, Mapping, Optional


class Error(Exception):
    """Base class of every error this package raises on its own."""


class APIError(Error):
    """loopd answered with a problem (status >= 400).

    status, type, title, detail come from the problem document;
    retry_after is the Retry-After header in seconds (429 and 503), or
    None; problem is the whole document."""

    def __init__(self, status: int, problem: Mapping[str, Any],
                 method: str = "", path: str = "",
                 retry_after: Optional[float] = None, note: str = "") -> None:
        self.status = status
        self.problem = dict(problem)
        self.type = str(problem.get("type") or "HTTP%d" % status)
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or "")
        self.method = method
        self.path = path
        self.retry_after = retry_after
        self.note = note
        text = "%d %s: %s" % (status, self.type, self.detail or self.title)
        if note:
            text += " (%s)" % note
        super().__init__(text)

    def __reduce__(self) -> Any:
        return (type(self), (self.status, self.problem, self.method, self.path,
                             self.retry_after, self.note))


class InvalidStateError(APIError, asyncio.InvalidStateError):
    """A 409: the future is already done (asyncio.InvalidStateError)."""


class RemoteError(Error):
    """The exception a remote future (or call) ended with.

    type is the exception's type name (CommandFailed, TimeoutError,
    SpawnError, WebhookFailed, Interrupted, or whatever a client set);
    message its message; details every other field (exit_code, stdout,
    stderr, duration, status, ...); future_id the future it came from."""

    def __init__(self, type: str, message: str = "",
                 details: Optional[Mapping[str, Any]] = None,
                 future_id: Optional[str] = None) -> None:
        self.type = type
        self.message = message
        self.details: Dict[str, Any] = dict(details or {})
        self.future_id = future_id
        super().__init__("%s: %s" % (type, message) if message else type)

    def __reduce__(self) -> Any:
        return (type(self), (self.type, self.message, self.details, self.future_id))

    def __getattr__(self, name: str) -> Any:
        # e.exit_code, e.stdout, e.status, ... read from details.
        details = self.__dict__.get("details", {})
        if name in details:
            return details[name]
        raise AttributeError(name)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any],
                  future_id: Optional[str] = None) -> "RemoteError":
        """The RemoteError for an exception object of the wire."""
        details = {k: v for k, v in obj.items() if k not in ("type", "message")}
        return cls(str(obj.get("type", "Exception")), str(obj.get("message", "")),
                   details, future_id)

    def to_json(self) -> Dict[str, Any]:
        """The exception object, as the wire has it."""
        out: Dict[str, Any] = {"type": self.type, "message": self.message}
        out.update(self.details)
        return out


class TransportError(Error, OSError):
    """loopd could not be reached, or its reply was not HTTP/JSON."""
