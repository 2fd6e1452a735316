"""
Issue 13: the command policy covers everything a command is made of, not
only argv[0]: the environment (loader variables refused, LOOP_* loopd's
own), the program resolved to an absolute path when the call is accepted,
the working directory (command_cwd_allow), sizes, resource limits and a
timeout cap. Each finding of the issue is reproduced here.
"""
import json
import os
import shutil
import signal
import stat
import tempfile
import unittest

from harness import Daemon, DaemonTestCase, assert_problem, run_loopd, sh


def write_tool(d, name, text):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)
    return path


class EnvDefaultsTest(DaemonTestCase):
    """The default configuration: any program, but no loader variables."""

    def refused(self, env, name):
        r = self.d.request("POST", "/v1/calls", {
            "soon": True, "command": {"argv": ["/bin/echo", "x"], "env": env}})
        assert_problem(self, r, 403, "Forbidden", "command.env." + name)
        return r

    def test_loader_variables_are_refused(self):
        for name in ("LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH",
                     "PYTHONPATH", "PYTHONSTARTUP", "PERL5OPT", "BASH_ENV",
                     "NODE_OPTIONS", "GLIBC_TUNABLES"):
            with self.subTest(name=name):
                self.refused({name: "/tmp/x"}, name)

    def test_exported_bash_function_is_refused(self):
        # bash imports BASH_FUNC_echo%% as a function named echo: code
        # with no file at all, run by any allowed bash script.
        self.refused({"BASH_FUNC_echo%%": "() { id; }"}, "BASH_FUNC_echo%%")

    def test_odd_names_are_refused(self):
        for name in ("A-B", "1X", "A B", "X%%"):
            with self.subTest(name=name):
                self.refused({name: "v"}, name)

    def test_loop_variables_cannot_be_given(self):
        self.refused({"LOOP_CALL_ID": "c_0000000000000001"}, "LOOP_CALL_ID")
        self.refused({"LOOP_FUTURE_STATE": "finished"}, "LOOP_FUTURE_STATE")
        # loopctl's own variables are the caller's to give.
        c = self.d.schedule({"soon": True, "command": sh(
            'printf "%s" "$LOOP_URL"', env={"LOOP_URL": "http://x"})})
        self.assertEqual(self.d.wait_done(c["id"])["result"]["stdout"], "http://x")

    def test_command_sees_its_own_call_id(self):
        c = self.d.schedule({"soon": True, "command": sh(
            'printf "%s" "$LOOP_CALL_ID"', env={"FOO": "bar"})})
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["result"]["stdout"], c["id"])

    def test_ordinary_variables_pass(self):
        c = self.d.schedule({"soon": True, "command": sh(
            'printf "%s %s" "$FOO" "$PATH"', env={"FOO": "bar", "PATH": "/usr/bin:/bin"})})
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["result"]["stdout"], "bar /usr/bin:/bin")


class EnvConfigTest(DaemonTestCase):
    opts = {"command_env_allow": "FOO, APP_*", "command_env_deny": "APP_SECRET"}

    def test_allow_list(self):
        r = self.d.request("POST", "/v1/calls", {
            "soon": True, "command": {"argv": ["true"], "env": {"BAR": "1"}}})
        assert_problem(self, r, 403, "Forbidden", "command.env.BAR")
        r = self.d.request("POST", "/v1/calls", {
            "soon": True, "command": {"argv": ["true"], "env": {"APP_SECRET": "1"}}})
        assert_problem(self, r, 403, "Forbidden", "command.env.APP_SECRET")
        c = self.d.schedule({"soon": True, "command": sh(
            'printf "%s%s" "$FOO" "$APP_X"', env={"FOO": "a", "APP_X": "b"})})
        self.assertEqual(self.d.wait_done(c["id"])["result"]["stdout"], "ab")

    def test_replaced_deny_list_still_keeps_loop_variables(self):
        r = self.d.request("POST", "/v1/calls", {
            "soon": True, "command": {"argv": ["true"], "env": {"LOOP_CALL_ID": "x"}}})
        assert_problem(self, r, 403, "Forbidden", "command.env.LOOP_CALL_ID")


