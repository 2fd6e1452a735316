"""Scoped tokens (issue 13): a tokens file of SHA-256 hashes, each token
with scopes; every route allows and refuses each scope as its table entry
says (403 naming the scope it needs); the file holds no token; a reload
picks it up; each token has its own share of max_pending."""

import hashlib
import os
import secrets
import shutil
import signal
import stat
import tempfile
import unittest

from harness import Daemon, assert_problem, run_loopd, sh

SCOPES = ["read", "futures", "calls-webhook", "calls-command", "admin", "metrics"]

FID = "f_00000000000000ff"
CID = "c_00000000000000ff"
WEBHOOK = {"after": 3600, "webhook": {"url": "http://127.0.0.1:9/"}}
COMMAND = {"after": 3600, "command": sh("true")}

# (method, path, body, the scopes of which a token needs one)
ROUTES = [
    ("GET", "/v1/time", None, {"read"}),
    ("GET", "/v1/calls", None, {"read"}),
    ("GET", "/v1/calls/" + CID, None, {"read"}),
    ("GET", "/v1/futures/" + FID, None, {"read"}),
    ("POST", "/v1/wait", {"ids": [FID], "timeout": 0}, {"read"}),
    ("POST", "/v1/gather", {"ids": [FID], "timeout": 0}, {"read"}),
    ("GET", "/metrics", None, {"read", "metrics"}),
    ("POST", "/v1/futures", {}, {"futures"}),
    ("POST", "/v1/futures/%s/result" % FID, {"result": 1}, {"futures"}),
    ("POST", "/v1/futures/%s/exception" % FID, {"type": "E", "message": "m"},
     {"futures"}),
    ("POST", "/v1/futures/%s/cancel" % FID, {}, {"futures"}),
    ("POST", "/v1/calls", WEBHOOK, {"calls-webhook"}),
    ("POST", "/v1/calls", COMMAND, {"calls-command"}),
    ("DELETE", "/v1/calls/" + CID, None, {"calls-webhook", "calls-command"}),
    ("POST", "/v1/futures/%s/callbacks" % FID, {"command": sh("true")},
     {"calls-webhook", "calls-command"}),
    ("DELETE", "/v1/futures/%s/callbacks/%s" % (FID, CID), None,
     {"calls-webhook", "calls-command"}),
]


def entry(name, token, scopes):
    return "%s sha256:%s %s\n" % (name, hashlib.sha256(token.encode()).hexdigest(),
                                  scopes)


class ScopedTokensTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tokens = {s: secrets.token_hex(32) for s in SCOPES}
        cls.d = Daemon(config="# tokens_file below\n")
        path = cls.d.path("tokens")
        with open(path, "w") as f:
            f.write("# name hash scopes\n\n")
            for s, t in cls.tokens.items():
                f.write(entry("t-" + s, t, s))
        os.chmod(path, 0o600)
        cls.d.opts["tokens_file"] = path
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.close()

    def req(self, scope, method, path, body=None):
        h = {"Authorization": "Bearer " + self.tokens[scope]}
        return self.d.request(method, path, body=body, headers=h, auth=False)

    def test_each_scope_on_each_route(self):
        for method, path, body, need in ROUTES:
            for scope in SCOPES:
                r = self.req(scope, method, path, body)
                allowed = scope == "admin" or scope in need or (
                    path == "/metrics" and scope == "read")
                where = "%s %s with %s: %r" % (method, path, scope, r.body)
                if allowed:
                    self.assertNotIn(r.status, (401, 403), where)
                else:
                    assert_problem(self, r, 403, "Forbidden")
                    detail = r.body["detail"]
                    self.assertIn('"t-%s"' % scope, detail, where)
                    for n in need:
                        self.assertIn(n, detail, where)
            # The default token keeps every scope.
            r = self.d.request(method, path, body=body)
            self.assertNotIn(r.status, (401, 403), "%s %s: %r" % (method, path, r.body))

    def test_open_routes_and_no_token(self):
        for path in ["/healthz", "/openapi.json"]:
            self.assertEqual(self.d.request("GET", path, auth=False).status, 200)
        for method, path, body, _ in ROUTES:
            assert_problem(self, self.d.request(method, path, body=body, auth=False), 401)
            assert_problem(self, self.d.request(method, path, body=body, auth=False,
                           headers={"Authorization": "Bearer " + "0" * 64}), 401)

    def test_a_read_token_sees_what_others_made(self):
        c = self.d.schedule(COMMAND)
        r = self.req("read", "GET", "/v1/calls/" + c["id"])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body["id"], c["id"])
        self.assertEqual(self.req("read", "DELETE", "/v1/calls/" + c["id"]).status, 403)
        self.assertEqual(self.req("calls-command", "DELETE", "/v1/calls/" + c["id"]).status,
                         200)

    def test_the_file_holds_hashes_not_tokens(self):
        with open(self.d.path("tokens")) as f:
            text = f.read()
        for t in self.tokens.values():
            self.assertNotIn(t, text)
            self.assertIn(hashlib.sha256(t.encode()).hexdigest(), text)
        self.assertNotIn(self.tokens["read"], self.d.log())


