"""
Actions are values: what loopd runs when a call falls due.

    Command(["backup", "--fast"], env={"X": "1"}, timeout=60, retry=3)
    Webhook("https://example.org/hook", body={"a": 1}, name="ping")

retry is a Retry, an int (attempts) or a dict of the wire; name labels the
call; on_restart ("fail" | "rerun") says what happens to a command that was
running when loopd died. Actions compare by value, so remove_done_callback
can find the callbacks registered with an equal action.
"""
import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union


@dataclass(frozen=True)
class Retry:
    """Retry policy: attempts in all; delay before attempt n+1 between half
    and all of backoff * 2**(n-1), capped at max_backoff (seconds)."""
    attempts: int
    backoff: Optional[float] = None
    max_backoff: Optional[float] = None

    def to_json(self) -> Dict[str, Any]:
        """The wire's retry object."""
        out: Dict[str, Any] = {"attempts": self.attempts}
        if self.backoff is not None:
            out["backoff"] = self.backoff
        if self.max_backoff is not None:
            out["max_backoff"] = self.max_backoff
        return out


RetryLike = Union[Retry, int, Mapping[str, Any], None]


def _retry_json(retry: RetryLike) -> Optional[Dict[str, Any]]:
    """A retry argument as the wire's object (None: no policy)."""
    if retry is None:
        return None
    if isinstance(retry, Retry):
        return retry.to_json()
    if isinstance(retry, bool):
        raise TypeError("retry: expected Retry, int or dict, got bool")
    if isinstance(retry, int):
        return {"attempts": retry}
    if isinstance(retry, Mapping):
        return dict(retry)
    raise TypeError("retry: expected Retry, int or dict, got %s"
                    % type(retry).__name__)


class _Action:
    """What Command and Webhook share: retry, name, on_restart."""

    def _extra(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        r = _retry_json(getattr(self, "retry"))
        if r is not None:
            out["retry"] = r
        if getattr(self, "name") is not None:
            out["name"] = getattr(self, "name")
        if getattr(self, "on_restart") is not None:
            out["on_restart"] = getattr(self, "on_restart")
        return out

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed (functools.partial's role)."""
        return dataclasses.replace(self, **changes)  # type: ignore


@dataclass(frozen=True)
class Command(_Action):
    """Run argv (no shell unless argv asks for one). A call's args are
    appended to argv. timeout: seconds before SIGTERM."""
    argv: Sequence[str]
    env: Optional[Mapping[str, str]] = None
    cwd: Optional[str] = None
    stdin: Optional[str] = None
    timeout: Optional[float] = None
    retry: RetryLike = None
    name: Optional[str] = None
    on_restart: Optional[str] = None

    def __post_init__(self) -> None:
        if isinstance(self.argv, (str, bytes)):
            raise TypeError("Command: argv must be a list of strings, not a "
                            "string (use [\"sh\", \"-c\", %r] for a shell line)"
                            % (self.argv,))
        argv: Tuple[str, ...] = tuple(self.argv)
        if not argv:
            raise ValueError("Command: argv must not be empty")
        object.__setattr__(self, "argv", argv)

    def to_json(self) -> Dict[str, Any]:
        """The call request's action fields."""
        cmd: Dict[str, Any] = {"argv": list(self.argv)}
        if self.env is not None:
            cmd["env"] = dict(self.env)
        if self.cwd is not None:
            cmd["cwd"] = self.cwd
        if self.stdin is not None:
            cmd["stdin"] = self.stdin
        if self.timeout is not None:
            cmd["timeout"] = self.timeout
        out: Dict[str, Any] = {"command": cmd}
        out.update(self._extra())
        return out


@dataclass(frozen=True)
class Webhook(_Action):
    """Send an HTTP request. body is any JSON value (None: loopd's default
    body, {"call": ID, "args": [...]}); timeout in seconds."""
    url: str
    method: Optional[str] = None
    headers: Optional[Mapping[str, str]] = None
    body: Any = None
    timeout: Optional[float] = None
    retry: RetryLike = None
    name: Optional[str] = None
    on_restart: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        """The call request's action fields."""
        hook: Dict[str, Any] = {"url": self.url}
        if self.method is not None:
            hook["method"] = self.method
        if self.headers is not None:
            hook["headers"] = dict(self.headers)
        if self.body is not None:
            hook["body"] = self.body
        if self.timeout is not None:
            hook["timeout"] = self.timeout
        out: Dict[str, Any] = {"webhook": hook}
        out.update(self._extra())
        return out


Action = Union[Command, Webhook, Mapping[str, Any]]


def action_json(action: Action) -> Dict[str, Any]:
    """The request fields of an action: a Command, a Webhook, or a dict
    already in the wire's shape ({"command": {...}, "retry": ...})."""
    if isinstance(action, (Command, Webhook)):
        return action.to_json()
    if isinstance(action, Mapping):
        return dict(action)
    if callable(action):
        raise TypeError("loopd runs commands and webhooks, not Python "
                        "callables: wrap it in loopd.Command or loopd.Webhook")
    raise TypeError("expected a loopd.Command, loopd.Webhook or dict action, "
                    "got %s" % type(action).__name__)


__all__ = ["Retry", "Command", "Webhook", "Action", "action_json"]