class ProgramTest(unittest.TestCase):
    """command_allow: programs resolved to an absolute path at acceptance."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loopd-cmdpolicy-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.good = os.path.join(self.tmp, "good")
        self.evil = os.path.join(self.tmp, "evil")
        os.mkdir(self.good)
        os.mkdir(self.evil)
        write_tool(self.good, "tool", "#!/bin/sh\necho good tool\n")
        write_tool(self.evil, "tool", "#!/bin/sh\necho evil tool\n")

    def test_bare_name_is_resolved_and_stored_absolute(self):
        with Daemon(opts={"command_allow": "/bin/echo, true"}) as d:
            c = d.schedule({"soon": True, "command": {"argv": ["echo", "hi"]}})
            self.assertTrue(c["command"]["argv"][0].startswith("/"), c)
            self.assertTrue(c["command"]["argv"][0].endswith("/echo"), c)
            done = d.wait_done(c["id"])
            self.assertEqual(done["result"]["stdout"], "hi\n")
            c = d.schedule({"soon": True, "command": {"argv": ["true"]}})
            self.assertTrue(os.path.isabs(c["command"]["argv"][0]), c)
            self.assertEqual(d.wait_done(c["id"])["state"], "finished")

    def test_relative_program_needs_a_fixed_directory(self):
        # The finding: an allowed ./tool with a client-chosen cwd ran any
        # file named tool.
        with Daemon(opts={"command_allow": "./tool"}) as d:
            r = d.request("POST", "/v1/calls", {"soon": True, "command": {
                "argv": ["./tool"], "cwd": self.evil}})
            assert_problem(self, r, 403, "Forbidden", "command.argv[0]")
            self.assertEqual(d.call_ids(), [])

    def test_relative_program_inside_the_allowed_directories(self):
        with Daemon(opts={"command_allow": "./tool",
                          "command_cwd_allow": self.good}) as d:
            r = d.request("POST", "/v1/calls", {"soon": True, "command": {
                "argv": ["./tool"], "cwd": self.evil}})
            assert_problem(self, r, 403, "Forbidden", "command.cwd")
            r = d.request("POST", "/v1/calls", {"soon": True, "command": {
                "argv": ["./tool"], "cwd": self.good + "/../evil"}})
            assert_problem(self, r, 403, "Forbidden", "command.cwd")
            r = d.request("POST", "/v1/calls", {"soon": True, "command": {
                "argv": ["./tool"]}})
            assert_problem(self, r, 403, "Forbidden", "command.argv[0]")
            c = d.schedule({"soon": True, "command": {"argv": ["./tool"],
                                                       "cwd": self.good}})
            self.assertEqual(c["command"]["argv"][0],
                             os.path.join(self.good, "tool"))
            self.assertEqual(d.wait_done(c["id"])["result"]["stdout"],
                             "good tool\n")

    def test_cwd_allow_without_command_allow(self):
        with Daemon(opts={"command_cwd_allow": self.good}) as d:
            r = d.request("POST", "/v1/calls", {"soon": True, "command": {
                "argv": ["true"], "cwd": "/"}})
            assert_problem(self, r, 403, "Forbidden", "command.cwd")
            c = d.schedule({"soon": True, "command": sh("pwd", cwd=self.good)})
            self.assertEqual(d.wait_done(c["id"])["result"]["stdout"],
                             self.good + "\n")

    def test_not_plain_absolute_path_is_refused(self):
        with Daemon(opts={"command_allow": "/bin/echo"}) as d:
            for argv0 in ("/bin/./echo", "//bin/echo", "/usr/../bin/echo"):
                with self.subTest(argv0=argv0):
                    r = d.request("POST", "/v1/calls", {"soon": True, "command": {
                        "argv": [argv0]}})
                    assert_problem(self, r, 403, "Forbidden", "command.argv[0]")


class LimitsTest(DaemonTestCase):
    opts = {"command_max_argv": "1K", "command_max_env": "1K",
            "command_max_stdin": "1K", "command_max_timeout": "1s",
            "command_rlimits": "nofile=64, core=0"}

    def test_sizes(self):
        for body, field in (
                ({"argv": ["echo", "x" * 2000]}, "command.argv"),
                ({"argv": ["echo"], "env": {"A": "x" * 2000}}, "command.env"),
                ({"argv": ["cat"], "stdin": "x" * 2000}, "command.stdin")):
            with self.subTest(field=field):
                r = self.d.request("POST", "/v1/calls", {"soon": True, "command": body})
                assert_problem(self, r, 400, "BadRequest", field)
        r = self.d.request("POST", "/v1/calls", {"soon": True, "command": {
            "argv": ["echo"]}, "args": ["x" * 2000]})
        assert_problem(self, r, 400, "BadRequest", "args")

    def test_timeout_cap(self):
        c = self.d.schedule({"soon": True, "command": {"argv": ["sleep", "30"]}})
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["exception"]["type"], "TimeoutError", done)
        c = self.d.schedule({"soon": True, "command": {"argv": ["sleep", "30"],
                                                        "timeout": 60}})
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["exception"]["type"], "TimeoutError", done)

    def test_rlimits(self):
        c = self.d.schedule({"soon": True, "command": sh(
            "sleep 0.2; ulimit -n; ulimit -Hn; ulimit -c")})
        done = self.d.wait_done(c["id"])
        self.assertEqual(done["result"]["stdout"], "64\n64\n0\n", done)


class ConfigTest(unittest.TestCase):

    def test_bad_values(self):
        tmp = tempfile.mkdtemp(prefix="loopd-cmdconf-")
        self.addCleanup(shutil.rmtree, tmp, True)
        for opt in ("command_rlimits=bogus=1", "command_rlimits=cpu",
                    "command_rlimits=nofile=lots", "command_max_argv=big",
                    "command_max_timeout=soon"):
            with self.subTest(opt=opt):
                p = run_loopd(["-n", "--state-dir", tmp, "-o", opt])
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(opt.split("=")[0], p.stderr)
        p = run_loopd(["-n", "--state-dir", tmp, "-o",
                       "command_rlimits=cpu=10 as=1G nofile=256 nproc=100",
                       "-o", "command_env_allow=FOO,BAR_*",
                       "-o", "command_cwd_allow=/srv,/tmp"])
        self.assertEqual(p.returncode, 0, p.stderr)


class SpawnRetryTest(unittest.TestCase):
    """Issue 13: a spawn that fails for want of file descriptors (EMFILE)
    is tried again with backoff; the acknowledged call is not failed."""

    def test_emfile_at_spawn_is_retried(self):
        import resource
        import time
        with Daemon() as d:
            s = d.session()
            self.assertEqual(s.request("GET", "/healthz", auth=False).status, 200)
            fd_dir = "/proc/%d/fd" % d.proc.pid
            base = len(os.listdir(fd_dir))
            hard = resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE)[1]
            # Room for two running commands (two pipe ends each), not three.
            resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (base + 6, hard))
            sleepers = []
            for _ in range(2):
                r = s.request("POST", "/v1/calls", {"soon": True, "command": {
                    "argv": ["sleep", "1.5"]}})
                self.assertEqual(r.status, 201, r)
                sleepers.append(r.body["id"])
            r = s.request("POST", "/v1/calls", {"soon": True, "command": {
                "argv": ["echo", "ran"]}})
            self.assertEqual(r.status, 201, r)
            cid = r.body["id"]
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                got = s.request("GET", "/v1/calls/%s?wait=5" % cid).body
                if got.get("state") == "finished":
                    break
            self.assertEqual(got.get("state"), "finished", got)
            self.assertEqual(got.get("result", {}).get("stdout"), "ran\n", got)
            self.assertIn("trying again", d.log())
            for sid in sleepers:
                got = s.request("GET", "/v1/calls/%s?wait=5" % sid).body
                self.assertEqual(got["state"], "finished", got)
            resource.prlimit(d.proc.pid, resource.RLIMIT_NOFILE, (hard, hard))