class TokenFileTest(unittest.TestCase):

    def test_token_add_then_reload(self):
        with Daemon(config="# tokens_file below\n") as d:
            path = d.path("tokens")
            with open(d.config_path, "a") as f:
                f.write("tokens_file = %s\n" % path)
            r = run_loopd(["-c", d.config_path, "-s", d.state_dir,
                           "token", "add", "console", "read"])
            self.assertEqual(r.returncode, 0, r.stderr)
            token = r.stdout.strip()
            self.assertRegex(token, "^[0-9a-f]{64}$")
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as f:
                text = f.read()
            self.assertNotIn(token, text)
            self.assertEqual(text, "console sha256:%s read\n"
                             % hashlib.sha256(token.encode()).hexdigest())
            h = {"Authorization": "Bearer " + token}
            # Not known until a reload picks the file up.
            self.assertEqual(d.request("GET", "/v1/time", headers=h, auth=False).status,
                             401)
            d.proc.send_signal(signal.SIGHUP)
            d.wait_until(lambda: d.request("GET", "/v1/time", headers=h,
                                           auth=False).status == 200,
                         timeout=5, what="the new token to be accepted")
            assert_problem(self, d.request("POST", "/v1/futures", {}, headers=h,
                                           auth=False), 403, detail_has="futures")
            # A broken file on reload keeps the tokens in force.
            with open(path, "a") as f:
                f.write("broken sha256:xyz read\n")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_until(lambda: "keeping the running" in d.log(), timeout=5,
                         what="the reload to be refused")
            self.assertIn("%s:2: hash" % path, d.log())
            self.assertEqual(d.request("GET", "/v1/time", headers=h, auth=False).status,
                             200)
            # Removing the line takes the token away on the next reload.
            with open(path, "w") as f:
                f.write("# none\n")
            d.proc.send_signal(signal.SIGHUP)
            d.wait_until(lambda: d.request("GET", "/v1/time", headers=h,
                                           auth=False).status == 401,
                         timeout=5, what="the removed token to be refused")
            self.assertEqual(d.request("GET", "/v1/time").status, 200)

    def test_token_add_refuses_bad_input(self):
        with Daemon() as d:
            r = run_loopd(["-s", d.state_dir, "-o", "tokens_file=" + d.path("t"),
                           "token", "add", "x", "reed"])
            self.assertEqual(r.returncode, 2)
            self.assertIn('unknown scope "reed"', r.stderr)
            r = run_loopd(["-s", d.state_dir, "token", "add", "x", "read"])
            self.assertEqual(r.returncode, 1)
            self.assertIn("tokens_file", r.stderr)
            self.assertFalse(os.path.exists(d.path("t")))

    def test_a_bad_file_stops_start_with_file_and_line(self):
        d = Daemon(opts={"tokens_file": "/nonexistent"})
        path = d.path("tokens")
        with open(path, "w") as f:
            f.write("ok sha256:%s read\nplain %s read\nok sha256:%s nope\n"
                    % ("a" * 64, "b" * 64, "c" * 64))
        d.opts["tokens_file"] = path
        try:
            with self.assertRaises(Exception):
                d.start()
            log = d.log()
            self.assertIn("%s:2: hash" % path, log)
            self.assertIn('%s:3: unknown scope "nope"' % path, log)
        finally:
            d.close(check=False)

    def test_config_check_reads_the_tokens_file(self):
        # loopd -n checks tokens_file as start would: every error with its
        # line, exit 1; a good file passes; a missing one is an error.
        tmp = tempfile.mkdtemp(prefix="loopd-tokcheck-")
        self.addCleanup(shutil.rmtree, tmp, True)
        path = os.path.join(tmp, "tokens")
        with open(path, "w") as f:
            f.write("# name hash scopes\n\n"
                    "ok sha256:%s read\n"
                    "plain %s read\n"
                    "ok sha256:%s read\n"
                    "bad sha256:%s nope\n"
                    "default sha256:%s admin\n"
                    "too many fields here\n"
                    % ("a" * 64, "b" * 64, "c" * 64, "d" * 64, "e" * 64))
        p = run_loopd(["-n", "-s", tmp, "-o", "tokens_file=" + path])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertNotIn("configuration OK", p.stdout)
        for line, what in ((4, "hash"), (5, "name ok is given twice"),
                           (6, 'unknown scope "nope"'), (7, "name default is given twice"),
                           (8, "expected NAME")):
            self.assertIn("%s:%d: %s" % (path, line, what), p.stderr)
        self.assertNotIn("%s:3:" % path, p.stderr)
        with open(path, "w") as f:
            f.write(entry("ops", "x" * 32, "read,admin") + entry("mon", "y" * 32, "metrics"))
        p = run_loopd(["-n", "-s", tmp, "-o", "tokens_file=" + path])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration OK", p.stdout)
        p = run_loopd(["-n", "-s", tmp, "-o", "tokens_file=" + path + ".missing"])
        self.assertEqual(p.returncode, 1)
        self.assertIn(path + ".missing", p.stderr)


