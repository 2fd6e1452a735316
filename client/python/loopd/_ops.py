"""
The operations of the client, written once for both faces.

Each operation is a generator that yields Req objects and is sent back
the reply's JSON body (a problem reply is thrown into it as an APIError),
and returns its value: the sans-I/O core that Loop drives with blocking
sockets and AsyncLoop with asyncio streams. Long-polls are cut into holds
of at most max_hold seconds (the daemon caps them at its max_wait too), so
a socket timeout can always be hold + slack.
"""
import asyncio
import datetime
import time
import urllib.parse
from typing import (Any, Dict, Generator, Iterable, List, Mapping, Optional,
                    Sequence)

from ._actions import Action, action_json
from ._errors import APIError, RemoteError

FIRST_COMPLETED = asyncio.FIRST_COMPLETED
FIRST_EXCEPTION = asyncio.FIRST_EXCEPTION
ALL_COMPLETED = asyncio.ALL_COMPLETED


class Req:
    """One request: method, path, JSON body (or None), and how long the
    daemon may hold it (seconds; 0 for ordinary requests)."""
    __slots__ = ("method", "path", "body", "hold")

    def __init__(self, method: str, path: str, body: Any = None,
                 hold: float = 0.0) -> None:
        self.method = method
        self.path = path
        self.body = body
        self.hold = hold

    def __repr__(self) -> str:
        return "Req(%s %s)" % (self.method, self.path)


Op = Generator[Req, Any, Any]


def _seconds(x: float) -> str:
    """A number of seconds for a query string."""
    return ("%.6f" % x).rstrip("0").rstrip(".") or "0"


def _check_id(fid: str) -> str:
    if not isinstance(fid, str) or len(fid) != 18 or fid[:2] not in ("c_", "f_"):
        raise ValueError("not a loopd future or call id: %r" % (fid,))
    return fid


def is_done(obj: Mapping[str, Any]) -> bool:
    """Whether a future/call object is done."""
    return obj.get("state", "pending") != "pending"


def outcome(obj: Mapping[str, Any]) -> Any:
    """The result of a done future/call object, or raise what awaiting it
    raises: asyncio.CancelledError, RemoteError, or (still pending)
    asyncio.InvalidStateError."""
    state = obj.get("state")
    if state == "cancelled":
        raise asyncio.CancelledError()
    if state == "pending":
        raise asyncio.InvalidStateError("Result is not set.")
    if "exception" in obj:
        raise RemoteError.from_json(obj["exception"], obj.get("id"))
    return obj.get("result")


def exception_of(obj: Mapping[str, Any]) -> Optional[RemoteError]:
    """fut.exception() of a future/call object."""
    state = obj.get("state")
    if state == "cancelled":
        raise asyncio.CancelledError()
    if state == "pending":
        raise asyncio.InvalidStateError("Exception is not set.")
    if "exception" in obj:
        return RemoteError.from_json(obj["exception"], obj.get("id"))
    return None


def exception_json(exc: Any) -> Dict[str, Any]:
    """The body of POST /v1/futures/ID/exception for exc: a RemoteError
    (its type and message), any exception instance or class (its class
    name and str()), or a (type, message) pair."""
    if isinstance(exc, RemoteError):
        return {"type": exc.type, "message": exc.message}
    if isinstance(exc, type) and issubclass(exc, BaseException):
        return {"type": exc.__name__, "message": ""}
    if isinstance(exc, BaseException):
        return {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, tuple) and len(exc) == 2:
        return {"type": str(exc[0]), "message": str(exc[1])}
    raise TypeError("set_exception: expected an exception, got %s"
                    % type(exc).__name__)


def when_unix(when: Any) -> float:
    """A wall-clock time: Unix seconds, or a datetime (naive: local time)."""
    if isinstance(when, datetime.datetime):
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError("when: expected Unix seconds or a datetime")
    return float(when)


def looks_like_exception(v: Any) -> bool:
    """Whether a gather result entry has the shape of an exception."""
    return (isinstance(v, dict) and isinstance(v.get("type"), str)
            and isinstance(v.get("message"), str))


