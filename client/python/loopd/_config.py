"""
Finding the daemon the way loopctl does.

URL: the url argument, else LOOP_URL, else http://127.0.0.1:7700.
"unix:/path" talks HTTP over a Unix socket (no token needed there).
Token: the token argument, the token_file argument, LOOP_TOKEN,
LOOP_TOKEN_FILE, then STATE_DIR/token where STATE_DIR is loopd's default
($STATE_DIRECTORY, /var/lib/loopd for root, $XDG_STATE_HOME/loopd,
~/.local/state/loopd). A token file that cannot be read leaves no token;
the note saying why is added to a 401's message, as loopctl does.
TLS: an https URL is checked against cafile, else LOOP_CACERT, else the
system's CAs; or pass an ssl.SSLContext.
"""
import os
import ssl
import urllib.parse
from typing import Dict, Optional

DEFAULT_URL = "http://127.0.0.1:7700"


def state_dir() -> Optional[str]:
    """loopd's default state directory, as proto/defaults.c finds it."""
    v = os.environ.get("STATE_DIRECTORY", "")
    if v:
        return v.split(":", 1)[0]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "/var/lib/loopd"
    v = os.environ.get("XDG_STATE_HOME", "")
    if v.startswith("/"):
        return os.path.join(v, "loopd")
    v = os.environ.get("HOME", "")
    if v.startswith("/"):
        return os.path.join(v, ".local", "state", "loopd")
    return None


def _read_token(path: str) -> str:
    """The token in path, trailing white space stripped; raises OSError."""
    with open(path, "r", encoding="utf-8") as f:
        text = f.read(4096).rstrip()
    if not text:
        raise OSError("the file is empty")
    return text


class Endpoint:
    """Where the daemon is and how to reach it (no connection yet)."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None,
                 token_file: Optional[str] = None, cafile: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.url = (url or os.environ.get("LOOP_URL") or DEFAULT_URL).rstrip("/")
        self.unix_path: Optional[str] = None
        self.scheme = "http"
        self.host = "localhost"
        self.port = 80
        self.base = ""
        if self.url.startswith("unix:"):
            self.unix_path = self.url[5:]
            if not self.unix_path:
                raise ValueError("url: unix: needs a socket path")
        else:
            u = urllib.parse.urlsplit(self.url)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise ValueError("url: expected http://HOST:PORT, https://... "
                                 "or unix:/PATH, got %r" % self.url)
            self.scheme = u.scheme
            self.host = u.hostname
            self.port = u.port or (443 if u.scheme == "https" else 80)
            self.base = u.path.rstrip("/")
        self.host_header = self.host if self.unix_path is None else "localhost"
        if self.unix_path is None and ":" in self.host:
            self.host_header = "[%s]" % self.host
        if self.unix_path is None and self.port not in (80, 443):
            self.host_header += ":%d" % self.port
        self.cafile = cafile or os.environ.get("LOOP_CACERT") or None
        self.ssl_context: Optional[ssl.SSLContext] = None
        if self.scheme == "https":
            self.ssl_context = ssl_context or ssl.create_default_context(
                cafile=self.cafile)
        self.token_file: Optional[str] = None
        self.token_note = ""
        self.token = self._find_token(token, token_file)

    def _find_token(self, token: Optional[str],
                    token_file: Optional[str]) -> Optional[str]:
        if token:
            self.token_note = "the token was passed in"
            return token
        env_token = os.environ.get("LOOP_TOKEN", "")
        env_file = os.environ.get("LOOP_TOKEN_FILE", "")
        if token_file:
            source, path = "token_file", token_file
        elif env_token:
            self.token_note = "the token came from LOOP_TOKEN"
            return env_token
        elif env_file:
            source, path = "LOOP_TOKEN_FILE", env_file
        else:
            d = state_dir()
            if d is None:
                self.token_note = "no token: no state directory is known"
                return None
            source, path = "the default", os.path.join(d, "token")
        try:
            value = _read_token(path)
        except (OSError, UnicodeDecodeError) as e:
            self.token_note = "no token: %s %s: %s" % (
                source, path, getattr(e, "strerror", None) or e)
            return None
        self.token_file = os.path.abspath(path)
        self.token_note = "the token came from %s %s" % (source, path)
        return value

    def child_env(self) -> Dict[str, str]:
        """Environment variables that lead a child process (loopctl, or
        this package) to the same daemon; the token travels as a file
        name when it came from one."""
        env = {"LOOP_URL": self.url}
        if self.token_file:
            env["LOOP_TOKEN_FILE"] = self.token_file
        elif self.token:
            env["LOOP_TOKEN"] = self.token
        if self.cafile:
            env["LOOP_CACERT"] = os.path.abspath(self.cafile)
        return env