class PerTokenQuotaTest(unittest.TestCase):

    def test_each_token_has_its_share_of_max_pending(self):
        a, b = secrets.token_hex(32), secrets.token_hex(32)
        d = Daemon(opts={"max_pending_per_token": 3})
        path = d.path("tokens")
        with open(path, "w") as f:
            f.write(entry("a", a, "futures") + entry("b", b, "futures,calls-command"))
        d.opts["tokens_file"] = path
        with d:
            ha = {"Authorization": "Bearer " + a}
            hb = {"Authorization": "Bearer " + b}
            made = [d.request("POST", "/v1/futures", {}, headers=ha, auth=False)
                    for _ in range(3)]
            self.assertEqual([r.status for r in made], [201] * 3)
            r = d.request("POST", "/v1/futures", {}, headers=ha, auth=False)
            assert_problem(self, r, 429, detail_has="max_pending_per_token = 3")
            # Another token, and the default one, are not held back by a.
            self.assertEqual(d.request("POST", "/v1/futures", {}, headers=hb,
                                       auth=False).status, 201)
            self.assertEqual(d.request("POST", "/v1/calls", COMMAND, headers=hb,
                                       auth=False).status, 201)
            for _ in range(5):
                self.assertEqual(d.request("POST", "/v1/futures", {}).status, 201)
            # Done objects leave the share.
            fid = made[0].body["id"]
            self.assertEqual(d.request("POST", "/v1/futures/%s/result" % fid,
                                       {"result": 1}, headers=ha, auth=False).status, 200)
            self.assertEqual(d.request("POST", "/v1/futures", {}, headers=ha,
                                       auth=False).status, 201)
            assert_problem(self, d.request("POST", "/v1/futures", {}, headers=ha,
                                           auth=False), 429)


if __name__ == "__main__":
    unittest.main()
