"""
What the blocking and the asyncio faces share: the remote future's
identity and last-seen state, and the loop's settings and triggers.
"""
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ._config import Endpoint
from ._ops import when_unix


class FutureBase:
    """A remote future (f_...) or call (c_...): an id on a daemon.

    snapshot is the object as last seen (from the reply that made it, or
    the last request about it), without asking the daemon again; the
    methods that ask are on the faces. Futures compare and hash by id."""

    def __init__(self, loop: Any, fid: str,
                 snapshot: Optional[Mapping[str, Any]] = None) -> None:
        self._loop = loop
        self.id = fid
        self._snap: Dict[str, Any] = dict(snapshot) if snapshot else {"id": fid}
        self._callbacks: List[Tuple[Any, str]] = []    # (action, callback id)

    @property
    def loop(self) -> Any:
        return self._loop

    @property
    def snapshot(self) -> Dict[str, Any]:
        """The object as last seen (no request)."""
        return self._snap

    @property
    def name(self) -> Optional[str]:
        return self._snap.get("name")

    @property
    def state(self) -> Optional[str]:
        """pending, finished or cancelled, as last seen."""
        return self._snap.get("state")

    def _seen(self, obj: Any) -> Any:
        if isinstance(obj, dict) and obj.get("id") == self.id:
            self._snap = obj
        return obj

    def _forget_callbacks(self, match: Any) -> List[str]:
        """Callback ids registered through this object for match (an
        action, or a callback future/id); they leave the list."""
        if isinstance(match, FutureBase):
            match = match.id
        keep, out = [], []
        for action, cid in self._callbacks:
            hit = cid == match if isinstance(match, str) else action == match
            (out if hit else keep).append((action, cid))
        self._callbacks = keep
        ids = [cid for _, cid in out]
        if not ids and isinstance(match, str):
            ids = [match]
        return ids

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FutureBase) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        extra = ""
        if self._snap.get("name"):
            extra = " name=%r" % self._snap["name"]
        return "<%s %s %s%s>" % (type(self).__name__, self.id,
                                 self._snap.get("state", "?"), extra)


class CallMixin:
    """What a call adds to a future: when it runs and how it went (from
    the snapshot, no request)."""
    _snap: Dict[str, Any]

    def when(self) -> Optional[float]:
        """The loop time the call is due (asyncio's TimerHandle.when())."""
        return self._snap.get("due")

    @property
    def phase(self) -> Optional[str]:
        """scheduled, waiting, running or done, as last seen."""
        return self._snap.get("phase")

    @property
    def started(self) -> Optional[float]:
        """Loop time the action started, as last seen."""
        return self._snap.get("started")

    @property
    def finished(self) -> Optional[float]:
        """Loop time the call became done, as last seen."""
        return self._snap.get("finished")


class LoopBase:
    """Settings both faces share."""

    def __init__(self, url: Optional[str] = None, *, token: Optional[str] = None,
                 token_file: Optional[str] = None, cafile: Optional[str] = None,
                 ssl_context: Any = None, timeout: float = 30.0,
                 max_hold: float = 60.0) -> None:
        self.endpoint = Endpoint(url, token, token_file, cafile, ssl_context)
        self.timeout = timeout
        self.max_hold = max_hold

    @property
    def url(self) -> str:
        return self.endpoint.url

    def child_env(self) -> Dict[str, str]:
        """LOOP_URL, LOOP_TOKEN_FILE (or LOOP_TOKEN) and LOOP_CACERT for a
        child process (loopctl, or this package) to reach the same daemon."""
        return self.endpoint.child_env()

    def _ids(self, fs: Iterable[Any]) -> List[str]:
        out = []
        for f in fs:
            if isinstance(f, FutureBase):
                if f._loop is not self:
                    raise ValueError("%r belongs to another loop" % (f,))
                out.append(f.id)
            elif isinstance(f, str):
                out.append(f)
            else:
                raise TypeError("expected a loopd future, call or id, got %s"
                                % type(f).__name__)
        return out

    @staticmethod
    def _trigger_after(delay: float) -> Dict[str, Any]:
        return {"after": max(0.0, float(delay))}

    @staticmethod
    def _trigger_at_unix(when: Any) -> Dict[str, Any]:
        return {"at_unix": when_unix(when)}



class ScheduleBase:
    """A recurring schedule (s_...): an id on a daemon, and the object as
    last seen. The methods that ask the daemon are on the faces."""

    def __init__(self, loop: Any, sid: str,
                 snapshot: Optional[Mapping[str, Any]] = None) -> None:
        self._loop = loop
        self.id = sid
        self._snap: Dict[str, Any] = dict(snapshot) if snapshot else {"id": sid}

    @property
    def loop(self) -> Any:
        return self._loop

    @property
    def snapshot(self) -> Dict[str, Any]:
        """The schedule object as last seen (no request)."""
        return self._snap

    @property
    def state(self) -> Optional[str]:
        """active, paused or deleted, as last seen."""
        return self._snap.get("state")

    @property
    def name(self) -> Optional[str]:
        return self._snap.get("name")

    @property
    def fired(self) -> Optional[int]:
        """How many occurrences were made, as last seen."""
        return self._snap.get("fired")

    @property
    def next_unix(self) -> List[float]:
        """The next fire times (Unix seconds), as last seen."""
        return [n["unix"] for n in self._snap.get("next", []) if "unix" in n]

    @property
    def next_local(self) -> List[str]:
        """The next fire times as local RFC 3339 text in the schedule's tz."""
        return [n["local"] for n in self._snap.get("next", []) if "local" in n]

    @property
    def recent(self) -> List[Dict[str, Any]]:
        """The last occurrences as the daemon describes them (call,
        scheduled_for, state, phase, lateness, outcome), as last seen."""
        return list(self._snap.get("recent", []))

    def occurrences(self) -> List[Any]:
        """The recent occurrences as calls (awaitable; oldest first as the
        daemon lists them), from the snapshot: no request."""
        out = []
        for r in self._snap.get("recent", []):
            if isinstance(r.get("call"), str):
                out.append(self._loop.future(r["call"]))
        return out

    def _seen(self, obj: Any) -> Any:
        if isinstance(obj, dict) and obj.get("id") == self.id:
            self._snap = obj
        return obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleBase) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        extra = ""
        if self._snap.get("name"):
            extra = " name=%r" % self._snap["name"]
        return "<%s %s %s%s>" % (type(self).__name__, self.id,
                                 self._snap.get("state", "?"), extra)