# -- operations ---------------------------------------------------------------

def op_time() -> Op:
    """GET /v1/time -> {"loop_time", "unix_time"}."""
    return (yield Req("GET", "/v1/time"))


def op_schedule(trigger: Mapping[str, Any], action: Action, args: Sequence[Any],
                idempotency_key: Optional[str]) -> Op:
    """POST /v1/calls -> the call object."""
    body = dict(trigger)
    body.update(action_json(action))
    if args:
        body["args"] = list(args)
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    return (yield Req("POST", "/v1/calls", body))


def op_create_future(name: Optional[str], timeout: Optional[float]) -> Op:
    body: Dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if timeout is not None:
        body["timeout"] = timeout
    return (yield Req("POST", "/v1/futures", body))


def op_get(fid: str) -> Op:
    return (yield Req("GET", "/v1/futures/" + _check_id(fid)))


def op_await(fid: str, timeout: Optional[float], max_hold: float) -> Op:
    """Long-poll until the future is done -> its object; raises
    asyncio.TimeoutError once timeout seconds passed (None: never)."""
    _check_id(fid)
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        hold = max_hold
        if deadline is not None:
            hold = max(0.0, min(max_hold, deadline - time.monotonic()))
        obj = yield Req("GET", "/v1/futures/%s?wait=%s" % (fid, _seconds(hold)),
                        hold=hold)
        if is_done(obj):
            return obj
        if deadline is not None and time.monotonic() >= deadline:
            raise asyncio.TimeoutError()


def op_set_result(fid: str, value: Any) -> Op:
    return (yield Req("POST", "/v1/futures/%s/result" % _check_id(fid),
                      {"result": value}))


def op_set_exception(fid: str, exc: Any) -> Op:
    return (yield Req("POST", "/v1/futures/%s/exception" % _check_id(fid),
                      exception_json(exc)))


def op_cancel(fid: str) -> Op:
    """Cancel: DELETE /v1/calls/ID for a call (a running action is
    stopped), POST /v1/futures/ID/cancel for a future -> bool."""
    _check_id(fid)
    if fid.startswith("c_"):
        r = yield Req("DELETE", "/v1/calls/" + fid)
    else:
        r = yield Req("POST", "/v1/futures/%s/cancel" % fid)
    return bool(r.get("cancelled"))


def op_add_callback(fid: str, action: Action, args: Sequence[Any],
                    idempotency_key: Optional[str]) -> Op:
    body = action_json(action)
    if args:
        body["args"] = list(args)
    if idempotency_key is not None:
        body["idempotency_key"] = idempotency_key
    return (yield Req("POST", "/v1/futures/%s/callbacks" % _check_id(fid), body))


def op_remove_callbacks(fid: str, cids: Iterable[str]) -> Op:
    """DELETE each callback -> how many were removed (not yet started)."""
    n = 0
    for cid in cids:
        try:
            r = yield Req("DELETE", "/v1/futures/%s/callbacks/%s"
                          % (_check_id(fid), _check_id(cid)))
        except APIError as e:
            if e.status == 404:
                continue        # forgotten, or not a callback of fid
            raise
        n += int(r.get("removed", 0))
    return n


def op_list_calls(state: Optional[str], phase: Optional[str],
                  name: Optional[str], page_size: int = 1000) -> Op:
    """Every call GET /v1/calls lists with these filters (all pages)."""
    items: List[Dict[str, Any]] = []
    token = ""
    while True:
        q: Dict[str, str] = {"page_size": str(page_size)}
        for k, v in (("state", state), ("phase", phase), ("name", name)):
            if v is not None:
                q[k] = v
        if token:
            q["page_token"] = token
        r = yield Req("GET", "/v1/calls?" + urllib.parse.urlencode(q))
        items += r.get("items", [])
        token = r.get("next_page_token") or ""
        if not token:
            return items


def op_wait(ids: Sequence[str], timeout: Optional[float], return_when: str,
            max_hold: float) -> Op:
    """asyncio.wait, held by the daemon -> (done ids, pending ids)."""
    if return_when not in (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED):
        raise ValueError("Invalid return_when value: %s" % (return_when,))
    if not ids:
        raise ValueError("Set of Tasks/Futures is empty.")
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        hold = max_hold
        if deadline is not None:
            hold = max(0.0, min(max_hold, deadline - time.monotonic()))
        r = yield Req("POST", "/v1/wait", {"futures": list(ids), "timeout": hold,
                                           "return_when": return_when}, hold=hold)
        done, pending = list(r["done"]), list(r["pending"])
        ready = not pending or (return_when == FIRST_COMPLETED and bool(done))
        if not ready and return_when == FIRST_EXCEPTION and done:
            # The reply does not say why it came (an exception, or the
            # hold ran out): look at the done ones.
            for fid in done:
                try:
                    obj = yield Req("GET", "/v1/futures/" + fid)
                except APIError as e:
                    if e.status == 404:
                        continue
                    raise
                if obj.get("state") == "finished" and "exception" in obj:
                    ready = True
                    break
        if ready or (deadline is not None and time.monotonic() >= deadline):
            return done, pending


def _classify(fid: str, entry: Any) -> Op:
    """A gather entry shaped like an exception: ask the future whether it
    really is one -> the value to put in place (a result, a RemoteError or
    an asyncio.CancelledError)."""
    try:
        obj = yield Req("GET", "/v1/futures/" + fid)
    except APIError as e:
        if e.status == 404:     # forgotten (retention): as the daemon says
            return RemoteError.from_json(entry, fid)
        raise
    if obj.get("state") == "cancelled":
        return asyncio.CancelledError()
    if "exception" in obj:
        return RemoteError.from_json(obj["exception"], fid)
    return obj.get("result", entry)


def op_gather(ids: Sequence[str], return_exceptions: bool,
              timeout: Optional[float], max_hold: float) -> Op:
    """asyncio.gather, held by the daemon -> the results in order; the
    first exception raised (return_exceptions false) or returned in place.
    asyncio.TimeoutError once timeout seconds passed (None: never)."""
    if not ids:
        return []
    deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
    while True:
        hold = max_hold
        if deadline is not None:
            hold = max(0.0, min(max_hold, deadline - time.monotonic()))
        r = yield Req("POST", "/v1/gather",
                      {"futures": list(ids), "timeout": hold,
                       "return_exceptions": bool(return_exceptions)}, hold=hold)
        if r.get("timed_out"):
            if deadline is not None and time.monotonic() >= deadline:
                raise asyncio.TimeoutError()
            continue
        if "exception" in r:
            # The reply names the future: a cancelled one is CancelledError,
            # but a client may have set an exception of that name.
            exc = r["exception"]
            fid = r.get("future")
            if exc.get("type") == "CancelledError" and fid:
                v = yield from _classify(fid, exc)
                if isinstance(v, BaseException):
                    raise v
            raise RemoteError.from_json(exc, fid)
        results = list(r["results"])
        # With return_exceptions the daemon puts exception objects in
        # place, in the same shape a result could have: ask those futures.
        if return_exceptions:
            for i, entry in enumerate(results):
                if looks_like_exception(entry):
                    results[i] = yield from _classify(ids[i], entry)
        return results


# -- schedules ----------------------------------------------------------------

def _check_schedule_id(sid: str) -> str:
    if not isinstance(sid, str) or len(sid) != 18 or not sid.startswith("s_"):
        raise ValueError("not a loopd schedule id: %r" % (sid,))
    return sid


def _time_value(name: str, v: Any) -> Any:
    """start/end/from/to: a datetime (naive: local time), Unix seconds or
    RFC 3339 text, as the wire takes it."""
    if isinstance(v, datetime.datetime):
        return v.timestamp()
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("%s: expected Unix seconds, RFC 3339 text or a "
                        "datetime, got %s" % (name, type(v).__name__))
    return float(v)


def _seconds_value(name: str, v: Any) -> Any:
    """every/jitter/catchup_window: seconds, a timedelta, or (every) text."""
    if isinstance(v, datetime.timedelta):
        return v.total_seconds()
    if isinstance(v, str) and name == "every":
        return v
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError("%s: expected seconds or a timedelta, got %s"
                        % (name, type(v).__name__))
    return v


SCHEDULE_SPECS = ("every", "cron", "calendar")
SCHEDULE_FIELDS = ("tz", "start", "end", "count", "catchup", "catchup_window",
                   "overlap", "jitter", "pause_on_failure", "name")


def schedule_fields(fields: Mapping[str, Any], patch: bool) -> Dict[str, Any]:
    """The body members for a schedule's spec and policies; with patch a
    None value is sent as null (removes it), else it is left out."""
    out: Dict[str, Any] = {}
    for k, v in fields.items():
        if k not in SCHEDULE_SPECS + SCHEDULE_FIELDS:
            raise TypeError("unknown schedule field: %r" % (k,))
        if v is None:
            if patch:
                out[k] = None
            continue
        if k in ("start", "end"):
            v = _time_value(k, v)
        elif k in ("every", "jitter", "catchup_window"):
            v = _seconds_value(k, v)
        out[k] = v
    return out


def schedule_body(action: Action, args: Sequence[Any],
                  fields: Mapping[str, Any]) -> Dict[str, Any]:
    """The body of POST /v1/schedules: one spec, one action."""
    specs = [k for k in SCHEDULE_SPECS if fields.get(k) is not None]
    if len(specs) != 1:
        raise TypeError("schedule: give exactly one of every=, cron=, "
                        "calendar= (got %s)" % (", ".join(specs) or "none"))
    body = action_json(action)
    if args:
        body["args"] = list(args)
    body.update(schedule_fields(fields, False))
    return body


def op_create_schedule(body: Mapping[str, Any]) -> Op:
    """POST /v1/schedules -> the schedule object."""
    return (yield Req("POST", "/v1/schedules", dict(body)))


def op_get_schedule(sid: str) -> Op:
    return (yield Req("GET", "/v1/schedules/" + _check_schedule_id(sid)))


def op_patch_schedule(sid: str, body: Mapping[str, Any]) -> Op:
    """PATCH /v1/schedules/ID -> the schedule object."""
    return (yield Req("PATCH", "/v1/schedules/" + _check_schedule_id(sid),
                      dict(body)))


def op_delete_schedule(sid: str) -> Op:
    """DELETE -> the schedule object as it was, state "deleted"."""
    return (yield Req("DELETE", "/v1/schedules/" + _check_schedule_id(sid)))


def op_schedule_verb(sid: str, verb: str) -> Op:
    """POST /v1/schedules/ID/{pause,resume,trigger}."""
    assert verb in ("pause", "resume", "trigger")
    return (yield Req("POST", "/v1/schedules/%s/%s"
                      % (_check_schedule_id(sid), verb), {}))


def op_backfill(sid: str, frm: Any, to: Any) -> Op:
    """POST .../backfill -> {"backfilled": N, "schedule": {...}}."""
    return (yield Req("POST", "/v1/schedules/%s/backfill" % _check_schedule_id(sid),
                      {"from": _time_value("from", frm),
                       "to": _time_value("to", to)}))


def op_list_schedules(state: Optional[str], name: Optional[str],
                      page_size: int = 1000) -> Op:
    """Every schedule GET /v1/schedules lists with these filters (all pages)."""
    items: List[Dict[str, Any]] = []
    token = ""
    while True:
        q: Dict[str, str] = {"page_size": str(page_size)}
        for k, v in (("state", state), ("name", name)):
            if v is not None:
                q[k] = v
        if token:
            q["page_token"] = token
        r = yield Req("GET", "/v1/schedules?" + urllib.parse.urlencode(q))
        items += r.get("items", [])
        token = r.get("next_page_token") or ""
        if not token:
            return items


__all__ = ["Req", "Op", "outcome", "exception_of", "is_done", "when_unix",
           "FIRST_COMPLETED", "FIRST_EXCEPTION", "ALL_COMPLETED"]
